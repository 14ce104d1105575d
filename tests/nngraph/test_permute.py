import pytest
import torch

import nngraph
from tests.conftest import random_spec


@pytest.mark.parametrize("seed", range(10))
def test_permute_preserves_function_and_inverts(seed):
    gen = torch.Generator().manual_seed(seed)
    spec = random_spec(gen, activation=("sine", "relu")[seed % 2])
    spec = nngraph.NetworkSpec((spec.layer_sizes[0], *[max(n, 2) for n in spec.hidden_sizes], spec.layer_sizes[-1]),
                               spec.activation)
    g = nngraph.to_graph(nngraph.Siren(spec, generator=gen))
    perms = nngraph.random_perms(g, generator=gen)
    while all(torch.equal(p, torch.arange(len(p))) for p in perms):
        perms = nngraph.random_perms(g, generator=gen)
    gp = nngraph.permute(g, perms)
    assert not torch.equal(gp.edge_attr, g.edge_attr)
    x = torch.rand(200, spec.layer_sizes[0], generator=gen) * 2 - 1
    with torch.no_grad():
        assert (nngraph.to_module(gp)(x) - nngraph.to_module(g)(x)).abs().max() < 1e-6
    back = nngraph.permute(gp, nngraph.invert(perms))
    assert torch.equal(back.x, g.x) and torch.equal(back.edge_attr, g.edge_attr)


def test_permute_batch_per_graph_and_signs():
    spec = nngraph.NetworkSpec((2, 6, 5, 1))
    graphs = [nngraph.to_graph(nngraph.Siren(spec)) for _ in range(4)]
    batch = nngraph.collate(graphs)
    perms = nngraph.random_perms(batch)
    signs = [torch.randint(0, 2, p.shape) * 2 - 1 for p in perms]
    out = nngraph.permute(batch, perms, signs)
    x = torch.rand(64, 2) * 2 - 1
    w0, b0 = nngraph.layer_views(batch)
    w1, b1 = nngraph.layer_views(out)
    assert (nngraph.forward_batched(spec, w0, b0, x) - nngraph.forward_batched(spec, w1, b1, x)).abs().max() < 1e-5
    for i, g in enumerate(graphs):  # the batch path equals permuting each graph alone
        gi = nngraph.permute(g, [p[i] for p in perms], [s[i] for s in signs])
        assert torch.equal(out.get_example(i).edge_attr, gi.edge_attr) and torch.equal(out.get_example(i).x, gi.x)
    assert torch.equal(batch.edge_attr, nngraph.collate(graphs).edge_attr)  # input untouched


def test_permute_bad_input():
    g = nngraph.to_graph(nngraph.Siren(nngraph.NetworkSpec((2, 4, 4, 1))))
    with pytest.raises(ValueError, match="expected 2 permutations"):
        nngraph.permute(g, [torch.arange(4)])
    with pytest.raises(ValueError, match=r"perms\[1\]"):
        nngraph.permute(g, [torch.arange(4), torch.arange(3)])
    relu = nngraph.to_graph(nngraph.Siren(nngraph.NetworkSpec((2, 4, 1), "relu")))
    with pytest.raises(ValueError, match="odd activations"):
        nngraph.permute(relu, [torch.arange(4)], [torch.ones(4)])
