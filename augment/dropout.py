"""Zeroing parameters: at random (`Dropout`) or the smallest in magnitude (`QuantileDropout`)."""
from __future__ import annotations

import torch
from torch_geometric.data import Data

from nngraph import flat_params, with_flat_params

from .base import WeightSpaceTransform, check_draw, check_number, uniform


class Dropout(WeightSpaceTransform):
    r"""Sets each parameter (weights and biases) to 0 with probability ``p`` (paper, Appendix D).

    Args:
        p (float): drop probability (default ``0.1``).
        rescale (bool): multiply the surviving parameters by :math:`1 / (1 - p)` as ``nn.Dropout``
            does (default ``False``: the paper describes plain zeroing).
    """

    _args = ("p", "rescale")

    def __init__(self, p: float = 0.1, rescale: bool = False):
        self.p = check_number("p", p, 0, 1, high_open=True)
        self.rescale = bool(rescale)

    def sample(self, g: Data, generator: torch.Generator | None = None) -> torch.Tensor:
        """The keep mask ``[B, P]`` (bool)."""
        spec, B = self.check(g)
        return uniform((B, spec.num_params), 0, 1, g.x, generator) >= self.p

    def apply(self, g: Data, keep: torch.Tensor) -> Data:
        spec, B = self.check(g)
        check_draw("keep", keep, (B, spec.num_params))
        params = flat_params(g)
        kept = params * keep.to(params)
        return with_flat_params(g, kept / (1 - self.p) if self.rescale else kept)


class QuantileDropout(WeightSpaceTransform):
    r"""Zeroes the fraction ``q`` of each network's parameters closest to 0, with ``q`` drawn from
    ``U(0, max_quantile)`` per graph: parameters with :math:`|w|` below the ``q``-quantile of all
    :math:`|w|` of the network (linear interpolation, as ``torch.quantile``) become 0.

    Args:
        max_quantile (float): largest fraction zeroed (default ``0.1``).
    """

    _args = ("max_quantile",)

    def __init__(self, max_quantile: float = 0.1):
        self.max_quantile = check_number("max_quantile", max_quantile, 0, 1)

    def sample(self, g: Data, generator: torch.Generator | None = None) -> torch.Tensor:
        _, B = self.check(g)
        return uniform((B,), 0, self.max_quantile, g.x, generator)

    def apply(self, g: Data, q: torch.Tensor) -> Data:
        spec, B = self.check(g)
        check_draw("q", q, (B,))
        params = flat_params(g)
        mag = params.abs()
        # torch.quantile takes one q for the whole batch: interpolate each graph's own order
        # statistics instead, of which only the smallest up to max(q) are needed
        P = spec.num_params
        pos = q.to(params).clamp(0, 1) * (P - 1)
        lo = pos.floor().long().clamp(max=P - 1)
        hi = (lo + 1).clamp(max=P - 1)
        k = int(hi.max()) + 1 if B else 1
        smallest = mag.topk(k, dim=1, largest=False, sorted=True).values if k < P else mag.sort(dim=1).values
        v_lo, v_hi = smallest.gather(1, lo.unsqueeze(1)), smallest.gather(1, hi.unsqueeze(1))
        threshold = v_lo + (pos - lo).unsqueeze(1) * (v_hi - v_lo)
        return with_flat_params(g, torch.where(mag < threshold, torch.zeros_like(params), params))
