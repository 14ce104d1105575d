"""The layouts of the public weight-space INR datasets, read and written as they are. A
``splits.json`` with ``"train"``, ``"val"`` and ``"test"`` entries, each file a torch-saved state
dict of one SIREN (``seq.0.weight``, ``seq.0.bias``, ...), in either of two forms:

- DWSNets' (``generate_data_splits.py``; neural-graphs trains on the same MNIST and Fashion-MNIST
  files): ``{split: {"path": [...], "label": ["3", ...]}}``, the labels in the JSON (strings: digit
  strings become integers, other names class indices in sorted order), the files without one;
- the augmentation paper's and this library's export: ``{split: [path, ...]}``, an integer ``label``
  in each file.

A file that holds a label the JSON contradicts is refused. DWSNets' normalisation statistics
(``statistics.pth``: ``{"weights"|"biases": {"mean"|"std": [per-layer tensors]}}``, elementwise over
the training INRs, weights as ``[in, out, 1]``) are written by `write_statistics` and read by
`read_statistics`. `write_dataset` turns tensors or graphs of your own into an `INRDataset` folder.
Import turns a tree into this library's shards and manifest, so that `INRDataset`, training and the
protocols run on it unchanged; export writes the reverse.

Paths in ``splits.json`` often point at the machine the dataset was made on. Each is resolved as
the reference loaders do, relative to the JSON's folder: an absolute path that does not exist here
is tried by its trailing components (``/home/x/data/mnist/train/3/17.pth`` as
``<folder>/mnist/train/3/17.pth``, ``<folder>/train/3/17.pth``, ...). A multi-view dataset keeps the
view in a path component: ``view_level`` says which (1: the file's folder, ``.../<view>/<file>``;
2: the one above, ``.../<view>/<x>/<file>``); the object is the path without it.

Export writes ``inrs.json`` beside ``splits.json``: what the state dicts alone do not say (activation,
``w0``, the constant added to the output, class names, where the view lies in a path) and a digest
of every listed file, so import gives back the same functions and refuses a tree that changed since
(a partly overwritten export, say); without it import says which defaults it assumed. An export is
written into a temporary folder and renamed into place: a failure part way leaves the earlier export
as it was. The export's layout is what the public loaders read unmodified: every listed path starts
with the export folder's name, and the view is the third component from the end.

Files are read with ``torch.load(..., weights_only=True)`` only: no pickled code runs.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import torch

from ..convert import check_params, params_from_state_dict
from ..spec import NetworkSpec
from .dataset import INRDataset
from .fitting import split_flat
from .shards import layer_stats, load_shard, read_json, read_manifest, write_manifest, write_shard

SPLITS = ("train", "val", "test")
INFO = "inrs.json"  # beside splits.json: what import needs besides the state dicts
INFO_VERSIONS = (1, 2)  # 2 adds the digest of the listed files
STATISTICS = "statistics.pth"  # DWSNets' normalisation statistics, written beside an export
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


def read_inr(path: Path, listed: int | None = None) -> tuple[torch.Tensor, int, tuple[int, ...]]:
    """One public INR file: its flat parameters (this library's order), label and layer sizes. The
    label is the file's ``label`` entry or ``listed`` (from the JSON); where both are, they must agree."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # a pickle payload, a truncated or foreign file
        raise ValueError(f"{path}: not a readable weights-only torch file ({type(e).__name__}: {e})") from None
    if not isinstance(state, dict) or ("label" not in state and listed is None):
        raise ValueError(f"{path}: expected a state dict with 'seq.<k>.weight', 'seq.<k>.bias' and a 'label' "
                         "(or a label listed for it in splits.json)")
    state = dict(state)
    label = state.pop("label", listed)
    if isinstance(label, torch.Tensor):
        label = label.item() if label.numel() == 1 and not label.is_floating_point() else None
    if not isinstance(label, int) or isinstance(label, bool) or not 0 <= label < MAX_LABEL:
        raise ValueError(f"{path}: label must be an integer in 0..{MAX_LABEL - 1}, got {label!r}")
    if listed is not None and label != listed:
        raise ValueError(f"{path}: holds label {label}, splits.json lists it with label {listed}")
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


def read_listing(splits_json: Path) -> tuple[dict[str, list[tuple[str, int | None]]], list[str] | None]:
    """``splits.json`` in either public form: per split, ``(path entry, listed label or None)``, and
    the class names where the JSON's labels are names rather than digit strings (sorted), else None."""
    try:
        listing = json.loads(splits_json.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{splits_json}: unreadable splits file ({type(e).__name__}: {e})") from None
    expected = ("expected an object with 'train', 'val' and 'test', each a list of paths (labels in the files) or "
                "an object {'path': [...], 'label': [...]} (DWSNets' form)")
    if not isinstance(listing, dict) or any(s not in listing for s in SPLITS):
        raise ValueError(f"{splits_json}: {expected}")
    entries, names = {}, set()
    for split in SPLITS:
        part = listing[split]
        if isinstance(part, list):
            entries[split] = [(p, None) for p in part]
        elif isinstance(part, dict) and isinstance(part.get("path"), list) and isinstance(part.get("label"), list):
            if len(part["path"]) != len(part["label"]):
                raise ValueError(f"{splits_json}: {split} lists {len(part['path'])} paths and {len(part['label'])} labels")
            entries[split] = list(zip(part["path"], part["label"]))
        else:
            raise ValueError(f"{splits_json}: {split}: {expected}")
        for p, label in entries[split]:
            if not isinstance(p, str):
                raise ValueError(f"{splits_json}: {split}: a path is {p!r}, expected a string")
            if label is not None and not (isinstance(label, (str, int)) and not isinstance(label, bool)):
                raise ValueError(f"{splits_json}: {split}: label {label!r} of {p} is not a string or integer")
            if label is not None:
                names.add(str(label))
    if all(n.isdigit() for n in names):
        return {s: [(p, None if l is None else int(l)) for p, l in e] for s, e in entries.items()}, None
    classes = sorted(names)
    index = {c: i for i, c in enumerate(classes)}
    return {s: [(p, None if l is None else index[str(l)]) for p, l in e] for s, e in entries.items()}, classes


def _files_digest(files: list[tuple[str, Path]]) -> str:
    """A digest of ``(listed entry, file)`` pairs: the entries and every file's bytes."""
    from .shards import sha256_file
    text = json.dumps(sorted((entry, sha256_file(path)) for entry, path in files))
    return hashlib.sha256(text.encode()).hexdigest()


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
    info = read_json(path, "an INR export description", "nngraph-inr-export")
    if info.get("version") not in INFO_VERSIONS:
        raise ValueError(f"{path}: version {info.get('version')!r}, this library reads versions {INFO_VERSIONS}: "
                         "a newer export; update nngraph")
    return info


def import_splits(splits_json: str | Path, out: str | Path, output_offset: float | None = None, w0: float | None = None,
                  num_classes: int | None = None, view_level: int | None = None, shard_size: int = 4096,
                  activation: str | None = None, say=print, statistics: str | Path | None = None) -> dict:
    """Convert a ``splits.json`` tree into shards and a manifest in ``out``; returns the manifest.

    ``activation``, ``w0``, ``output_offset`` (the constant the INRs add to their output),
    ``view_level`` (the path component holding the view; see the module docstring) and the class
    names come from the export's `INFO` file where there is one; otherwise, or for those not given,
    the public datasets' `DEFAULTS` (one line through ``say`` lists what was assumed).
    ``num_classes``: default the class names' count, else one more than the largest label. The
    per-layer statistics are computed from the imported training INRs, or pooled from DWSNets'
    ``statistics`` file where one is given (`read_statistics`). Refused: a file listed twice (by resolved path), the same INR in two splits,
    labels outside ``0..num_classes - 1``, weights that are not real floating point.
    """
    splits_json = Path(splits_json)
    listing, named = read_listing(splits_json)
    info = read_info(splits_json) or {}
    given = {"activation": activation, "w0": w0, "output_offset": output_offset}
    settings = {k: v if v is not None else info.get(k, DEFAULTS[k]) for k, v in given.items()}
    assumed = [f"{k}={DEFAULTS[k]}" for k, v in given.items() if v is None and k not in info]
    if assumed:
        say(f"{splits_json}: no {INFO} beside it says otherwise, so assumed {', '.join(assumed)} (the public "
            "datasets' SIRENs); pass them to change that")
    view_level = view_level if view_level is not None else info.get("view_level")
    classes = info.get("classes") or named
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
        for entry, listed in listing[split]:
            path = resolve(str(entry), folder)
            real = path.resolve()
            if real in files:
                raise ValueError(f"{splits_json}: {entry!r} and {files[real]!r} are the same file")
            files[real] = str(entry)
            flat, label, sizes = read_inr(path, listed)
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
    if "files_sha256" in info and _files_digest([(e, r) for r, e in files.items()]) != info["files_sha256"]:
        raise ValueError(f"{splits_json}: the listed files are not the ones its {INFO} was written with (an export "
                         "that failed part way over an earlier one, or files changed since); export it again")
    spec = NetworkSpec(sizes_seen, settings["activation"], settings["w0"], settings["output_offset"])
    labels_max = max(v[1] for rows in read.values() for views in rows.values() for v in views.values())
    if num_classes is None:
        num_classes = len(classes) if classes else labels_max + 1
    if labels_max >= num_classes:
        raise ValueError(f"num_classes: {num_classes}, but a label is {labels_max}")
    if classes is not None and len(classes) != num_classes:
        raise ValueError(f"num_classes: {num_classes}, but {splits_json.parent / INFO} names {len(classes)} classes")
    raw = json.loads(splits_json.read_text())  # the file as written: the id of an import does not move
    source = hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()
    return _write_folder(read, spec, classes, num_classes, Path(out), f"imported-{source[:16]}",
                         f"imported:{splits_json}", {"kind": "splits.json", "sha256": source}, shard_size,
                         None if statistics is None else read_statistics(statistics, spec))


def _write_folder(read: dict, spec: NetworkSpec, classes, num_classes: int, out: Path, config_id: str, dataset: str,
                  source: dict, shard_size: int, stats: dict | None = None) -> dict:
    """Shards and a manifest in ``out`` for ``read[split][object][view] = (flat params, label)``."""
    out.mkdir(parents=True, exist_ok=True)
    shards, views_of = [], {}
    for split in SPLITS:
        objects = sorted(read[split])
        counts = {len(read[split][o]) for o in objects}
        if len(counts) > 1 or any(sorted(read[split][o]) != list(range(len(read[split][o]))) for o in objects):
            odd = next(o for o in objects if sorted(read[split][o]) != sorted(read[split][objects[0]]))
            raise ValueError(f"{dataset}: {split} objects have different views ({odd} has views "
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
    train = [out / e["file"] for e in shards if e["split"] == "train"]
    if stats is None and not train:
        raise ValueError(f"{dataset}: no training INRs to compute the normalisation statistics from")
    manifest = {"format": "nngraph-inr-dataset", "version": 1, "complete": True, "config_id": config_id,
                "dataset": dataset, "source": source, "spec": spec.to_dict(), "views": views_of,
                "splits": {s: {"count": len(read[s]), "objects": sorted(read[s])} for s in SPLITS},
                "classes": list(classes) if classes else [str(c) for c in range(num_classes)],
                "num_classes": num_classes, "shards": shards,
                "stats": stats if stats is not None else layer_stats(spec, train)}
    write_manifest(out, manifest)
    return manifest


def write_dataset(params, labels, spec: NetworkSpec | None, out: str | Path, splits: dict | None = None,
                  objects=None, classes: list[str] | None = None, shard_size: int = 4096) -> dict:
    """Write networks of your own as an `INRDataset` folder; returns its manifest.

    ``params``: a ``[N, P]`` tensor of flat parameters (this library's order, `nngraph.flat_params`),
    a list of graphs or a one-spec `Batch` (``spec`` then defaults to theirs); ``labels``: ``[N]``
    class indices; ``splits``: ``{"train": indices, "val": indices, "test": indices}`` into the N
    rows (default: all training); ``objects``: ``[N]`` object ids, the rows of one object in one
    split being its views in order (default: one object per row); ``classes``: class names."""
    from torch_geometric.data import Batch, Data
    from ..views import flat_params, spec_of
    if isinstance(params, (list, tuple)) and params and all(isinstance(g, Data) for g in params):
        params = Batch.from_data_list(list(params))
    if isinstance(params, Data):
        spec = spec if spec is not None else spec_of(params)
        if spec_of(params) != spec:
            raise ValueError(f"spec: {spec}, but the graphs are {spec_of(params)}")
        params = flat_params(params)
    if not isinstance(params, torch.Tensor) or params.dim() != 2:
        raise ValueError(f"params: expected a [N, P] tensor, a list of graphs or a Batch, got {type(params).__name__}")
    if spec is None:
        raise ValueError("spec: required with a parameter tensor (it does not say the activation, w0 or offset)")
    if params.shape[1] != spec.num_params:
        raise ValueError(f"params: rows of {params.shape[1]} values, {spec} has {spec.num_params}")
    params = params.detach().float().cpu()
    check_params(*split_flat_rows(spec, params))
    n = params.shape[0]
    labels = torch.as_tensor(labels).reshape(-1)
    if labels.shape[0] != n or labels.is_floating_point() or (labels < 0).any():
        raise ValueError(f"labels: expected {n} non-negative integer labels, got {tuple(labels.shape)} {labels.dtype}")
    objects = torch.arange(n) if objects is None else torch.as_tensor(objects).reshape(-1)
    if objects.shape[0] != n:
        raise ValueError(f"objects: expected {n} object ids, got {objects.shape[0]}")
    splits = {"train": range(n)} if splits is None else splits
    unknown = set(splits) - set(SPLITS)
    if unknown:
        raise ValueError(f"splits: unknown split(s) {sorted(unknown)}; expected {SPLITS}")
    read, seen = {}, set()
    for split in SPLITS:
        rows: dict = {}
        for i in torch.as_tensor(list(splits.get(split, [])), dtype=torch.long).tolist():
            if not 0 <= i < n or i in seen:
                raise ValueError(f"splits: {split} row {i} is {'listed twice' if i in seen else f'outside 0..{n - 1}'}")
            seen.add(i)
            views = rows.setdefault(int(objects[i]), {})
            views[len(views)] = (params[i], int(labels[i]))
        read[split] = {k: rows[o] for k, o in enumerate(sorted(rows))}
    num_classes = len(classes) if classes else int(labels.max()) + 1
    if int(labels.max()) >= num_classes:
        raise ValueError(f"classes: {num_classes} names, but a label is {int(labels.max())}")
    digest = hashlib.sha256(params.numpy().tobytes() + labels.numpy().astype("int64").tobytes()
                            + json.dumps({s: sorted(read[s]) for s in SPLITS}).encode()
                            + objects.numpy().astype("int64").tobytes()).hexdigest()
    return _write_folder(read, spec, classes, num_classes, Path(out), f"imported-{digest[:16]}", "tensors",
                         {"kind": "tensors", "sha256": digest}, shard_size)


def split_flat_rows(spec: NetworkSpec, params: torch.Tensor):
    """``(weights, biases)`` of the first row, for `check_params` (the layers chain; values finite)."""
    if not torch.isfinite(params).all():
        raise ValueError("params: holds non-finite values")
    weights, biases = split_flat(spec, params[:1])
    return [w[0] for w in weights], [b[0] for b in biases]


def write_statistics(root: str | Path, path: str | Path) -> Path:
    """DWSNets' ``statistics.pth`` of the training INRs of the dataset in ``root``: per layer, the
    elementwise mean and (unbiased) standard deviation of the weights (``[in, out, 1]``, as DWSNets
    lays them out) and biases (``[out, 1]``), so its trainers run ``--normalize True`` on an export."""
    dataset = INRDataset(root, "train")
    spec = dataset.spec
    weights, biases = split_flat(spec, dataset.params().double())
    ws = [w.transpose(1, 2).unsqueeze(-1) for w in weights]  # [N, out, in] -> [N, in, out, 1]
    bs = [b.unsqueeze(-1) for b in biases]
    stats = {"weights": {"mean": [w.mean(0).float() for w in ws], "std": [w.std(0).float() for w in ws]},
             "biases": {"mean": [b.mean(0).float() for b in bs], "std": [b.std(0).float() for b in bs]}}
    path = Path(path)
    torch.save(stats, path)
    return path


def read_statistics(path: str | Path, spec: NetworkSpec | None = None) -> dict[str, list[float]]:
    """A ``statistics.pth`` in DWSNets' layout as the per-layer statistics `nngraph.Normalize` and a
    manifest take (``weight_mean``, ``weight_std``, ``bias_mean``, ``bias_std``): each layer's
    elementwise means and deviations pooled (mean of means; the root of the mean of ``std**2 +
    mean**2`` less the pooled mean squared). Checked against ``spec``'s shapes where given."""
    try:
        stats = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise ValueError(f"{path}: not a readable weights-only torch file ({type(e).__name__}: {e})") from None
    try:
        layers = {(k, m): [torch.as_tensor(t).double() for t in stats[k][m]] for k in ("weights", "biases")
                  for m in ("mean", "std")}
    except (KeyError, TypeError):
        raise ValueError(f"{path}: expected DWSNets' statistics, {{'weights'|'biases': {{'mean'|'std': [tensors]}}}}")
    if len({len(v) for v in layers.values()}) != 1:
        raise ValueError(f"{path}: its weights and biases list different numbers of layers")
    if spec is not None:
        want_w = [(i, o, 1) for i, o in zip(spec.layer_sizes[:-1], spec.layer_sizes[1:])]
        want_b = [(o, 1) for o in spec.layer_sizes[1:]]
        for (k, m), want in [((k, m), want_w if k == "weights" else want_b) for k, m in layers]:
            got = [tuple(t.shape) for t in layers[(k, m)]]
            if [g for g in got] != want:
                raise ValueError(f"{path}: {k} {m} of shapes {got}, {spec} needs {want}")
    out = {}
    for kind, key in (("weights", "weight"), ("biases", "bias")):
        means, stds = layers[(kind, "mean")], layers[(kind, "std")]
        mean = [m.mean().item() for m in means]
        out[f"{key}_mean"] = mean
        out[f"{key}_std"] = [max(0.0, (s.square() + m.square()).mean().item() - mu ** 2) ** 0.5
                             for m, s, mu in zip(means, stds, mean)]
    return out


def export_splits(root: str | Path, out: str | Path) -> Path:
    """Write an INR dataset of this library in the public layout, as the public loaders read it:
    ``out/<view>/<split>_<object>/inr.pth`` (a state dict ``seq.<k>.weight``, ``seq.<k>.bias`` and
    ``label``), ``out/splits.json`` listing them as ``<out's name>/<view>/<split>_<object>/inr.pth``,
    ``out/inrs.json`` (`INFO`: spec, class names, ``view_level`` 2, the files' digest) for import, and
    ``out/statistics.pth`` (`write_statistics`) for DWSNets' trainers. Written into a temporary
    folder beside ``out`` and renamed into place, replacing an earlier export only once complete.
    Returns the ``splits.json`` path."""
    root, out = Path(root), Path(out)
    manifest = read_manifest(root)
    spec = NetworkSpec.from_dict(manifest["spec"])
    if out.exists() and (not out.is_dir() or any(out.iterdir()) and not (out / "splits.json").is_file()):
        raise ValueError(f"out: {out} exists and is not an earlier export (no splits.json); use a new folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.parent / f".{out.name}.part-{os.getpid()}"
    shutil.rmtree(part, ignore_errors=True)
    part.mkdir()
    try:
        listing, files = {s: [] for s in SPLITS}, []
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
                    (part / rel).parent.mkdir(parents=True, exist_ok=True)
                    _save(state, part / rel)
                    entry = f"{out.name}/{rel.as_posix()}"
                    listing[split].append(entry)
                    files.append((entry, part / rel))
        info = {"format": "nngraph-inr-export", "version": 2, **{k: v for k, v in spec.to_dict().items()},
                "classes": list(manifest["classes"]), "num_classes": int(manifest["num_classes"]), "view_level": 2,
                "files_sha256": _files_digest(files)}
        (part / INFO).write_text(json.dumps(info, indent=1))
        write_statistics(root, part / STATISTICS)
        (part / "splits.json").write_text(json.dumps(listing, indent=1))
        old = out.parent / f".{out.name}.old-{os.getpid()}"
        if out.exists():
            out.rename(old)
        part.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(part, ignore_errors=True)
        raise
    return out / "splits.json"


def _save(state: dict, path: Path) -> None:
    """``torch.save``, its failures (a full disk) as the OSError they are, naming the file."""
    try:
        torch.save(state, path)
    except RuntimeError as e:
        raise OSError(f"could not write {path} ({str(e).splitlines()[0]})") from None
