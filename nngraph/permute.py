"""Hidden-neuron permutations: relabel the nodes of each hidden layer (with their incoming and
outgoing edges). The network's function does not change."""
from __future__ import annotations

import torch
from torch_geometric.data import Data

from .views import layer_views, num_graphs, spec_of, with_layers


def random_perms(g: Data, generator: torch.Generator | None = None) -> list[torch.Tensor]:
    """One random permutation per hidden layer: ``[n_l]`` for a graph, ``[B, n_l]`` for a batch."""
    spec, B = spec_of(g), num_graphs(g)
    perms = [torch.rand(B, n, generator=generator, device=g.x.device if generator is None else generator.device)
             .argsort(dim=1).to(g.x.device) for n in spec.hidden_sizes]
    return perms if hasattr(g, "num_graphs") else [p[0] for p in perms]


def invert(perms: list[torch.Tensor]) -> list[torch.Tensor]:
    return [p.argsort(dim=-1) for p in perms]


def permute(g: Data, perms: list[torch.Tensor], signs: list[torch.Tensor] | None = None) -> Data:
    """Relabel hidden neurons: new neuron ``i`` of hidden layer ``l`` is old neuron ``perms[l][i]``.

    ``perms`` has one entry per hidden layer, ``[n_l]`` (or ``[B, n_l]`` for a batch, one permutation
    per graph). ``signs`` (same shapes, +-1) also negates neurons, a symmetry of odd activations:
    incoming weights and bias times the sign, outgoing weights times the sign.
    """
    spec, B = spec_of(g), num_graphs(g)
    hidden = spec.hidden_sizes
    if len(perms) != len(hidden):
        raise ValueError(f"perms: expected {len(hidden)} permutations (one per hidden layer), got {len(perms)}")
    idx = []
    for l, (p, n) in enumerate(zip(perms, hidden)):
        if p.shape[-1:] != (n,) or p.dim() == 2 and p.shape[0] != B:
            raise ValueError(f"perms[{l}]: expected shape ({n},) or ({B}, {n}), got {tuple(p.shape)}")
        p = p.to(g.x.device).long().expand(B, n)
        if not torch.equal(p.sort(dim=1).values, torch.arange(n, device=p.device).expand(B, n)):
            raise ValueError(f"perms[{l}]: not a permutation of 0..{n - 1} (a neuron repeated or out of range)")
        idx.append(p)
    if signs is not None and spec.activation not in ("sine", "tanh"):
        raise ValueError("signs: neuron negation preserves the function only for odd activations (sine, tanh)")
    weights, biases = layer_views(g)
    weights, biases = list(weights), list(biases)
    for l, p in enumerate(idx):  # hidden layer l is the output of weight l and the input of weight l + 1
        w_in, b, w_out = weights[l], biases[l], weights[l + 1]
        w_in = w_in.gather(1, p.unsqueeze(2).expand_as(w_in))
        b = b.gather(1, p)
        w_out = w_out.gather(2, p.unsqueeze(1).expand_as(w_out))
        if signs is not None:
            s = signs[l].reshape(-1, hidden[l]).expand(B, hidden[l]).to(w_in.dtype)
            w_in, b, w_out = w_in * s.unsqueeze(2), b * s, w_out * s.unsqueeze(1)
        weights[l], biases[l], weights[l + 1] = w_in, b, w_out
    return with_layers(g, weights, biases)
