"""Per-layer standardisation of a network graph's weights and biases with training-set statistics.

A normalised graph says so (``g.normalized``, `is_normalized`): its weights are no longer a
network's, so the transforms that rely on the raw weights (the symmetries, the input-space and
generic augmentations), `nngraph.to_params` and `nngraph.to_module` refuse it, and `Normalize`
refuses to run twice. Augment first, normalise last; `Normalize.inverse` gives the raw graph back.

The flag is per graph (``normalized``: one integer per graph, an id of the statistics used, 0 for
none), so it survives PyG's collate, ``batch[i]`` and ``to_data_list()``, and `Normalize.inverse`
refuses graphs normalised with other statistics."""
from __future__ import annotations

import hashlib
import json

import torch
from torch_geometric.data import Batch, Data
from torch_geometric.transforms import BaseTransform

from .views import num_graphs, spec_of

_KEYS = ("weight_mean", "weight_std", "bias_mean", "bias_std")


def is_normalized(g: Data) -> bool:
    """Whether `Normalize` ran on ``g`` (a graph, or a batch of graphs any of which it ran on)."""
    flag = getattr(g, "normalized", None)
    if isinstance(flag, torch.Tensor):
        return bool(flag.any())
    if isinstance(flag, (list, tuple)):
        return any(flag)
    return bool(flag)


def check_raw(g: Data, what: str) -> None:
    """Refuse a normalised graph where ``what`` needs the network's own weights."""
    if is_normalized(g):
        raise ValueError(f"{what}: the graph is normalised, so its weights are not the network's; apply {what} "
                         "before Normalize (augment first, normalise last) or undo it with Normalize.inverse")


def clear_normalized(data: Data) -> Data:
    """``data`` without its normalised flag (its values are raw weights again), in place."""
    if "normalized" in data:
        del data.normalized
    if isinstance(data, Batch) and hasattr(data, "_slice_dict"):  # new dicts: a shallow copy shares them
        data._slice_dict = {k: v for k, v in data._slice_dict.items() if k != "normalized"}
        data._inc_dict = {k: v for k, v in data._inc_dict.items() if k != "normalized"}
    return data


class Normalize(BaseTransform):
    """Standardise each layer: weights of layer ``l`` become ``(w - weight_mean[l]) / weight_std[l]``,
    biases alike; input neurons keep ``x = 0``. Works on a graph or a one-spec `Batch` at once.

    Args:
        stats: ``{"weight_mean", "weight_std", "bias_mean", "bias_std"}``, one value per layer (e.g.
            `INRDataset.stats`, computed on the training split).
        eps: floor of the standard deviations.
    """

    def __init__(self, stats: dict, eps: float = 1e-8):
        missing = [k for k in _KEYS if k not in stats]
        if missing:
            raise ValueError(f"stats: missing {missing}; expected per-layer lists {_KEYS}")
        lengths = {len(stats[k]) for k in _KEYS}
        if len(lengths) != 1:
            raise ValueError(f"stats: expected lists of one length (one value per layer), got lengths {lengths}")
        self.stats = {k: torch.as_tensor(stats[k], dtype=torch.float32) for k in _KEYS}
        self.eps = eps
        text = json.dumps({k: self.stats[k].tolist() for k in _KEYS} | {"eps": eps}, sort_keys=True)
        self.id = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little") >> 1 or 1
        self._cache: dict = {}

    def _vectors(self, spec, device):
        key = (spec, device)
        if key not in self._cache:
            L = spec.num_layers
            if len(self.stats["weight_mean"]) != L:
                raise ValueError(f"stats: has {len(self.stats['weight_mean'])} layers, the graph's {spec} has {L}")
            s = {k: v.to(device) for k, v in self.stats.items()}
            e_layer, n_layer = spec.edge_layer.to(device), spec.node_layer.to(device)
            bias_of = (n_layer - 1).clamp_min(0)  # node of layer l >= 1 holds a bias of weight l - 1
            is_input = n_layer == 0
            self._cache[key] = (
                s["weight_mean"][e_layer], s["weight_std"].clamp_min(self.eps)[e_layer],
                torch.where(is_input, 0.0, s["bias_mean"][bias_of]),
                torch.where(is_input, 1.0, s["bias_std"].clamp_min(self.eps)[bias_of]))
        return self._cache[key]

    def forward(self, data: Data) -> Data:
        if is_normalized(data):
            raise ValueError("Normalize: the graph is already normalised (Normalize ran twice)")
        spec, B = spec_of(data), num_graphs(data)
        w_mean, w_std, b_mean, b_std = self._vectors(spec, data.x.device)
        ea = data.edge_attr.reshape(B, spec.num_edges)
        x = data.x.reshape(B, spec.num_nodes)
        data.edge_attr = ((ea - w_mean) / w_std).reshape(-1, 1)
        data.x = ((x - b_mean) / b_std).reshape(-1, 1)
        data.normalized = torch.full((B,), self.id, dtype=torch.long, device=data.x.device)
        if isinstance(data, Batch) and hasattr(data, "_slice_dict"):  # so that batch[i] and to_data_list keep it
            data._slice_dict = {**data._slice_dict, "normalized": torch.arange(B + 1)}
            data._inc_dict = {**data._inc_dict, "normalized": torch.zeros(B, dtype=torch.long)}
        return data

    def inverse(self, data: Data) -> Data:
        """The raw graph of a graph (or one-spec batch) this normaliser normalised."""
        if not is_normalized(data):
            raise ValueError("Normalize.inverse: the graph is not normalised")
        flag = data.normalized
        if not (isinstance(flag, torch.Tensor) and bool((flag == self.id).all())):
            raise ValueError("Normalize.inverse: the graph was normalised with other statistics than these "
                             "(another dataset's?); invert it with the Normalize that normalised it")
        data = data.clone() if not isinstance(data, Batch) else data.__copy__()
        spec, B = spec_of(data), num_graphs(data)
        w_mean, w_std, b_mean, b_std = self._vectors(spec, data.x.device)
        data.edge_attr = (data.edge_attr.reshape(B, spec.num_edges) * w_std + w_mean).reshape(-1, 1)
        data.x = (data.x.reshape(B, spec.num_nodes) * b_std + b_mean).reshape(-1, 1)
        return clear_normalized(data)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(layers={len(self.stats['weight_mean'])})"
