"""Input-space augmentations: a geometric transform of the INR's coordinates, absorbed into its
first layer (paper, Appendix D). Only the first weight matrix and bias change."""
from __future__ import annotations

import math

import torch
from torch_geometric.data import Data

from nngraph import layer_views, with_layers

from .base import WeightSpaceTransform, check_draw, check_number, normal, uniform


def _with_first_layer(g: Data, w1: torch.Tensor, b1: torch.Tensor) -> Data:
    weights, biases = layer_views(g)
    return with_layers(g, [w1] + weights[1:], [b1] + biases[1:])


class Translate(WeightSpaceTransform):
    r"""Shifts the INR's input: the new network computes :math:`x \mapsto f(x + t)`, by absorbing the
    offset into the first bias, :math:`W_1 (x + t) + b_1 = W_1 x + (W_1 t + b_1)`.

    Args:
        max_offset (float): each coordinate of ``t`` is drawn from ``U(-max_offset, max_offset)``
            (default ``0.25``, as in the paper's code).
    """

    _args = ("max_offset",)

    def __init__(self, max_offset: float = 0.25):
        self.max_offset = check_number("max_offset", max_offset, 0)

    def sample(self, g: Data, generator: torch.Generator | None = None) -> torch.Tensor:
        spec, B = self.check(g)
        return uniform((B, spec.layer_sizes[0]), -self.max_offset, self.max_offset, g.x, generator)

    def apply(self, g: Data, t: torch.Tensor) -> Data:
        spec, B = self.check(g)
        check_draw("t", t, (B, spec.layer_sizes[0]))
        weights, biases = layer_views(g)
        b1 = biases[0] + torch.bmm(weights[0], t.to(weights[0]).unsqueeze(2)).squeeze(2)
        return _with_first_layer(g, weights[0], b1)


class Rotate(WeightSpaceTransform):
    r"""Rotates the INR's input: the new network computes :math:`x \mapsto f(R x)` (``W_1 -> W_1 R``).

    In 2D, ``R`` turns by an angle drawn from ``U(-max_degrees, max_degrees)``; in 3D, about an axis
    drawn uniformly on the sphere by such an angle. Other input dimensions are a ValueError.

    Args:
        max_degrees (float): largest rotation angle in degrees (default ``30``).
    """

    _args = ("max_degrees",)

    def __init__(self, max_degrees: float = 30.0):
        self.max_degrees = check_number("max_degrees", max_degrees, 0)

    def sample(self, g: Data, generator: torch.Generator | None = None) -> torch.Tensor:
        spec, B = self.check(g)
        d = spec.layer_sizes[0]
        if d not in (2, 3):
            raise ValueError(f"Rotate: expected an INR of 2D or 3D coordinates, got input size {d} ({spec})")
        theta = uniform((B,), -self.max_degrees, self.max_degrees, g.x, generator) * (math.pi / 180)
        cos, sin = theta.cos(), theta.sin()
        if d == 2:
            return torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)
        axis = normal((B, 3), g.x, generator)
        axis = axis / axis.norm(dim=1, keepdim=True).clamp_min(1e-12)
        ax, ay, az = axis.unbind(1)
        zero = torch.zeros_like(ax)
        cross = torch.stack([torch.stack([zero, -az, ay], 1), torch.stack([az, zero, -ax], 1),
                             torch.stack([-ay, ax, zero], 1)], 1)  # K v = axis x v
        eye = torch.eye(3, dtype=g.x.dtype, device=g.x.device)
        # Rodrigues: R = I + sin(theta) K + (1 - cos(theta)) K^2
        return eye + sin.view(B, 1, 1) * cross + (1 - cos).view(B, 1, 1) * (cross @ cross)

    def apply(self, g: Data, rotation: torch.Tensor) -> Data:
        spec, B = self.check(g)
        d = spec.layer_sizes[0]
        check_draw("rotation", rotation, (B, d, d))
        weights, biases = layer_views(g)
        return _with_first_layer(g, torch.bmm(weights[0], rotation.to(weights[0])), biases[0])


class Scale(WeightSpaceTransform):
    r"""Scales the INR's input: the new network computes :math:`x \mapsto f(s x)` (``W_1 -> s W_1``).

    Args:
        max_change (float): ``s`` is drawn from ``U(1 - max_change, 1 + max_change)`` (default ``0.2``).
    """

    _args = ("max_change",)

    def __init__(self, max_change: float = 0.2):
        self.max_change = check_number("max_change", max_change, 0, 1, high_open=True)

    def sample(self, g: Data, generator: torch.Generator | None = None) -> torch.Tensor:
        _, B = self.check(g)
        return uniform((B,), 1 - self.max_change, 1 + self.max_change, g.x, generator)

    def apply(self, g: Data, s: torch.Tensor) -> Data:
        _, B = self.check(g)
        check_draw("s", s, (B,))
        weights, biases = layer_views(g)
        return _with_first_layer(g, weights[0] * s.to(weights[0]).view(B, 1, 1), biases[0])
