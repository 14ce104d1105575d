"""Gaussian noise on every parameter, scaled to the spread of the tensor it lands in."""
from __future__ import annotations

import torch
from torch_geometric.data import Data

from nngraph import NetworkSpec, flat_params, with_flat_params

from .base import WeightSpaceTransform, check_draw, check_number, normal


def segment_sizes(spec: NetworkSpec) -> list[int]:
    """Sizes of the parameter tensors in flat order: every weight matrix, then every bias."""
    return [o * i for o, i in spec.weight_shapes] + list(spec.layer_sizes[1:])


class GaussianNoise(WeightSpaceTransform):
    r"""Adds :math:`\epsilon \cdot \text{scale} \cdot \sigma` to every parameter, with
    :math:`\epsilon \sim N(0, 1)` and :math:`\sigma` the standard deviation of the tensor the parameter
    belongs to (each layer's weights, each layer's biases), per graph (paper, Appendix D).

    A tensor with a single entry (e.g. the bias of a scalar output) has no spread and gets no noise.

    Args:
        scale (float): noise level relative to each tensor's standard deviation (default ``0.32``).
    """

    _args = ("scale",)

    def __init__(self, scale: float = 0.32):
        self.scale = check_number("scale", scale, 0)

    def sample(self, g: Data, generator: torch.Generator | None = None) -> torch.Tensor:
        spec, B = self.check(g)
        return normal((B, spec.num_params), g.x, generator)

    def apply(self, g: Data, eps: torch.Tensor) -> Data:
        spec, B = self.check(g)
        check_draw("eps", eps, (B, spec.num_params))
        params = flat_params(g)
        sizes = segment_sizes(spec)
        std = torch.stack([s.std(dim=1) if s.shape[1] > 1 else s.new_zeros(B) for s in params.split(sizes, dim=1)], 1)
        std = std.repeat_interleave(torch.tensor(sizes, device=params.device), dim=1)
        return with_flat_params(g, params + eps.to(params) * (self.scale * std))
