"""Reconstruction: evaluate INRs (a graph or a one-spec batch) on a regular grid, as images or SDF
volumes, through `nngraph.forward_batched`."""
from __future__ import annotations

import torch
from torch_geometric.data import Data

from ..siren import forward_batched
from ..views import layer_views, spec_of


def coordinate_grid(*sizes: int, device=None) -> torch.Tensor:
    """``[prod(sizes), len(sizes)]`` grid points in ``[-1, 1]`` per axis, row-major (``ij``) order: the
    coordinates image and shape INRs are fitted on (pixel ``(r, c)`` is at ``(row, col)`` coordinate)."""
    if len(sizes) == 1 and isinstance(sizes[0], (tuple, list, torch.Size)):  # coordinate_grid((28, 28)) too
        sizes = tuple(sizes[0])
    if not sizes or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 1 for s in sizes):
        raise ValueError(f"sizes: expected positive integer grid sizes, e.g. (28, 28), got {sizes}")
    axes = [torch.linspace(-1.0, 1.0, int(s), device=device) for s in sizes]
    return torch.stack(torch.meshgrid(*axes, indexing="ij"), dim=-1).reshape(-1, len(sizes))


def _evaluate(g: Data, sizes: tuple[int, ...]) -> torch.Tensor:
    spec = spec_of(g)
    if spec.layer_sizes[0] != len(sizes) or spec.layer_sizes[-1] != 1:
        raise ValueError(f"expected INRs with {len(sizes)} inputs and 1 output for this grid, got {spec}")
    weights, biases = layer_views(g)
    with torch.no_grad():
        out = forward_batched(spec, weights, biases, coordinate_grid(*sizes, device=g.x.device))
    return out.reshape(-1, *sizes)


def render_image(g: Data, size: tuple[int, int] = (28, 28)) -> torch.Tensor:
    """``[B, H, W]`` images of 2D INRs (``B = 1`` for a single graph); grey levels on the fitting
    scale (``[0, 1]``), not clipped."""
    return _evaluate(g, tuple(size))


def render_sdf(g: Data, resolution: int = 32) -> torch.Tensor:
    """``[B, R, R, R]`` signed distances of 3D shape INRs on a grid over ``[-1, 1]^3``."""
    return _evaluate(g, (resolution,) * 3)
