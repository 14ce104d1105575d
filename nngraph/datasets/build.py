"""Building an INR dataset: one SIREN per image or shape (``views`` independently initialised fits per
training object), written as shards plus a manifest (see `nngraph.datasets.shards`).

The work is a fixed list of shards, each a deterministic function of its objects and seeds, fitted
and written one at a time. Rerunning the same build into the same folder skips shards that are
already there and verified, so a killed build resumes and ends with exactly the INRs an
uninterrupted build writes.

Splits (recorded in the manifest): the validation split is a fixed random subset (seed
``SPLIT_SEED``, class by class for shapes) of the official training split, ``VAL_FRACTION`` of it (Fashion-MNIST: 5K of 60K,
scaled alike for subsets and ``limit``; ModelNet: 10%); test is the official test split. Training
objects get ``views`` INRs (views ``0..views-1``), validation and test objects view 0 only.

Each INR's initialisation is seeded by ``inr_seed(seed, source split, object, view)`` and each shape's
SDF samples by ``inr_seed(seed, "sdf", source split, object)``, so neither depends on sharding or
batching. The manifest's ``summary`` gives per-split PSNR (for shapes: ``-10 log10`` of the SDF's
MSE), loss and steps; ``stats`` the per-layer weight and bias statistics of the training split.
"""
from __future__ import annotations

import hashlib
import json
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..siren import INITS
from ..spec import NetworkSpec
from . import sdf as sdf_mod
from .fitting import fit_inrs
from .render import coordinate_grid
from .shards import (MANIFEST, check_manifest, content_id, layer_stats, load_shard, read_manifest, read_shard_metadata,
                     remove_temp_files, sha256_file, verify_shard, verify_shard_content, write_manifest, write_shard)
from .sources import (FASHION_MNIST_DIR, load_fashion_mnist, load_mnist, load_modelnet_npz,
                      load_modelnet_off, normalize_unit_sphere, read_off)

SPLIT_SEED = 0
SPLITS = ("train", "val", "test")


# The INR initialisation a build uses unless told otherwise (`nngraph.init_params`; why: README).
DEFAULT_INIT = "reference"
# The reference INR adds 0.5 to its output; the other recipes have no offset.
OUTPUT_OFFSET = {"reference": 0.5, "zero_bias": 0.0, "siren": 0.0}


@dataclass(frozen=True)
class FitRecipe:
    """How one kind of INR is fitted (paper, Appendix E) and initialised (``init``, one of `INITS`)."""
    layer_sizes: tuple[int, ...]
    steps: int
    lr: float
    optimizer: str
    psnr_stop: float | None
    points_per_step: int | None = None
    sdf_points: int | None = None
    init: str = DEFAULT_INIT

    def spec(self) -> NetworkSpec:
        return NetworkSpec(self.layer_sizes, "sine", 30.0, output_offset=OUTPUT_OFFSET[self.init])


IMAGE_RECIPE = FitRecipe((2, 32, 32, 1), steps=1000, lr=5e-4, optimizer="adam", psnr_stop=40.0)
SHAPE_RECIPE = FitRecipe((3, 32, 32, 32, 32, 32, 1), steps=1000, lr=1e-4, optimizer="adamw", psnr_stop=None,
                         points_per_step=4096, sdf_points=250_000)
# dataset name -> (kind, default root); kind picks the loader, recipe and validation share
DATASETS = {
    "fmnist-subset": ("fmnist", None),
    "fmnist": ("fmnist", FASHION_MNIST_DIR),
    "mnist": ("mnist", None),
    "modelnet10": ("npz", None),
    "modelnet40": ("off", None),
}
VAL_FRACTION = {"fmnist": 5000 / 60000, "mnist": 5000 / 60000, "npz": 0.1, "off": 0.1}
STRATIFIED = ("npz", "off")  # kinds whose validation split is cut class by class
DEFAULT_SHARD_SIZE = {"image": 4096, "shape": 256}


def inr_seed(*parts) -> int:
    """A 63-bit seed from labelled parts, e.g. ``inr_seed(seed, "train", object, view)``."""
    digest = hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little") & (2 ** 63 - 1)


class _Source:
    """The objects of one dataset: labels per official split, and the fitting targets of any of them."""

    def __init__(self, dataset: str, root, limit: int | None, extra_train: int = 0):
        if dataset not in DATASETS:
            raise ValueError(f"dataset: expected one of {sorted(DATASETS)}, got {dataset!r}")
        kind, default_root = DATASETS[dataset]
        root = root if root is not None else default_root
        if root is None:
            raise ValueError(f"root: dataset {dataset!r} needs a root (a folder or file to read it from)")
        self.kind, self.root = kind, Path(root)
        self.image = kind in ("fmnist", "mnist")
        load = {"fmnist": load_fashion_mnist, "mnist": load_mnist, "npz": load_modelnet_npz,
                "off": load_modelnet_off}[kind]
        self.data = {s: load(self.root, s) for s in ("train", "test")}
        self.classes = self.data["train"].classes
        self.limit, self.extra_train = limit, extra_train
        self.count = {s: len(d) if limit is None else min(limit, len(d)) for s, d in self.data.items()}
        if extra_train:  # training objects beyond the limit: labels are read that far
            if limit is None or limit + extra_train > len(self.data["train"]):
                raise ValueError(f"extra_train: needs a limit and at most {len(self.data['train']) - (limit or 0)} "
                                 f"more training objects, got limit {limit} and extra_train {extra_train}")
            self.count["train"] = limit + extra_train

    def labels(self, split: str) -> np.ndarray:
        return self.data[split].labels[:self.count[split]]

    def describe(self) -> dict:
        """What identifies the source: its files' checksums (mesh folders: their shapes' names and sizes),
        not where it lies."""
        if self.image:
            files = [Path(f) for s in ("train", "test") for f in self.data[s].files]
            return {"kind": self.kind, "sha256": {f.name: sha256_file(f) for f in files}}
        if self.kind == "npz":
            return {"kind": self.kind, "sha256": {self.root.name: sha256_file(self.root)}}
        listing = "\n".join(f"{p.relative_to(self.root)} {p.stat().st_size}"
                            for s in ("train", "test") for p in self.data[s].paths)
        return {"kind": self.kind, "listing_sha256": hashlib.sha256(listing.encode()).hexdigest()}

    def targets(self, split: str, objects: np.ndarray, recipe: FitRecipe, seed: int, device=None):
        """``(coords, targets)`` for the given objects: a shared grid and grey levels in ``[0, 1]``,
        or per-object SDF samples (deterministic in ``seed``)."""
        data = self.data[split]
        if self.image:
            images = torch.from_numpy(data.images[objects]).float().div_(255)
            coords = coordinate_grid(*images.shape[1:])
            return coords, images.reshape(len(objects), -1, 1)
        coords, values = [], []
        for obj in objects.tolist():  # one shape at a time: SDF sampling is per-shape work
            where = data.paths[obj] if data.points is None else f"{self.root}, {split} shape {data.names[obj]!r}"
            try:
                if data.points is not None:
                    shape = normalize_unit_sphere(data.points[obj])[0]
                else:
                    verts, faces = read_off(data.paths[obj])
                    shape = (normalize_unit_sphere(verts)[0], faces)
                q, s = sdf_mod.sdf_samples(shape, recipe.sdf_points, inr_seed(seed, "sdf", split, obj), device=device)
            except ValueError as e:  # name the shape: a build reads thousands
                message = str(e)
                raise ValueError(message if message.startswith(str(where)) else f"{where}: {message}") from None
            coords.append(torch.from_numpy(q))
            values.append(torch.from_numpy(s))
        return torch.stack(coords), torch.stack(values).unsqueeze(-1)


def make_splits(source: _Source) -> dict[str, dict]:
    """Train, validation (cut from the official training split, seeded) and the official test split.
    Shapes are cut class by class (`STRATIFIED`): their classes are small and unequal (ModelNet10's
    smallest has 106 training shapes), so a plain random cut would leave the validation accuracy of
    the rare classes to chance."""
    n = source.count["train"] - source.extra_train  # validation is cut from the first n only
    rng = np.random.default_rng(SPLIT_SEED)
    if source.kind in STRATIFIED:
        labels = source.labels("train")[:n]
        val = np.concatenate([rng.permutation(np.flatnonzero(labels == c))[:int(round((labels == c).sum()
                              * VAL_FRACTION[source.kind]))] for c in np.unique(labels)])
    else:
        val = rng.permutation(n)[:int(round(n * VAL_FRACTION[source.kind]))]
    train = np.concatenate([np.setdiff1d(np.arange(n), val), np.arange(n, n + source.extra_train)])
    return {"train": {"source_split": "train", "objects": train.tolist()},
            "val": {"source_split": "train", "objects": np.sort(val).tolist()},
            "test": {"source_split": "test", "objects": list(range(source.count["test"]))}}


def _plan(splits: dict, views: int, shard_size: int) -> list[dict]:
    units = []
    for split in SPLITS:
        v = views if split == "train" else 1
        per = max(1, shard_size // v)
        n = len(splits[split]["objects"])
        for k, start in enumerate(range(0, n, per)):
            units.append({"file": f"{split}-{k:05d}.safetensors", "split": split, "start": start,
                          "stop": min(n, start + per), "views": v})
    return units


def _unit_size(unit: dict) -> int:
    """How many INRs (shard rows) a unit of the plan holds: every view of each of its objects."""
    return (unit["stop"] - unit["start"]) * unit["views"]


def share_units(units: list[dict], world_size: int, work: list[int] | None = None) -> list[list[dict]]:
    """The plan's units split into ``world_size`` parts of about equal work (``work``: INRs to fit per
    unit, default all of its INRs): the largest unit first, each to the part with the least so far
    (ties: the lower rank), each part in plan order. Shards differ in size (a split's last shard,
    1-view validation and test beside a 10-view train split) and copied INRs cost nothing, so taking
    every ``world_size``-th unit can leave one part with most of the work."""
    load, parts = [0] * world_size, [[] for _ in range(world_size)]
    size = work if work is not None else [_unit_size(u) for u in units]
    for i in sorted(range(len(units)), key=lambda i: (-size[i], i)):
        part = min(range(world_size), key=lambda r: (load[r], r))
        parts[part].append(i)
        load[part] += size[i]
    return [[units[i] for i in sorted(p)] for p in parts]


def build_inr_dataset(dataset: str, out: str | Path, *, root: str | Path | None = None, views: int = 1,
                      limit: int | None = None, steps: int | None = None, seed: int = 0, device=None,
                      batch_size: int | None = None, shard_size: int | None = None,
                      sdf_points: int | None = None, points_per_step: int | None = None,
                      init: str = DEFAULT_INIT, compile: bool = False, progress: bool = True,
                      on_shard: Callable[[Path], None] | None = None, rank: int = 0, world_size: int = 1,
                      extra_train: int = 0, reuse: str | Path | None = None,
                      train_per_class: int | None = None) -> dict:
    """Fit the INR dataset ``dataset`` (one of `DATASETS`) into the folder ``out``; returns the manifest.

    ``root``: where the source is (an IDX folder, the ModelNet10 ``.npz`` or a ModelNet40 folder);
    ``limit``: only the first ``limit`` objects of each official split (a warning says so where
    that leaves classes out, as on a source stored class by class); ``steps``, ``sdf_points``,
    ``points_per_step``: override the recipe; ``init``: the INR initialisation (one of
    `nngraph.siren.INITS`, recorded in the manifest); ``seed``: INR initialisations and SDF samples;
    ``device``, ``batch_size``, ``compile``: how to fit (not part of the result's identity);
    ``shard_size``: INRs per shard; ``on_shard(path)`` is called after each shard is written.
    Rerunning with the same arguments resumes; different arguments into a used folder is an error.

    ``rank``, ``world_size``: one part of a build spread over processes, GPUs or nodes (torchrun, a
    SLURM array): this part fits its share of the fixed plan's shards (`share_units`: about as many
    INRs as every other part) and writes no manifest. The part that finds every shard present when
    it is done verifies them all and writes the manifest, so the result is the single-process
    build's, byte for byte; until then the return
    value has ``"complete": False``. A part that was interrupted resumes alone.

    ``extra_train``: extend a limited build by this many more training objects (official training
    objects ``limit .. limit + extra_train - 1``) with the same validation and test objects.
    ``reuse``: a built dataset of the same recipe, seed and source whose INRs are copied instead
    of refitted wherever it has the same (object, view): the extension keeps the original INRs
    bit for bit (a refit reproduces them only to float rounding). Both are part of the build's id.
    Parts share the INRs to fit, copies costing nothing; the manifest marks shards of copies only
    (``"copied": true``), which `restore_copies` rebuilds from ``reuse`` byte for byte. A shard the
    manifest records that is rebuilt to other bytes is an error: the dataset would change its content.
    ``train_per_class``: keep only the first this many training objects of each class (the same
    validation and test objects): a class-balanced subset, e.g. to fit 10 views of a few shapes of
    every class beside a 1-view build of all of them (``reuse`` it: view 0 is copied).
    """
    if not isinstance(views, int) or views < 1:
        raise ValueError(f"views: expected a positive integer, got {views!r}")
    if limit is not None and (not isinstance(limit, int) or limit < 1):
        raise ValueError(f"limit: expected a positive integer or None, got {limit!r}")
    if init not in INITS:
        raise ValueError(f"init: expected one of {INITS}, got {init!r}")
    if not (isinstance(world_size, int) and world_size >= 1 and isinstance(rank, int) and 0 <= rank < world_size):
        raise ValueError(f"rank, world_size: expected 0 <= rank < world_size, got {rank!r}, {world_size!r}")
    for name, value in (("steps", steps), ("shard_size", shard_size), ("batch_size", batch_size),
                        ("sdf_points", sdf_points), ("points_per_step", points_per_step),
                        ("train_per_class", train_per_class)):
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < 1):
            raise ValueError(f"{name}: expected a positive integer or None (the default), got {value!r}")
    if not isinstance(extra_train, int) or isinstance(extra_train, bool) or extra_train < 0:
        raise ValueError(f"extra_train: expected a non-negative integer, got {extra_train!r}")
    source = _Source(dataset, root, limit, extra_train)
    for split in ("train", "test"):
        kept, every = np.unique(source.labels(split)), np.unique(source.data[split].labels)
        if len(kept) < len(every):  # a source stored class by class (ModelNet): its first objects are few classes
            warnings.warn(f"limit: the first {source.count[split]} {split} objects of {dataset} hold {len(kept)} of its "
                          f"{len(every)} classes", stacklevel=2)
    base = IMAGE_RECIPE if source.image else SHAPE_RECIPE
    recipe = FitRecipe(base.layer_sizes, steps if steps is not None else base.steps, base.lr, base.optimizer,
                       base.psnr_stop, points_per_step or base.points_per_step,
                       None if source.image else (sdf_points or base.sdf_points), init)
    spec = recipe.spec()
    shard_size = DEFAULT_SHARD_SIZE["image" if source.image else "shape"] if shard_size is None else shard_size
    splits = make_splits(source)
    if train_per_class is not None:
        labels = source.labels("train")[splits["train"]["objects"]]
        keep = np.concatenate([np.flatnonzero(labels == c)[:train_per_class] for c in np.unique(labels)])
        splits["train"]["objects"] = np.asarray(splits["train"]["objects"])[np.sort(keep)].tolist()
    for split in SPLITS:
        splits[split]["count"] = len(splits[split]["objects"])
    config = {"dataset": dataset, "source": source.describe(), "limit": limit, "seed": seed,
              "spec": spec.to_dict(), "fit": {k: v for k, v in vars(recipe).items() if k != "layer_sizes"},
              "views": {s: views if s == "train" else 1 for s in SPLITS}, "split_seed": SPLIT_SEED,
              "val_fraction": VAL_FRACTION[source.kind], "splits": splits, "shard_size": shard_size}
    reused = _reuse_index(reuse, config) if reuse is not None else None
    if extra_train:  # keys only where used: every earlier build keeps its id
        config["extra_train"] = extra_train
    if train_per_class is not None:
        config["train_per_class"] = train_per_class
    if reused is not None:
        config["reuse"] = reused["content_id"]
    config_id = hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()
    units = _plan(splits, views, shard_size)

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    copied = [_copied(splits, u, reused) for u in units]
    mine = share_units(units, world_size, [_unit_size(u) - c for u, c in zip(units, copied)])[rank]
    # Only this part's own leftovers: other parts may be writing theirs, a user may keep other hidden files.
    remove_temp_files(out, [u["file"] for u in mine] + ([MANIFEST] if world_size == 1 else []))
    old = read_manifest(out) if (out / "manifest.json").exists() else None
    if old is not None and old.get("config_id") != config_id:
        raise ValueError(f"out: {out} holds an INR dataset built with other settings; use a new folder")
    recorded = {e["file"]: e.get("sha256") for e in (old or {}).get("shards", [])}
    manifest = {"format": "nngraph-inr-dataset", "version": 1, "complete": False, "config_id": config_id,
                **config, "source_root": str(source.root), "classes": list(source.classes),
                "num_classes": len(source.classes),
                "shards": []}

    labels = {s: source.labels(s) for s in ("train", "test")}

    def ensure(unit: dict) -> str:
        """The shard's sha256, after fitting it unless a verified one is there."""
        path = out / unit["file"]
        digest = _verified(path, recorded.get(unit["file"]), config_id, unit)
        if digest is None:
            digest = _fit_unit(source, splits, unit, recipe, spec, seed, labels, path, config_id,
                               device, batch_size, compile, progress, reused)
            if recorded.get(unit["file"]) not in (None, digest):  # else the dataset would change under its users
                raise ValueError(f"out: {path} was rebuilt to other bytes than {out / MANIFEST} records "
                                 "(refitted on another machine?); build into a new folder")
            if on_shard is not None:
                on_shard(path)
        return digest

    if world_size > 1:
        for unit in mine:
            ensure(unit)
        if not all((out / u["file"]).is_file() for u in units):
            return manifest  # other parts are still fitting; the last one to finish writes the manifest
    # A complete build rerun (to verify it, or to restore a shard) keeps its manifest as it is until
    # the end: every shard must come back to its recorded bytes, so the manifest stays true, and a
    # training run reading it meanwhile must not find the dataset "unfinished".
    progressive = not (old or {}).get("complete")
    for i, unit in enumerate(units):  # verifies (and, one process alone, fits) every shard, in plan order
        rows = _unit_size(unit)
        entry = {**unit, "rows": rows, "sha256": ensure(unit)}
        if reused is not None:  # a shard of copies only: `restore_copies` rebuilds it from the reused data alone
            entry["copied"] = copied[i] == rows
        manifest["shards"].append(entry)
        if progressive:
            write_manifest(out, manifest)

    train_files = [out / e["file"] for e in manifest["shards"] if e["split"] == "train"]
    manifest["stats"] = layer_stats(spec, train_files)
    manifest["summary"] = _summary(out, manifest["shards"])
    manifest["complete"] = True
    if manifest != old:
        write_manifest(out, manifest)
    return manifest


def restore_copies(folder: str | Path, reuse: str | Path) -> dict:
    """Rebuild the missing shards of a complete build in ``folder`` that hold only INRs copied from
    ``reuse`` (manifest entries ``"copied": true``), byte for byte, so an extension of a committed
    dataset need not commit those copies again; returns the manifest, which stays as it is. Needs
    only the two folders, not the source images or shapes. A missing shard that was fitted cannot be
    restored this way, and ``reuse`` must be the verified dataset the manifest records."""
    folder = Path(folder)
    m = read_manifest(folder)
    if not m.get("complete"):
        raise ValueError(f"folder: {folder} holds an unfinished build; rerun the build that made it")
    missing = [e for e in m["shards"] if not (folder / e["file"]).is_file()]
    fitted = [e["file"] for e in missing if not e.get("copied")]
    if fitted:
        raise ValueError(f"folder: {folder} lacks {', '.join(fitted)}, fitted rather than copied: "
                         "not restorable from the data it reuses")
    if not missing:
        return m
    reused = _reuse_index(reuse, m)
    if reused["content_id"] != m.get("reuse"):
        raise ValueError(f"reuse: {reuse} is not the dataset {folder} was built from "
                         f"(content id {reused['content_id']}, its manifest records {m.get('reuse')})")
    for e in missing:
        unit = {k: e[k] for k in ("file", "split", "start", "stop", "views")}
        src_split = m["splits"][unit["split"]]["source_split"]
        _, obj, view = _unit_rows(m["splits"], unit)
        found = [reused["rows"][(src_split, o, v)] for o, v in zip(obj.tolist(), view.tolist())]
        tensors = {**_copy_rows(found, keys=("params", "steps", "psnr", "loss", "label")), "object": obj, "view": view}
        path = folder / unit["file"]
        digest = write_shard(path, tensors, {"config_id": m["config_id"], "unit": unit, "spec": m["spec"]})
        if digest != e["sha256"]:
            path.unlink()
            raise ValueError(f"folder: {path} restored from {reuse} to other bytes than {folder / MANIFEST} records")
    return m


def _verified(path: Path, recorded: str | None, config_id: str, unit: dict) -> str | None:
    """The sha256 of an existing shard that belongs to this build and unit, else None (refit it)."""
    if not path.is_file():
        return None
    try:
        meta = read_shard_metadata(path)
    except ValueError:
        return None
    if meta.get("config_id") != config_id or meta.get("unit") != unit:
        return None
    digest = sha256_file(path)
    if recorded is None:  # no manifest entry to check it against: check it against itself
        try:
            verify_shard_content(path)
        except ValueError:
            return None
        return digest
    return digest if recorded == digest else None


def _reuse_index(folder, config: dict) -> dict:
    """Where each (source split, object, view) INR of the dataset in ``folder`` lies, after checking it
    was fitted as this build fits (recipe, spec, seed, source) and that its manifest and shards are
    what it records, as `INRDataset` checks them (a copy carries its source's content id)."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if not manifest.get("complete"):
        raise ValueError(f"reuse: {folder} holds an unfinished build")
    for key in ("source", "seed", "spec", "fit"):
        if manifest.get(key) != config[key]:
            raise ValueError(f"reuse: {folder} was fitted with another {key}; its INRs are not this build's")
    check_manifest(folder, manifest)  # plain file names inside the folder, units as the shards say
    rows = {}
    for e in manifest["shards"]:
        src = manifest["splits"][e["split"]]["source_split"]
        t = load_shard(verify_shard(folder, e), keys=("object", "view"))
        for r, (o, v) in enumerate(zip(t["object"].tolist(), t["view"].tolist())):
            rows[(src, o, v)] = (folder / e["file"], r)
    return {"content_id": content_id(manifest), "rows": rows}


def _unit_rows(splits: dict, unit: dict) -> tuple[np.ndarray, torch.Tensor, torch.Tensor]:
    """A unit's objects, and the object and view of each of its rows (view-major)."""
    split = splits[unit["split"]]
    objects = np.asarray(split["objects"][unit["start"]:unit["stop"]], dtype=np.int64)
    return objects, torch.from_numpy(objects).repeat(unit["views"]), torch.arange(unit["views"]).repeat_interleave(len(objects))


def _copied(splits: dict, unit: dict, reused: dict | None) -> int:
    """How many of a unit's INRs ``reused`` has."""
    if reused is None:
        return 0
    src = splits[unit["split"]]["source_split"]
    _, obj, view = _unit_rows(splits, unit)
    return sum((src, o, v) in reused["rows"] for o, v in zip(obj.tolist(), view.tolist()))


def _copy_rows(found: list, keys: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """Columns ``keys`` of the rows ``found`` lists as ``(shard path, row)`` (None: left as zeros),
    read one shard at a time."""
    columns = {}
    for file in dict.fromkeys(f[0] for f in found if f is not None):
        old = load_shard(file, keys=keys)
        mine = [(i, f[1]) for i, f in enumerate(found) if f is not None and f[0] == file]
        to, frm = torch.tensor([i for i, _ in mine]), torch.tensor([r for _, r in mine])
        for k in keys:
            if k not in columns:
                columns[k] = torch.zeros((len(found),) + old[k].shape[1:], dtype=old[k].dtype)
            columns[k][to] = old[k][frm]
    return columns


def _fit_unit(source, splits, unit, recipe, spec, seed, labels, path, config_id, device, batch_size,
              compile, progress, reused: dict | None = None) -> str:
    src_split = splits[unit["split"]]["source_split"]
    objects, obj, view = _unit_rows(splits, unit)
    V, n = unit["views"], len(objects)
    seeds = torch.tensor([inr_seed(seed, src_split, o, v) for o, v in zip(obj.tolist(), view.tolist())])
    found = [reused["rows"].get((src_split, o, v)) if reused else None for o, v in zip(obj.tolist(), view.tolist())]
    fit = torch.tensor([f is None for f in found])
    columns = {"params": torch.empty(V * n, spec.num_params), "steps": torch.zeros(V * n, dtype=torch.long),
               "psnr": torch.empty(V * n), "loss": torch.empty(V * n)}
    if not fit.all():  # copied, not refitted
        copies = _copy_rows(found, keys=tuple(columns))
        for k in columns:
            columns[k][~fit] = copies[k][~fit]
    if fit.any():
        coords, targets = source.targets(src_split, objects, recipe, seed, device)
        result = fit_inrs(coords, targets, spec, steps=recipe.steps, lr=recipe.lr, optimizer=recipe.optimizer,
                          psnr_stop=recipe.psnr_stop, seeds=seeds[fit], init=recipe.init,
                          points_per_step=recipe.points_per_step, target_index=torch.arange(n).repeat(V)[fit],
                          device=device, batch_size=batch_size, compile=compile, progress=progress)
        for k in columns:
            columns[k][fit] = getattr(result, k)
    tensors = {**columns, "label": torch.from_numpy(labels[src_split][objects]).repeat(V), "object": obj, "view": view}
    meta = {"config_id": config_id, "unit": unit, "spec": spec.to_dict()}
    return write_shard(path, tensors, meta)


def _summary(out: Path, shards: list[dict]) -> dict:
    summary = {}
    for split in SPLITS:
        rows = [load_shard(out / e["file"], keys=("psnr", "steps", "loss")) for e in shards if e["split"] == split]
        if not rows:
            continue
        psnr = torch.cat([r["psnr"] for r in rows]).double()
        steps = torch.cat([r["steps"] for r in rows]).double()
        loss = torch.cat([r["loss"] for r in rows]).double()
        summary[split] = {"inrs": len(psnr), "psnr_mean": psnr.mean().item(), "psnr_min": psnr.min().item(),
                          "loss_mean": loss.mean().item(), "steps_mean": steps.mean().item()}
    return summary
