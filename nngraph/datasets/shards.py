"""On-disk layout of an INR dataset: safetensors shards plus one JSON manifest.

A shard holds the INRs of a fixed block of objects of one split, every view of them, rows ordered
view-major (view 0 of all its objects, then view 1, ...), so views ``0..k-1`` are the first rows:

| tensor | dtype, shape |
| --- | --- |
| ``params`` | float32 ``[rows, P]`` (the library's flat order) |
| ``label``, ``object``, ``view``, ``steps`` | int64 ``[rows]`` (``object``: index in the source split) |
| ``psnr``, ``loss`` | float32 ``[rows]`` |

Files are written to a temporary name and moved into place with ``os.replace``, so a shard or manifest
under its final name is always whole; checksums (sha256) in the manifest catch later damage.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

import torch

SHARD_KEYS = {"params": torch.float32, "label": torch.int64, "object": torch.int64, "view": torch.int64,
              "steps": torch.int64, "psnr": torch.float32, "loss": torch.float32}
MANIFEST = "manifest.json"
_META_KEY = "nngraph"
TMP_SUFFIX = ".tmp"


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the new one, never a part."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        os.fchmod(fd, 0o644)  # mkstemp's 0600 would make the dataset private to its builder
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        folder = os.open(path.parent, os.O_RDONLY)  # the rename itself survives a power cut
        try:
            os.fsync(folder)
        finally:
            os.close(folder)
    except OSError as e:  # a full disk, say: name the file, keep what was there
        Path(tmp).unlink(missing_ok=True)
        raise OSError(e.errno, e.strerror or str(e), str(path)) from e
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def remove_temp_files(folder: str | Path, names: list[str]) -> list[Path]:
    """Delete what interrupted writes of the files ``names`` left behind in ``folder`` (only theirs:
    other processes, or the user, may own other hidden files there); returns the removed paths."""
    patterns = [f".{glob.escape(n)}.*{TMP_SUFFIX}" for n in names]
    stale = [p for pattern in patterns for p in Path(folder).glob(pattern) if p.is_file()]
    for p in stale:
        p.unlink()
    return stale


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def write_shard(path: str | Path, tensors: dict[str, torch.Tensor], metadata: dict) -> str:
    """Atomically write one shard with JSON-able ``metadata``; returns its sha256. The same contents
    give the same bytes (the metadata is one sorted JSON string: safetensors writes a metadata map in
    no fixed order)."""
    from safetensors.torch import save

    missing = set(SHARD_KEYS) - set(tensors)
    if missing:
        raise ValueError(f"tensors: missing {sorted(missing)}")
    tensors = {k: tensors[k].detach().to("cpu", SHARD_KEYS[k]).contiguous() for k in SHARD_KEYS}
    # The shard carries a digest of its own tensors, so it can be verified without the manifest.
    metadata = {**metadata, "tensors_sha256": tensors_digest(tensors)}
    data = save(tensors, {_META_KEY: json.dumps(metadata, sort_keys=True)})
    atomic_write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


def tensors_digest(tensors: dict[str, torch.Tensor]) -> str:
    """sha256 of a shard's tensors: their bytes in `SHARD_KEYS` order."""
    h = hashlib.sha256()
    for k in SHARD_KEYS:
        h.update(tensors[k].contiguous().view(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def verify_shard_content(path: str | Path) -> dict:
    """The shard's metadata, after checking its tensors against the digest it carries."""
    meta = read_shard_metadata(path)
    if meta.get("tensors_sha256") != tensors_digest(load_shard(path)):
        raise ValueError(f"{path}: its tensors do not match the digest it carries; the shard is damaged")
    return meta


def read_shard_metadata(path: str | Path) -> dict:
    """The shard's metadata, after a check of its tensors' names and row counts (no data read)."""
    return read_shard_header(path)[0]


def read_shard_header(path: str | Path) -> tuple[dict, int]:
    """The shard's metadata and its number of rows, after a check of its tensors' names and row
    counts (no data read)."""
    from safetensors import safe_open

    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = json.loads((f.metadata() or {}).get(_META_KEY, "{}"))
            shapes = {k: (f.get_slice(k).get_dtype(), f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as e:  # missing, truncated or not safetensors
        raise ValueError(f"{path}: not a readable shard ({type(e).__name__}: {e})") from e
    if set(shapes) != set(SHARD_KEYS):
        raise ValueError(f"{path}: expected tensors {sorted(SHARD_KEYS)}, got {sorted(shapes)}")
    rows = {shape[0] if shape else -1 for _, shape in shapes.values()}
    if len(rows) != 1 or len(shapes["params"][1]) != 2:
        raise ValueError(f"{path}: tensors disagree on the number of rows: { {k: s for k, (_, s) in shapes.items()} }")
    if not isinstance(meta, dict):
        raise ValueError(f"{path}: its metadata is not a JSON object")
    return meta, rows.pop()


def load_shard(path: str | Path, rows: int | None = None, keys=SHARD_KEYS) -> dict[str, torch.Tensor]:
    """The given tensors of a shard (default all), whole or only their first ``rows`` rows."""
    from safetensors import safe_open

    read_shard_metadata(path)
    with safe_open(str(path), framework="pt") as f:
        return {k: (f.get_slice(k)[:rows] if rows is not None else f.get_tensor(k)) for k in keys}


def write_manifest(folder: str | Path, manifest: dict) -> None:
    text = json.dumps(manifest, indent=1)
    # lists of numbers (object indices, per-layer statistics) on one line each
    text = re.sub(r"\[[-+\d\s,.eE]*\]", lambda m: json.dumps(json.loads(m.group())), text)
    atomic_write_bytes(Path(folder) / MANIFEST, (text + "\n").encode())


def read_manifest(folder: str | Path) -> dict:
    """The manifest of an INR dataset folder; ValueError if the folder or manifest is missing or unreadable."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ValueError(f"root: {folder} is not a directory (expected an INR dataset folder)")
    path = folder / MANIFEST
    if not path.is_file():
        raise ValueError(f"root: {folder} has no {MANIFEST} (build it with nngraph.build_inr_dataset)")
    return read_json(path, "an nngraph INR dataset manifest", "nngraph-inr-dataset")


def read_json(path: Path, what: str, format: str | None = None, advice: str = "") -> dict:
    """A JSON object file (with ``"format": format``, if given); ValueError naming the file and
    ``what`` it should have been (with its article: "a run record") otherwise, ``advice`` appended."""
    try:
        record = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: unreadable {what.split(' ', 1)[1]} ({type(e).__name__}: {e}){advice}") from None
    if not isinstance(record, dict) or format is not None and record.get("format") != format:
        raise ValueError(f"{path}: not {what}{advice}")
    return record


def verify_shard(folder: str | Path, entry: dict) -> Path:
    """Check a manifest entry's shard against its recorded sha256; returns its path."""
    path = Path(folder) / entry["file"]
    if not path.is_file():
        raise ValueError(f"{path}: shard listed in the manifest is missing")
    digest = sha256_file(path)
    if digest != entry["sha256"]:
        raise ValueError(f"{path}: checksum mismatch (manifest {entry['sha256'][:12]}..., file {digest[:12]}...); "
                         "the shard is damaged or was replaced: rebuild it by rerunning the build command")
    return path


def layer_stats(spec, shards: list[Path]) -> dict[str, list[float]]:
    """Per-layer mean and standard deviation of the weights and of the biases over all rows of the
    given shards (float64 sums, one shard in memory at a time)."""
    from .fitting import split_flat

    L = spec.num_layers
    sums = torch.zeros(2, L, 3, dtype=torch.float64)  # [weight|bias, layer, (count, sum, sum of squares)]
    for path in shards:
        weights, biases = split_flat(spec, load_shard(path, keys=["params"])["params"].double())
        for kind, layers in enumerate((weights, biases)):
            for l, t in enumerate(layers):
                sums[kind, l] += torch.stack([torch.tensor(float(t.numel()), dtype=torch.float64), t.sum(), t.square().sum()])
    count = sums[..., 0].clamp_min(1)
    mean = sums[..., 1] / count
    std = (sums[..., 2] / count - mean.square()).clamp_min(0).sqrt()
    return {"weight_mean": mean[0].tolist(), "weight_std": std[0].tolist(),
            "bias_mean": mean[1].tolist(), "bias_std": std[1].tolist()}


# What a complete manifest must hold, beyond its format tag.
MANIFEST_KEYS = ("config_id", "spec", "views", "splits", "shards", "classes", "num_classes", "stats")


def check_manifest(folder: str | Path, manifest: dict) -> None:
    """Cross-check a complete manifest against itself and each shard's own metadata (header only, no
    data read): every key present; shard files plain names inside ``folder``, each listed once; per
    split, shards that tile its objects in order with the split's view count; each shard's unit, spec,
    build id and row count as listed. A hand-edited manifest that disagrees is refused, naming what."""
    path = Path(folder) / MANIFEST
    missing = [k for k in MANIFEST_KEYS if k not in manifest]
    if missing:
        raise ValueError(f"{path}: missing {missing}; rebuild the dataset or restore its manifest")
    config_id = manifest["config_id"]
    seen = set()
    for split, views in manifest["views"].items():
        entries = sorted((e for e in manifest["shards"] if e.get("split") == split), key=lambda e: e.get("start", -1))
        count = manifest["splits"].get(split, {}).get("count")
        stop = 0
        for e in entries:
            name = e.get("file")
            if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
                raise ValueError(f"{path}: shard {name!r} is not a file name inside the dataset folder")
            if name in seen:
                raise ValueError(f"{path}: shard {name} is listed twice")
            seen.add(name)
            if e.get("start") != stop or e.get("views") != views or e.get("rows") != (e.get("stop", 0) - stop) * views:
                raise ValueError(f"{path}: {split} shard {name} lists objects {e.get('start')}..{e.get('stop')} "
                                 f"x {e.get('views')} views ({e.get('rows')} rows); expected to start at {stop} "
                                 f"with {views} views: the shard list was edited or is incomplete")
            stop = e["stop"]
            meta, rows = read_shard_header(Path(folder) / name)
            unit = {k: e[k] for k in ("file", "split", "start", "stop", "views")}
            shard_id = meta.get("config_id")
            same_build = shard_id == config_id or (shard_id == "imported" and str(config_id).startswith("imported"))
            for what, ok in (("unit", meta.get("unit") == unit), ("spec", meta.get("spec") == manifest["spec"]),
                             ("build id", same_build), ("row count", rows == e["rows"])):
                if not ok:
                    raise ValueError(f"{path}: its entry for {name} disagrees with the shard's own {what}; "
                                     "the manifest was edited: rebuild or restore it")
        if stop != count:
            raise ValueError(f"{path}: the {split} shards hold {stop} objects, its splits say {count}: "
                             "the shard list was edited or is incomplete")
    unlisted = {e.get("split") for e in manifest["shards"]} - set(manifest["views"])
    if unlisted:
        raise ValueError(f"{path}: shards of splits {sorted(map(str, unlisted))} that its views do not name")


def content_id(manifest: dict) -> str:
    """An id of a dataset's content: its build id and every shard's sha256 (the manifest's checksums,
    which `verify_shard` holds the files to). It changes whenever any INR, label or split does."""
    shards = sorted((e["file"], e["split"], e["rows"], e["sha256"]) for e in manifest["shards"])
    text = json.dumps({"config_id": manifest["config_id"], "shards": shards}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:20]
