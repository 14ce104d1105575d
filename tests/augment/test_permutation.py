import pytest
import torch

import nngraph
from nngraph.augment import RandomPermutation
from tests.conftest import random_spec


def outputs(g, x):
    weights, biases = nngraph.layer_views(g)
    return nngraph.forward_batched(nngraph.spec_of(g), weights, biases, x)


@pytest.mark.parametrize("seed", range(6))
def test_random_permutation_preserves_function(seed):
    gen = torch.Generator().manual_seed(seed)
    spec = random_spec(gen, activation=("sine", "relu")[seed % 2], max_hidden=4, max_width=40)
    spec = nngraph.NetworkSpec((spec.layer_sizes[0], *[max(n, 3) for n in spec.hidden_sizes], spec.layer_sizes[-1]),
                               spec.activation)
    graphs = [nngraph.to_graph(nngraph.Siren(spec, generator=gen), y=i) for i in range(4)]
    batch = nngraph.collate(graphs)
    x = torch.rand(200, spec.layer_sizes[0], generator=gen) * 2 - 1
    for g in (graphs[0], batch):
        perms = RandomPermutation().sample(g, gen)
        while all(torch.equal(p, torch.arange(p.shape[1]).expand_as(p)) for p in perms):
            perms = RandomPermutation().sample(g, gen)
        out = RandomPermutation().apply(g, perms)
        assert (outputs(out, x) - outputs(g, x)).abs().max() < 1e-5
        assert not torch.equal(out.edge_attr, g.edge_attr)
        # a relabeling: the same multiset of weights and biases
        assert torch.equal(out.edge_attr.flatten().sort().values, g.edge_attr.flatten().sort().values)
        assert torch.equal(out.x.flatten().sort().values, g.x.flatten().sort().values)


def test_draws_are_permutations_and_match_nngraph_permute():
    spec = nngraph.NetworkSpec((2, 6, 9, 1))
    batch = nngraph.collate([nngraph.to_graph(nngraph.Siren(spec)) for _ in range(16)])
    perms = RandomPermutation().sample(batch)
    for p, n in zip(perms, spec.hidden_sizes):
        assert torch.equal(p.sort(dim=1).values, torch.arange(n).expand(16, n))
    out = RandomPermutation().apply(batch, perms)
    ref = nngraph.permute(batch, perms)
    assert torch.equal(out.edge_attr, ref.edge_attr) and torch.equal(out.x, ref.x)
