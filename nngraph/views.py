"""Dense per-layer views of a graph or a one-spec batch: what DWSNet and the vectorised
augmentations read. Views share memory with the graph; `with_layers` builds new tensors."""
from __future__ import annotations

import copy

import torch
from torch_geometric.data import Data

from .spec import NetworkSpec


def spec_of(g: Data) -> NetworkSpec:
    """The single spec of a graph or of a batch whose graphs all share one; ValueError otherwise."""
    spec = getattr(g, "spec", None)
    if isinstance(spec, list):
        first = spec[0] if spec else None
        if any(s != first for s in spec):
            raise ValueError(f"expected graphs of one spec, got {sorted(set(map(repr, spec)))}")
        spec = first
    if not isinstance(spec, NetworkSpec):
        raise ValueError(f"expected a graph made by nngraph.to_graph (with a NetworkSpec), got spec={spec!r}")
    return spec


def num_graphs(g: Data) -> int:
    return int(getattr(g, "num_graphs", 1) or 1)


def layer_views(g: Data) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Weights ``[B, out, in]`` and biases ``[B, out]`` of every layer (``B = 1`` for a single graph)."""
    spec = spec_of(g)
    B = num_graphs(g)
    _check_sizes(g, spec, B)
    return split_layers(spec, g.edge_attr.reshape(B, -1), g.x.reshape(B, -1)[:, spec.layer_sizes[0]:])


def split_layers(spec, weights: torch.Tensor, biases: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Views of all weights ``[B, E]`` and all biases ``[B, N - n_in]`` (canonical order) as weights
    ``[B, out, in]`` and biases ``[B, out]`` per layer."""
    B, eo, n_in = weights.shape[0], spec.edge_offsets, spec.layer_sizes[0]
    bo = [o - n_in for o in spec.node_offsets[1:]]
    return ([weights[:, eo[l]:eo[l + 1]].reshape(B, o, i) for l, (o, i) in enumerate(spec.weight_shapes)],
            [biases[:, bo[l]:bo[l + 1]] for l in range(spec.num_layers)])


def flat_params(g: Data) -> torch.Tensor:
    """``[B, P]`` flat parameters (``[1, P]`` for a single graph), in the library's canonical order."""
    spec = spec_of(g)
    B = num_graphs(g)
    _check_sizes(g, spec, B)
    return torch.cat([g.edge_attr.reshape(B, -1), g.x.reshape(B, -1)[:, spec.layer_sizes[0]:]], dim=1)


def with_layers(g: Data, weights: list[torch.Tensor], biases: list[torch.Tensor]) -> Data:
    """A shallow copy of ``g`` whose edge and node features are the given layers (new tensors)."""
    B = weights[0].shape[0]
    n_in = spec_of(g).layer_sizes[0]
    out = copy.copy(g)
    out.edge_attr = torch.cat([w.reshape(B, -1) for w in weights], dim=1).reshape(-1, 1)
    x_in = g.x.reshape(B, -1)[:, :n_in]
    out.x = torch.cat([x_in] + list(biases), dim=1).reshape(-1, 1)
    return out


def with_flat_params(g: Data, params: torch.Tensor) -> Data:
    """A shallow copy of ``g`` with flat parameters ``[B, P]`` (or ``[P]``) put in."""
    spec = spec_of(g)
    B, E, n_in = num_graphs(g), spec.num_edges, spec.layer_sizes[0]
    params = params.reshape(B, -1)
    out = copy.copy(g)
    out.edge_attr = params[:, :E].reshape(-1, 1)
    out.x = torch.cat([g.x.reshape(B, -1)[:, :n_in], params[:, E:]], dim=1).reshape(-1, 1)
    return out


def _check_sizes(g: Data, spec, B: int) -> None:
    if g.edge_attr.numel() != B * spec.num_edges or g.x.numel() != B * spec.num_nodes:
        raise ValueError(f"graph does not match {spec}: {B} graph(s) need {B * spec.num_nodes} nodes and "
                         f"{B * spec.num_edges} edges with one feature, got x {tuple(g.x.shape)} and "
                         f"edge_attr {tuple(g.edge_attr.shape)}{STRUCTURE_HINT if g.edge_attr.numel() > B * spec.num_edges else ''}")


# Why a graph may have more edges than its spec: a PyG transform that changes the structure ran on it.
STRUCTURE_HINT = ("; a transform that changes the graph's structure (such as ToUndirected) ran on it: the "
                  "weight-space components read a spec's own edges, so apply such transforms to a copy")
