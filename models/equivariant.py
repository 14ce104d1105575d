"""An equivariant weight-space network: per-weight and per-bias outputs, returned as a graph batch of
the input's structure (INR editing, learned optimisers, predicting a network's next weights)."""
from __future__ import annotations

import copy

import torch
from torch import nn
from torch_geometric.data import Data

import nngraph

from .dwsnet import POOLING, DWSLayer, from_pieces, to_pieces
from .encoding import check_batch


class DWSEquivariant(nn.Module):
    """DWS layers from one channel to ``hidden_dim`` and back to ``out_channels``, ReLU between: a map
    from networks of ``spec`` to values on their weights and biases that commutes with every
    permutation of their hidden neurons.

    ``forward(batch)`` returns a shallow copy of the batch whose ``edge_attr [E, C]`` (one row per
    weight) and ``x [N, C]`` (per bias; input neurons 0) are the outputs, so `nngraph.layer_views`,
    `nngraph.to_params` and `nngraph.permute` read them as they read networks (``C = 1``).
    ``residual``: add the input to the output (predict a change of the weights).
    """

    def __init__(self, spec: nngraph.NetworkSpec, hidden_dim: int = 32, num_layers: int = 2, out_channels: int = 1,
                 pooling: str = "mean", residual: bool = False):
        super().__init__()
        if pooling not in POOLING:
            raise ValueError(f"pooling: expected one of {POOLING}, got {pooling!r}")
        if num_layers < 1 or hidden_dim < 1 or out_channels < 1:
            raise ValueError(f"num_layers, hidden_dim, out_channels: expected positive integers, got "
                             f"{num_layers}, {hidden_dim}, {out_channels}")
        if residual and out_channels != 1:
            raise ValueError("residual: needs out_channels=1 (the input has one channel)")
        widths = [1] + [hidden_dim] * num_layers + [out_channels]
        self.spec, self.residual = spec, residual
        self.layers = nn.ModuleList(DWSLayer(spec, i, o, pooling) for i, o in zip(widths[:-1], widths[1:]))

    def forward(self, batch: Data) -> Data:
        check_batch(batch, self.spec, type(self).__name__)
        weights, biases = nngraph.layer_views(batch)
        xs = to_pieces(self.spec, weights, biases)
        for k, layer in enumerate(self.layers):
            xs = layer(xs)
            if k < len(self.layers) - 1:
                xs = [y.relu() for y in xs]
        out_w, out_b = from_pieces(self.spec, xs)
        if self.residual:
            out_w = [o + w.unsqueeze(-1) for o, w in zip(out_w, weights)]
            out_b = [o + b.unsqueeze(-1) for o, b in zip(out_b, biases)]
        B, C, n_in = out_w[0].shape[0], out_w[0].shape[-1], self.spec.layer_sizes[0]
        out = copy.copy(batch)  # the structure is shared; the features are new tensors
        out.edge_attr = torch.cat([w.reshape(B, -1, C) for w in out_w], dim=1).reshape(-1, C)
        x_in = out_b[0].new_zeros(B, n_in, C)
        out.x = torch.cat([x_in] + [b.reshape(B, -1, C) for b in out_b], dim=1).reshape(-1, C)
        return nngraph.normalize.clear_normalized(out)  # values on the weights, not the input's standardised weights
