"""`INRDataset`: a built INR dataset (`nngraph.build_inr_dataset`) as a PyTorch Geometric dataset of
network graphs, read from its shards on demand, plus a fast path that batches whole parameter
tensors at once."""
from __future__ import annotations

from pathlib import Path

import torch
from torch_geometric.data import Batch, Data, Dataset

from ..convert import to_batch, to_graph
from ..spec import NetworkSpec
from .shards import check_manifest, content_id, load_shard, read_manifest, verify_shard

SPLITS = ("train", "val", "test")


class INRDataset(Dataset):
    """The INRs of one split of a built dataset, each item ``nngraph.to_graph(params, spec, y=label)``.

    Args:
        root: the dataset folder (with ``manifest.json``).
        split: ``"train"``, ``"val"`` or ``"test"``.
        views: use views ``0..views-1`` of each training object (ValueError if the dataset has fewer);
            validation and test objects have view 0 only, which they always give.
        transform: a PyG transform applied to each item (and by `batch`, to the whole batch).
        verify: check each used shard against the manifest's sha256 on opening.
        objects: only the split's first ``objects`` objects (every view of each), e.g. to measure how
            accuracy grows with the training set on one fitted split; refused where the split is
            ordered by class and they would leave classes out.

    Items are read from the shards on demand (safetensors, one row at a time). For fast training:
    `params` (all ``[n, P]`` at once), `labels`, `batch(indices)`, `spec`, `num_classes` and `stats`
    (per-layer normalisation statistics of the training split, for `nngraph.Normalize`).
    """

    def __init__(self, root: str | Path, split: str = "train", views: int = 1, transform=None, verify: bool = True,
                 objects: int | None = None):
        if split not in SPLITS:
            raise ValueError(f"split: expected one of {SPLITS}, got {split!r}")
        manifest = read_manifest(root)
        if not manifest.get("complete"):
            raise ValueError(f"root: {root} holds an unfinished build; rerun the build command to complete it")
        check_manifest(root, manifest)
        available = manifest["views"].get(split)
        if not isinstance(available, int) or available < 1:
            raise ValueError(f"root: {root}/manifest.json gives no view count for split {split!r}")
        if not isinstance(views, int) or views < 1:
            raise ValueError(f"views: expected a positive integer, got {views!r}")
        if split == "train" and views > available:
            raise ValueError(f"views: {root} has {available} view(s) per training object, asked for {views}")
        self.manifest = manifest
        self.split, self.views = split, min(views, available)
        self.spec = NetworkSpec.from_dict(manifest["spec"])
        folder = Path(root)
        entries = [e for e in manifest["shards"] if e["split"] == split]
        self._files = [verify_shard(folder, e) if verify else folder / e["file"] for e in entries]
        # rows are view-major inside a shard: views 0..k-1 are its first k * objects rows
        self._rows = [(e["stop"] - e["start"]) * self.views for e in entries]
        self._starts = torch.tensor([0] + self._rows).cumsum(0)
        self._labels = torch.cat([load_shard(f, r, keys=("label",))["label"] for f, r in zip(self._files, self._rows)]) \
            if entries else torch.empty(0, dtype=torch.long)
        num_classes = int(manifest["num_classes"])
        if len(self._labels) and (self._labels.min() < 0 or self._labels.max() >= num_classes):
            bad = self._labels[(self._labels < 0) | (self._labels >= num_classes)][0].item()
            raise ValueError(f"root: {root} has a {split} label {bad} outside 0..{num_classes - 1} "
                             f"({num_classes} classes in its manifest)")
        self._handles: dict[int, object] = {}
        self._params: torch.Tensor | None = None
        super().__init__(root=str(folder), transform=transform)
        if objects is not None:
            total = manifest["splits"][split]["count"]
            if not isinstance(objects, int) or isinstance(objects, bool) or not 1 <= objects <= total:
                raise ValueError(f"objects: expected 1..{total} ({split} objects of {root}), got {objects!r}")
            self._indices = self._first_objects(entries, objects)
            labels = torch.cat([self._labels[s:s + e["stop"] - e["start"]]  # each object's, in split order (view 0)
                                for e, s in zip(entries, self._starts.tolist())])
            kept, every = len(labels[:objects].unique()), len(labels.unique())
            if kept < every and bool((labels[1:] >= labels[:-1]).all()):  # e.g. ModelNet: its files come class by class
                raise ValueError(f"objects: the first {objects} {split} objects of {root} hold {kept} of the split's "
                                 f"{every} classes (the split is ordered by class), so they are no sample of it")

    def _first_objects(self, entries: list[dict], count: int) -> list[int]:
        """Row indices of the first ``count`` objects, every view (rows are view-major per shard)."""
        rows = []
        for e, start in zip(entries, self._starts.tolist()):
            n = e["stop"] - e["start"]
            take = min(n, count - e["start"])
            rows += [start + v * n + o for v in range(self.views) for o in range(max(take, 0))]
        return sorted(rows)

    # PyG dataset protocol ----------------------------------------------------------------------
    def len(self) -> int:
        return int(self._starts[-1])

    def get(self, idx: int) -> Data:
        shard = int(torch.searchsorted(self._starts, idx, right=True)) - 1
        row = idx - int(self._starts[shard])
        if self._params is not None:
            flat = self._params[idx]
        else:
            flat = self._handle(shard).get_slice("params")[row:row + 1][0]
        return to_graph(flat, self.spec, y=self._labels[idx:idx + 1])

    def _handle(self, shard: int):
        from safetensors import safe_open

        if shard not in self._handles:  # kept open: one row per item read
            self._handles[shard] = safe_open(str(self._files[shard]), framework="pt")
        return self._handles[shard]

    def __getstate__(self):  # open file handles do not cross into DataLoader workers
        state = self.__dict__.copy()
        state["_handles"] = {}
        return state

    # Fast path ---------------------------------------------------------------------------------
    @property
    def content_id(self) -> str:
        """An id of the dataset's content (`nngraph.datasets.shards.content_id`): it changes when any
        INR, label or split does, whatever the folder is called."""
        return content_id(self.manifest)

    @property
    def num_classes(self) -> int:
        return int(self.manifest["num_classes"])

    @property
    def classes(self) -> list[str]:
        return list(self.manifest["classes"])

    @property
    def stats(self) -> dict[str, list[float]]:
        return self.manifest["stats"]

    def _selection(self) -> torch.Tensor | None:
        return None if self._indices is None else torch.as_tensor(list(self.indices()), dtype=torch.long)

    @property
    def labels(self) -> torch.Tensor:
        """``[n]`` class labels (long)."""
        sel = self._selection()
        return self._labels if sel is None else self._labels[sel]

    @property
    def object_ids(self) -> torch.Tensor:
        """``[n]`` the split's object index of every item (its views share one)."""
        ids = torch.cat([torch.arange(e["start"], e["stop"]).repeat(self.views) for e in self.manifest["shards"]
                         if e["split"] == self.split]) if len(self._labels) else torch.empty(0, dtype=torch.long)
        sel = self._selection()
        return ids if sel is None else ids[sel]

    def params(self) -> torch.Tensor:
        """``[n, P]`` float32 parameters of every item, loaded at once (and kept)."""
        if self._params is None:
            parts = [load_shard(f, r, keys=("params",))["params"] for f, r in zip(self._files, self._rows)]
            self._params = torch.cat(parts) if parts else torch.empty(0, self.spec.num_params)
        sel = self._selection()
        return self._params if sel is None else self._params[sel]

    def batch(self, indices, transform: bool = True) -> Batch:
        """The items at ``indices`` as one `Batch` (`nngraph.to_batch`: no per-item graphs), with the
        dataset's transform applied to the whole batch if ``transform`` (it must accept a Batch)."""
        idx = torch.as_tensor(indices, dtype=torch.long).reshape(-1)
        params, labels = self.params(), self.labels
        if len(idx) and (idx.min() < -len(labels) or idx.max() >= len(labels)):
            raise ValueError(f"indices: expected values in 0..{len(labels) - 1}")
        out = to_batch(params[idx], self.spec, y=labels[idx])
        return self.transform(out) if transform and self.transform is not None else out

    def batches(self, batch_size: int, transform: bool = True):
        """The whole dataset in order, as `batch` of ``batch_size`` consecutive items at a time (the
        last one smaller if need be)."""
        for start in range(0, len(self), batch_size):
            yield self.batch(range(start, min(start + batch_size, len(self))), transform)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.manifest['dataset']}, split={self.split}, views={self.views}, n={len(self)})"
