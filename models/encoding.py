"""Scalar-to-vector encodings shared by the weight-space models, and the batch checks they share."""
from __future__ import annotations

import math

import torch
from torch import nn
from torch_geometric.data import Data

import nngraph


class FourierFeatures(nn.Module):
    """Random Fourier features of a scalar: ``[cos(2 pi f x), sin(2 pi f x)]`` for fixed Gaussian
    frequencies ``f ~ N(0, sigma^2)`` (Tancik et al., 2020), then a linear map to ``out_dim``.

    Weights and biases are single numbers whose useful scale varies by orders of magnitude between
    layers; the sinusoids give the model many scales at once. ``sigma`` should match the scale of
    the inputs (about 1 for inputs normalised per layer).

    Args:
        out_dim: size of the encoding.
        num_frequencies: number of frequencies (the features have twice as many entries). (default: 128)
        sigma: standard deviation of the frequencies. (default: 1.0)
    """

    def __init__(self, out_dim: int, num_frequencies: int = 128, sigma: float = 1.0):
        super().__init__()
        if num_frequencies < 1:
            raise ValueError(f"num_frequencies: expected a positive integer, got {num_frequencies}")
        if not sigma > 0:
            raise ValueError(f"sigma: expected a positive number, got {sigma}")
        self.sigma = sigma
        # Fixed, not learned; a buffer so that it is saved and moved with the model.
        self.register_buffer("frequencies", torch.randn(num_frequencies) * (2 * math.pi * sigma))
        self.proj = nn.Linear(2 * num_frequencies, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``x [...]`` -> ``[..., out_dim]``."""
        z = x.unsqueeze(-1) * self.frequencies
        return self.proj(torch.cat([z.cos(), z.sin()], dim=-1))

    def extra_repr(self) -> str:
        return f"num_frequencies={self.frequencies.numel()}, sigma={self.sigma:g}"


def check_batch(batch: Data, spec: nngraph.NetworkSpec, model: str) -> int:
    """The number of graphs in ``batch``; ValueError unless every graph has the spec the model was
    built for, with one feature per node and per edge."""
    try:
        found = nngraph.spec_of(batch)
    except ValueError as e:
        raise ValueError(f"batch: {model} expects graphs of {spec}; {e}") from None
    if found != spec:
        raise ValueError(f"batch: {model} was built for {spec}, got graphs of {found}")
    B = nngraph.num_graphs(batch)
    x, edge_attr = batch.x, batch.edge_attr
    if x is None or edge_attr is None or x.numel() != B * spec.num_nodes or edge_attr.numel() != B * spec.num_edges:
        raise ValueError(f"batch: {B} graph(s) of {spec} need x [{B * spec.num_nodes}, 1] and edge_attr "
                         f"[{B * spec.num_edges}, 1], got x {None if x is None else tuple(x.shape)} and "
                         f"edge_attr {None if edge_attr is None else tuple(edge_attr.shape)}"
                         f"{nngraph.views.STRUCTURE_HINT if edge_attr is not None and edge_attr.numel() > B * spec.num_edges else ''}")
    return B
