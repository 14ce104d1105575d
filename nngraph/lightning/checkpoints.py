"""Checkpoints a run can trust: written atomically beside their final name, read back with
``weights_only=True`` only, and the one to resume from chosen among those that load."""
from __future__ import annotations

import io
import time
from pathlib import Path

import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from ..datasets.shards import TMP_SUFFIX, atomic_write_bytes


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written to a temporary file beside their final name, fsynced and renamed into place
    (Lightning's default stages them in ``$TMPDIR`` and moves them, a copy across filesystems, which a
    full disk or a kill leaves truncated under the final name); read with ``weights_only=True``."""

    def save_checkpoint(self, checkpoint, path, storage_options=None):
        buffer = io.BytesIO()
        torch.save(checkpoint, buffer)
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(path, buffer.getbuffer())

    def load_checkpoint(self, path, map_location=None, weights_only=None):
        return torch.load(path, map_location=map_location or "cpu", weights_only=True)


def loads(path: Path) -> str | None:
    """None if ``path`` is a checkpoint that loads (weights only), else why not."""
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # truncated, foreign, or a pickle payload
        return f"{type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint or "epoch" not in checkpoint:
        return "not a training checkpoint"
    return None


def resume_point(folder: Path, say=print, set_aside: bool = True) -> Path | None:
    """The checkpoint to resume from: ``last.ckpt``, else the latest ``best-epoch=N.ckpt``, whichever
    loads first; one that does not load is set aside (renamed ``*.bad``) with a line saying so.
    ``set_aside=False``: only choose (the other processes of a DDP run, after the first has chosen)."""
    if not folder.is_dir():
        return None
    if set_aside:
        for tmp in folder.glob(".*.ckpt.*" + TMP_SUFFIX):  # a killed save's leftovers (the folder is locked: ours)
            tmp.unlink()
    best = sorted(folder.glob("best-epoch=*.ckpt"), key=lambda p: int(p.stem.split("=")[1]) if
                  p.stem.split("=")[1].isdigit() else -1, reverse=True)
    for path in [folder / "last.ckpt"] * (folder / "last.ckpt").is_file() + best:
        why = loads(path)
        if why is None:
            return path
        if not set_aside:
            continue
        bad = path.with_name(path.name + f".{int(time.time())}.bad")
        path.rename(bad)
        say(f"{path}: does not load ({why}); set aside as {bad.name}")
    return None
