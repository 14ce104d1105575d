"""Activation symmetries: per-neuron edits of a hidden neuron's incoming weights, bias and outgoing
weights that leave the network's function unchanged (paper, Section 3)."""
from __future__ import annotations

import math

import torch
from torch_geometric.data import Data

from nngraph import layer_views, with_layers

from .base import WeightSpaceTransform, check_layer_draws, check_number, integers, uniform


def rescale_neurons(g: Data, in_scale: list[torch.Tensor], out_scale: list[torch.Tensor],
                    bias_shift: list[torch.Tensor] | None = None) -> Data:
    """For every hidden neuron ``j`` of hidden layer ``h``: incoming weights and bias times
    ``in_scale[h][:, j]``, then ``bias_shift[h][:, j]`` added to the bias, outgoing weights times
    ``out_scale[h][:, j]`` (all ``[B, n_h]``)."""
    weights, biases = layer_views(g)
    weights, biases = list(weights), list(biases)
    for h, (s_in, s_out) in enumerate(zip(in_scale, out_scale)):
        weights[h] = weights[h] * s_in.to(weights[h]).unsqueeze(2)
        biases[h] = biases[h] * s_in.to(biases[h])
        if bias_shift is not None:
            biases[h] = biases[h] + bias_shift[h].to(biases[h])
        weights[h + 1] = weights[h + 1] * s_out.to(weights[h + 1]).unsqueeze(1)
    return with_layers(g, weights, biases)


class SirenNegation(WeightSpaceTransform):
    r"""Negates hidden neurons of a sine network: since sine is odd,
    :math:`W_{i+1} \sin(W_i x + b) = -W_{i+1} \sin(-W_i x - b)`, so a neuron's incoming weights, bias
    and outgoing weights flip sign together. Each hidden neuron is negated independently.

    Args:
        p (float): probability of negating each hidden neuron (default ``0.5``).
    """

    activation = "sine"
    _args = ("p",)

    def __init__(self, p: float = 0.5):
        self.p = check_number("p", p, 0, 1)

    def sample(self, g: Data, generator: torch.Generator | None = None) -> list[torch.Tensor]:
        """Signs ``[B, n_h]`` (+-1) per hidden layer."""
        spec, B = self.check(g)
        return [1 - 2 * (uniform((B, n), 0, 1, g.x, generator) < self.p).to(g.x.dtype) for n in spec.hidden_sizes]

    def apply(self, g: Data, signs: list[torch.Tensor]) -> Data:
        spec, B = self.check(g)
        check_layer_draws("signs", signs, B, spec.hidden_sizes)
        return rescale_neurons(g, signs, signs)


class SirenBias(WeightSpaceTransform):
    r"""Shifts the phase of hidden sine neurons by :math:`k\pi`: :math:`W_{i+1}\sin(z) =
    (-1)^k W_{i+1}\sin(z + k\pi)`. A sine layer computes :math:`\sin(w_0 (W x + b))`, so the bias
    moves by :math:`k\pi / w_0`, and the outgoing weights flip sign when ``k`` is odd. ``k`` is drawn
    per hidden neuron, uniformly among the integers of ``[k_min, k_max]``.

    Args:
        k_min (int): smallest shift, in multiples of :math:`\pi` (default ``-4``).
        k_max (int): largest shift, included (default ``3``).
    """

    activation = "sine"
    _args = ("k_min", "k_max")

    def __init__(self, k_min: int = -4, k_max: int = 3):
        for name, k in (("k_min", k_min), ("k_max", k_max)):
            if not isinstance(k, int) or isinstance(k, bool):
                raise ValueError(f"{name}: expected an integer, got {k!r}")
        if k_min > k_max:
            raise ValueError(f"k_max: expected at least k_min={k_min}, got {k_max}")
        self.k_min, self.k_max = k_min, k_max

    def sample(self, g: Data, generator: torch.Generator | None = None) -> list[torch.Tensor]:
        """Integer shifts ``k`` ``[B, n_h]`` per hidden layer."""
        spec, B = self.check(g)
        return [integers(self.k_min, self.k_max, (B, n), g.x, generator) for n in spec.hidden_sizes]

    def apply(self, g: Data, k: list[torch.Tensor]) -> Data:
        spec, B = self.check(g)
        check_layer_draws("k", k, B, spec.hidden_sizes)
        ones = [torch.ones(B, n, dtype=g.x.dtype, device=g.x.device) for n in spec.hidden_sizes]
        flips = [1 - 2 * (kh.remainder(2)).to(g.x.dtype) for kh in k]
        shifts = [kh.to(g.x.dtype) * (math.pi / spec.w0) for kh in k]
        return rescale_neurons(g, ones, flips, shifts)


class ReLUScale(WeightSpaceTransform):
    r"""Rescales hidden ReLU neurons: for :math:`c > 0`, :math:`\frac{1}{c} W_{i+1}\mathrm{ReLU}(c W_i x
    + c b_i) = W_{i+1}\mathrm{ReLU}(W_i x + b_i)`. ``c`` is drawn per hidden neuron, log-uniformly in
    ``[1 / max_factor, max_factor]`` (so ``c`` and ``1 / c`` are equally likely).

    Args:
        max_factor (float): largest factor, ``> 1`` (default ``2``).
    """

    activation = "relu"
    _args = ("max_factor",)

    def __init__(self, max_factor: float = 2.0):
        self.max_factor = check_number("max_factor", max_factor, 1, low_open=True)

    def sample(self, g: Data, generator: torch.Generator | None = None) -> list[torch.Tensor]:
        """Factors ``c`` ``[B, n_h]`` per hidden layer."""
        spec, B = self.check(g)
        r = math.log(self.max_factor)
        return [uniform((B, n), -r, r, g.x, generator).exp() for n in spec.hidden_sizes]

    def apply(self, g: Data, c: list[torch.Tensor]) -> Data:
        spec, B = self.check(g)
        check_layer_draws("c", c, B, spec.hidden_sizes)
        if any((ch <= 0).any() for ch in c):
            raise ValueError("c: expected positive factors (ReLU commutes only with positive scaling)")
        return rescale_neurons(g, c, [1 / ch for ch in c])
