"""The layout of the public weight-space INR datasets (DWSNets' MNIST and Fashion-MNIST INRs,
neural-graphs', ``fmnist_multiview``): a ``splits.json`` with ``"train"``, ``"val"`` and ``"test"``
lists of paths, each a torch-saved state dict of one SIREN (``seq.0.weight``, ``seq.0.bias``, ...)
with an integer ``label``. Import turns such a tree into this library's shards and manifest, so
that `INRDataset`, training and the protocols run on it unchanged; export writes the reverse.

Paths in ``splits.json`` often point at the machine the dataset was made on. Each is resolved as
the reference loaders do, relative to the JSON's folder: an absolute path that does not exist here
is tried by its trailing components (``/home/x/data/mnist/train/3/17.pth`` as
``<folder>/mnist/train/3/17.pth``, ``<folder>/train/3/17.pth``, ...). A multi-view dataset keeps the
view in a path component: ``view_level`` says which (1: the file's folder, ``.../<view>/<file>``;
2: the one above, ``.../<view>/<x>/<file>``); the object is the path without it.

Export writes ``inrs.json`` beside ``splits.json``: what the state dicts alone do not say (activation,
``w0``, the constant added to the output, class names, where the view lies in a path), so import
gives back the same functions; without it import says which defaults it assumed. The export's
layout is what the public loaders read unmodified: every listed path starts with the export
folder's name, and the view is the third component from the end.

Files are read with ``torch.load(..., weights_only=True)`` only: no pickled code runs.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import torch

from ..convert import check_params, params_from_state_dict
from ..spec import NetworkSpec
from .dataset import INRDataset
from .fitting import split_flat
from .shards import layer_stats, load_shard, read_json, read_manifest, write_manifest, write_shard

SPLITS = ("train", "val", "test")
INFO = "inrs.json"  # beside splits.json: what import needs besides the state dicts
MAX_LABEL = 100_000  # labels at or above are refused: a typo or a corrupt file, not a class
# Import's assumptions where an export carries no INFO: the public INR datasets' SIRENs.
DEFAULTS = {"activation": "sine", "w0": 30.0, "output_offset": 0.5}


def resolve(entry: str, folder: Path) -> Path:
    """Where a ``splits.json`` entry lies on this machine; ValueError naming it if nowhere."""
    path = Path(entry)
    candidates = [path] if path.is_absolute() else [folder / path]
    parts = path.parts[1:] if path.is_absolute() else path.parts
    candidates += [folder.joinpath(*parts[k:]) for k in range(len(parts))]
    for c in candidates:
        if c.is_file():
            return c
    raise ValueError(f"{entry}: listed in {folder / 'splits.json'} but not found (tried it relative to that folder)")


def read_inr(path: Path) -> tuple[torch.Tensor, int, tuple[int, ...]]:
    """One public INR file: its flat parameters (this library's order), label and layer sizes."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a pickle payload, a truncated or foreign file
        raise ValueError(f"{path}: not a readable weights-only torch file ({type(e).__name__}: {e})") from None
    if not isinstance(state, dict) or "label" not in state:
        raise ValueError(f"{path}: expected a state dict with 'seq.<k>.weight', 'seq.<k>.bias' and 'label'")
    state = dict(state)
    label = state.pop("label")
    if isinstance(label, torch.Tensor):
        label = label.item() if label.numel() == 1 and not label.is_floating_point() else None
    if not isinstance(label, int) or isinstance(label, bool) or not 0 <= label < MAX_LABEL:
        raise ValueError(f"{path}: label must be an integer in 0..{MAX_LABEL - 1}, got {label!r}")
    for key, value in state.items():  # a silent cast would change the network
        if isinstance(value, torch.Tensor) and (not value.is_floating_point() or value.is_complex()):
            raise ValueError(f"{path}: {key!r} is {value.dtype}, expected real floating-point weights")
    try:
        weights, biases = params_from_state_dict(state)
        check_params(weights, biases)  # the layers chain, the values are finite
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None
    sizes = (weights[0].shape[1],) + tuple(w.shape[0] for w in weights)
    flat = torch.cat([w.reshape(-1) for w in weights] + [b.reshape(-1) for b in biases]).float()
    return flat, label, sizes


def _object_and_view(path: Path, view_level: int | None) -> tuple[str, int]:
    if view_level is None:
        return str(path), 0
    parts = path.parts
    if view_level >= len(parts) or not parts[-1 - view_level].isdigit():
        raise ValueError(f"{path}: view_level={view_level} names no integer path component")
    return str(Path(*parts[:-1 - view_level], *parts[len(parts) - view_level:])), int(parts[-1 - view_level])


def read_info(splits_json: Path) -> dict | None:
    """The export's `INFO` file beside ``splits_json``, or None if there is none."""
    path = splits_json.parent / INFO
    if not path.is_file():
        return None
    return read_json(path, "an INR export description", "nngraph-inr-export")


def import_splits(splits_json: str | Path, out: str | Path, output_offset: float | None = None, w0: float | None = None,
                  num_classes: int | None = None, view_level: int | None = None, shard_size: int = 4096,
                  activation: str | None = None, say=print) -> dict:
    """Convert a ``splits.json`` tree into shards and a manifest in ``out``; returns the manifest.

    ``activation``, ``w0``, ``output_offset`` (the constant the INRs add to their output),
    ``view_level`` (the path component holding the view; see the module docstring) and the class
    names come from the export's `INFO` file where there is one; otherwise, or for those not given,
    the public datasets' `DEFAULTS` (one line through ``say`` lists what was assumed).
    ``num_classes``: default the class names' count, else one more than the largest label. The
    per-layer statistics are computed from the imported training INRs (a shipped ``statistics.pth``
    is not read). Refused: a file listed twice (by resolved path), the same INR in two splits,
    labels outside ``0..num_classes - 1``, weights that are not real floating point.
    """
    splits_json = Path(splits_json)
    try:
        listing = json.loads(splits_json.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{splits_json}: unreadable splits file ({type(e).__name__}: {e})") from None
    if not isinstance(listing, dict) or any(not isinstance(listing.get(s), list) for s in SPLITS):
        raise ValueError(f"{splits_json}: expected an object with 'train', 'val' and 'test' lists of paths")
    info = read_info(splits_json) or {}
    given = {"activation": activation, "w0": w0, "output_offset": output_offset}
    settings = {k: v if v is not None else info.get(k, DEFAULTS[k]) for k, v in given.items()}
    assumed = [f"{k}={DEFAULTS[k]}" for k, v in given.items() if v is None and k not in info]
    if assumed:
        say(f"{splits_json}: no {INFO} beside it says otherwise, so assumed {', '.join(assumed)} (the public "
            "datasets' SIRENs); pass them to change that")
    view_level = view_level if view_level is not None else info.get("view_level")
    classes = info.get("classes")
    if view_level is not None and not (isinstance(view_level, int) and view_level >= 1):
        raise ValueError(f"view_level: expected a positive integer or None, got {view_level!r}")
    if not (isinstance(shard_size, int) and shard_size >= 1):
        raise ValueError(f"shard_size: expected a positive integer, got {shard_size!r}")
    folder, out = splits_json.parent, Path(out)
    sizes_seen = None
    read: dict[str, tuple] = {}
    files: dict[Path, str] = {}  # resolved path -> its entry
    contents: dict[bytes, tuple[str, Path]] = {}  # parameter digest -> (split, path)
    for split in SPLITS:
        rows: dict[str, dict[int, tuple]] = {}  # object -> view -> (params, label)
        for entry in listing[split]:
            path = resolve(str(entry), folder)
            real = path.resolve()
            if real in files:
                raise ValueError(f"{splits_json}: {entry!r} and {files[real]!r} are the same file")
            files[real] = str(entry)
            flat, label, sizes = read_inr(path)
            digest = hashlib.sha256(flat.numpy().tobytes()).digest()
            if digest in contents and contents[digest][0] != split:
                raise ValueError(f"{splits_json}: {path} ({split}) and {contents[digest][1]} ({contents[digest][0]}) "
                                 "hold the same INR: the splits would leak into each other")
            contents.setdefault(digest, (split, path))
            if sizes_seen is None:
                sizes_seen, first = sizes, path
            elif sizes != sizes_seen:
                raise ValueError(f"{path}: a {'-'.join(map(str, sizes))} network, but {first} is "
                                 f"{'-'.join(map(str, sizes_seen))}; a dataset holds one architecture")
            obj, view = _object_and_view(path, view_level)
            if view in rows.setdefault(obj, {}):
                raise ValueError(f"{path}: a second file for view {view} of {obj}")
            rows[obj][view] = (flat, label)
        read[split] = rows
    if sizes_seen is None:
        raise ValueError(f"{splits_json}: lists no INRs")
    spec = NetworkSpec(sizes_seen, settings["activation"], settings["w0"], settings["output_offset"])
    labels_max = max(v[1] for rows in read.values() for views in rows.values() for v in views.values())
    if num_classes is None:
        num_classes = len(classes) if classes else labels_max + 1
    if labels_max >= num_classes:
        raise ValueError(f"num_classes: {num_classes}, but a label is {labels_max}")
    if classes is not None and len(classes) != num_classes:
        raise ValueError(f"num_classes: {num_classes}, but {splits_json.parent / INFO} names {len(classes)} classes")
    out.mkdir(parents=True, exist_ok=True)
    source = hashlib.sha256(json.dumps(listing, sort_keys=True).encode()).hexdigest()
    config_id = f"imported-{source[:16]}"

    shards, views_of = [], {}
    for split in SPLITS:
        objects = sorted(read[split])
        counts = {len(read[split][o]) for o in objects}
        if len(counts) > 1 or any(sorted(read[split][o]) != list(range(len(read[split][o]))) for o in objects):
            odd = next(o for o in objects if sorted(read[split][o]) != sorted(read[split][objects[0]]))
            raise ValueError(f"{splits_json}: {split} objects have different views ({odd} has views "
                             f"{sorted(read[split][odd])}, {objects[0]} has {sorted(read[split][objects[0]])})")
        V = counts.pop() if counts else 1
        views_of[split] = V
        per = max(1, shard_size // V)
        for k, start in enumerate(range(0, len(objects), per)):
            block = objects[start:start + per]
            cells = [read[split][o][v] for v in range(V) for o in block]  # view-major rows
            n = len(cells)
            tensors = {"params": torch.stack([c[0] for c in cells]), "label": torch.tensor([c[1] for c in cells]),
                       "object": torch.arange(start, start + len(block)).repeat(V),
                       "view": torch.arange(V).repeat_interleave(len(block)), "steps": torch.zeros(n, dtype=torch.long),
                       "psnr": torch.full((n,), float("nan")), "loss": torch.full((n,), float("nan"))}
            unit = {"file": f"{split}-{k:05d}.safetensors", "split": split, "start": start,
                    "stop": start + len(block), "views": V}
            digest = write_shard(out / unit["file"], tensors, {"config_id": config_id, "unit": unit,
                                                               "spec": spec.to_dict()})
            shards.append({**unit, "rows": n, "sha256": digest})
    manifest = {"format": "nngraph-inr-dataset", "version": 1, "complete": True, "config_id": config_id,
                "dataset": f"imported:{splits_json}", "source": {"kind": "splits.json", "sha256": source},
                "spec": spec.to_dict(), "views": views_of,
                "splits": {s: {"count": len(read[s]), "objects": sorted(read[s])} for s in SPLITS},
                "classes": list(classes) if classes else [str(c) for c in range(num_classes)],
                "num_classes": num_classes, "shards": shards,
                "stats": layer_stats(spec, [out / e["file"] for e in shards if e["split"] == "train"])}
    write_manifest(out, manifest)
    return manifest


def export_splits(root: str | Path, out: str | Path) -> Path:
    """Write an INR dataset of this library in the public layout, as the public loaders read it:
    ``out/<view>/<split>_<object>/inr.pth`` (a state dict ``seq.<k>.weight``, ``seq.<k>.bias`` and
    ``label``), ``out/splits.json`` listing them as ``<out's name>/<view>/<split>_<object>/inr.pth``,
    and ``out/inrs.json`` (`INFO`: spec, class names, ``view_level`` 2) for import. Returns the
    ``splits.json`` path."""
    root, out = Path(root), Path(out)
    manifest = read_manifest(root)
    spec = NetworkSpec.from_dict(manifest["spec"])
    listing = {s: [] for s in SPLITS}
    for split in SPLITS:
        INRDataset(root, split)  # verifies the split's shards
        for e in (e for e in manifest["shards"] if e["split"] == split):
            rows = load_shard(root / e["file"], keys=("params", "label", "object", "view"))
            weights, biases = split_flat(spec, rows["params"])
            for i in range(len(rows["label"])):
                rel = Path(str(int(rows["view"][i]))) / f"{split}_{int(rows['object'][i])}" / "inr.pth"
                state = {f"seq.{l}.{kind}": t[i].clone() for l, (w, b) in enumerate(zip(weights, biases))
                         for kind, t in (("weight", w), ("bias", b))}
                state["label"] = int(rows["label"][i])
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                torch.save(state, out / rel)
                listing[split].append(f"{out.name}/{rel.as_posix()}")
    info = {"format": "nngraph-inr-export", "version": 1, **{k: v for k, v in spec.to_dict().items()},
            "classes": list(manifest["classes"]), "num_classes": int(manifest["num_classes"]), "view_level": 2}
    (out / INFO).write_text(json.dumps(info, indent=1))
    path = out / "splits.json"
    path.write_text(json.dumps(listing, indent=1))
    return path
