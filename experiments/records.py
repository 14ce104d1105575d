"""What keeps a run folder trustworthy: its JSON records read with errors that name the file, one
process at a time (a lock that dies with its process), checkpoints written atomically beside
themselves and read back with ``weights_only=True``, and the time a run took over all its sessions."""
from __future__ import annotations

import fcntl
import io
import json
import os
import random
import time
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from nngraph.datasets.shards import TMP_SUFFIX, atomic_write_bytes, read_json

LOCK = ".lock"


def read_record(path: Path) -> dict:
    """A run's JSON record (``run.json``, ``result.json``); ValueError naming the file if it is not one."""
    return read_json(path, "a run record", advice="; delete it to redo the run")


def write_record(path: Path, record: dict) -> None:
    atomic_write_bytes(path, json.dumps(record, indent=1, sort_keys=True).encode())


class InUse(ValueError):
    """A run folder another process holds: the run is theirs while they live."""


def lock_folder(out: Path):
    """Hold ``out/.lock`` for the life of this process (the OS releases it when the process dies,
    however it dies); `InUse` naming the holder's pid if another process holds it. Returns the
    open file, which must be kept."""
    out.mkdir(parents=True, exist_ok=True)
    f = open(out / LOCK, "a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.seek(0)
        holder = f.read().strip() or "unknown"
        f.close()
        raise InUse(f"out: {out} is in use by process {holder} (one run per folder at a time)") from None
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()}\n")
    f.flush()
    return f


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


class Stopwatch(L.Callback):
    """Seconds of training over every session of a run: the count travels in the checkpoint, so a
    resumed run adds to what its checkpoint had (time lost after the last checkpoint is not counted)."""

    def __init__(self):
        self.before, self.start = 0.0, time.time()

    @property
    def seconds(self) -> float:
        return self.before + time.time() - self.start

    def state_dict(self) -> dict:
        return {"seconds": self.seconds}

    def load_state_dict(self, state: dict) -> None:
        self.before, self.start = float(state.get("seconds", 0.0)), time.time()


class RandomState(L.Callback):
    """The random streams (torch's, CUDA's, numpy's and Python's) travel in the checkpoint and are put
    back when training resumes, so a resumed run draws the batch order, augmentations and dropout
    masks an uninterrupted one would: on a CPU without loader workers (they are seeded anew on
    resuming) the two are bit-identical. A checkpoint is written at an epoch's end, after its
    validation; the streams go back as the checkpoint loads, before the next epoch's data loader
    draws its seeds (the sanity check in between draws from a copy: Lightning isolates it)."""

    def __init__(self, say=print):
        self.restored, self.say = False, say

    def state_dict(self) -> dict:
        _, keys, *rest = np.random.get_state()  # ('MT19937', keys, position, gauss flag, cached gauss)
        state = {"torch": torch.get_rng_state(), "python": random.getstate(),
                 "numpy_keys": torch.from_numpy(keys.astype(np.int64)), "numpy": tuple(rest)}
        if torch.cuda.is_initialized():
            state["cuda"] = torch.cuda.get_rng_state_all()
        return state

    def load_state_dict(self, state: dict) -> None:
        torch.set_rng_state(state["torch"])
        random.setstate(state["python"])
        np.random.set_state(("MT19937", state["numpy_keys"].numpy().astype(np.uint32), *state["numpy"]))
        if "cuda" in state and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(state["cuda"])
        self.restored = True

    def on_train_start(self, trainer, module) -> None:
        if trainer.ckpt_path is not None and not self.restored and trainer.is_global_zero:
            self.say(f"{trainer.ckpt_path}: carries no random state (an older checkpoint); the resumed run draws "
                     f"other batches than an uninterrupted one would")
