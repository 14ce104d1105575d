"""Batching graphs: a fast path for graphs of one spec (concatenate features, reuse the shared
structure) that builds exactly the `Batch` PyG's own collate builds, and a loader that uses it."""
from __future__ import annotations

from collections.abc import Sequence

import torch
from torch.utils.data import DataLoader as TorchDataLoader
from torch_geometric.data import Batch, Data

from .convert import _assemble
from .views import spec_of

_BUILT = ("edge_index", "layer", "spec")  # derived from the spec, not concatenated


def collate(graphs: Sequence[Data], require_one_spec: bool = False) -> Batch:
    """Batch graphs. Graphs sharing one spec (the usual case) take the fast path; otherwise
    ``Batch.from_data_list``, unless ``require_one_spec``, which makes mixed specs a ValueError."""
    if len(graphs) == 0:
        raise ValueError("collate: expected at least one graph")
    first = graphs[0]
    spec = spec_of(first)
    maps = [g._store._mapping for g in graphs]  # plain dicts: attribute access on Data is slow
    keys = maps[0].keys()
    flagged = ["normalized" in m for m in maps]
    if any(flagged) and not all(flagged):  # PyG would fail on the missing key, or batch the two as one
        raise ValueError(f"collate: {sum(flagged)} of {len(maps)} graphs are normalised and the others raw; "
                         "normalise every graph of a batch, or none")
    same = all((m.get("spec") is spec or m.get("spec") == spec) and m.keys() == keys for m in maps)
    if not same:
        if require_one_spec:
            found = sorted({repr(m.get("spec")) for m in maps})
            raise ValueError(f"collate: expected graphs of one spec with the same fields, got specs {found}")
        return Batch.from_data_list(list(graphs))
    fields = {}
    for key in keys:
        if key in _BUILT:
            continue
        value = maps[0][key]
        if not isinstance(value, torch.Tensor):
            return Batch.from_data_list(list(graphs))
        dim = first.__cat_dim__(key, value)
        if dim != 0:  # rare layouts: let PyG handle them
            return Batch.from_data_list(list(graphs))
        fields[key] = torch.cat([m[key] for m in maps])
    return _assemble(spec, len(graphs), fields)


class DataLoader(TorchDataLoader):
    """A ``torch.utils.data.DataLoader`` over graphs that batches with `collate` unless given a
    ``collate_fn`` of yours (PyG's own ``torch_geometric.loader.DataLoader`` works too, at PyG's collate
    speed)."""

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False, collate_fn=None, **kwargs):
        super().__init__(dataset, batch_size=batch_size, shuffle=shuffle, collate_fn=collate_fn or collate, **kwargs)
