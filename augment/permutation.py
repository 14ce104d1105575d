"""Random relabeling of hidden neurons: the graph's node order changes, its function does not."""
from __future__ import annotations

import torch
from torch_geometric.data import Data

from nngraph import permute

from .base import WeightSpaceTransform, check_layer_draws, uniform


class RandomPermutation(WeightSpaceTransform):
    r"""Permutes the neurons of every hidden layer at random, independently per graph and layer
    (via `nngraph.permute`): new neuron ``i`` of hidden layer ``h`` is old neuron ``perms[h][:, i]``.
    Any activation; a normalised graph too (per-layer standardisation commutes with relabelling)."""

    raw_weights = False

    def sample(self, g: Data, generator: torch.Generator | None = None) -> list[torch.Tensor]:
        """Permutations ``[B, n_h]`` per hidden layer."""
        spec, B = self.check(g)
        return [uniform((B, n), 0, 1, g.x, generator).argsort(dim=1) for n in spec.hidden_sizes]

    def apply(self, g: Data, perms: list[torch.Tensor]) -> Data:
        spec, B = self.check(g)
        check_layer_draws("perms", perms, B, spec.hidden_sizes)
        return permute(g, perms)
