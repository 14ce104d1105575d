import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment

import nngraph
from nngraph.augment import align_to_reference, match_neurons, weight_matching

SIZES = [(2, 32, 32, 1), (3, 16, 1), (2, 8, 5, 7, 2), (3, 12, 24, 3, 9, 1), (2, 1, 6, 1)]
# Weight matching is a coordinate descent: on very narrow layers (a few neurons, where a neuron's
# outgoing weights weigh as much as its incoming ones) it can stop at a local optimum even for a
# planted permutation. From 16 neurons on, as in INR datasets, it recovers them.
PLANTED_SIZES = [(2, 32, 32, 1), (3, 16, 1), (2, 1, 6, 1), (3, 24, 32, 16, 1), (1, 16, 16, 16, 16, 2)]


def graphs_of(spec, n):
    return [nngraph.to_graph(nngraph.Siren(spec)) for _ in range(n)]


def outputs(g, x):
    weights, biases = nngraph.layer_views(g)
    return nngraph.forward_batched(nngraph.spec_of(g), weights, biases, x)


def distance(a, b):
    return (nngraph.flat_params(a) - nngraph.flat_params(b)).double().norm(dim=1)


def planted(batch, signed):
    perms = nngraph.random_perms(batch)
    signs = [torch.randint(0, 2, p.shape) * 2.0 - 1 for p in perms] if signed else None
    return nngraph.permute(batch, perms, signs)


@pytest.mark.parametrize("sizes", PLANTED_SIZES)
@pytest.mark.parametrize("activation", ["sine", "relu"])
def test_recovers_planted_permutation(sizes, activation):
    spec = nngraph.NetworkSpec(sizes, activation)
    a = nngraph.collate(graphs_of(spec, 6))
    b = planted(a, signed=False)
    aligned = weight_matching(a, b)
    assert torch.equal(aligned.edge_attr, a.edge_attr) and torch.equal(aligned.x, a.x)
    single = weight_matching(a.get_example(2), b.get_example(2))  # the Data path
    assert torch.equal(single.edge_attr, a.get_example(2).edge_attr)


@pytest.mark.parametrize("sizes", PLANTED_SIZES)
def test_signed_recovers_planted_signed_permutation(sizes):
    spec = nngraph.NetworkSpec(sizes)
    a = nngraph.collate(graphs_of(spec, 6))
    b = planted(a, signed=True)
    aligned = weight_matching(a, b, signed=True)
    assert torch.equal(aligned.edge_attr, a.edge_attr) and torch.equal(aligned.x, a.x)


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("signed", [False, True])
def test_unrelated_networks_closer_same_function_fixed_point(sizes, signed):
    spec = nngraph.NetworkSpec(sizes)
    a, b = nngraph.collate(graphs_of(spec, 8)), nngraph.collate(graphs_of(spec, 8))
    before = b.edge_attr.clone(), b.x.clone()
    aligned = weight_matching(a, b, signed=signed)
    assert (distance(a, aligned) <= distance(a, b) * (1 + 1e-6)).all()
    x = torch.rand(200, sizes[0]) * 2 - 1
    assert (outputs(aligned, x) - outputs(b, x)).abs().max() < 1e-5
    assert torch.equal(b.edge_attr, before[0]) and torch.equal(b.x, before[1])
    # stopped at a fixed point: with the other layers as they are, each layer's assignment is optimal
    wa, ba = nngraph.layer_views(a)
    wb, bb = nngraph.layer_views(aligned)
    for h in range(spec.num_layers - 1):
        sim = (wa[h] @ wb[h].transpose(1, 2) + ba[h].unsqueeze(2) * bb[h].unsqueeze(1)
               + wa[h + 1].transpose(1, 2) @ wb[h + 1]).double().numpy()
        for s in sim:
            score = np.abs(s) if signed else s
            rows, cols = linear_sum_assignment(score, maximize=True)
            assert score[rows, cols].sum() <= np.trace(s) + 1e-6 * np.abs(s).sum()


def test_improves_distance_on_average_and_broadcasts_reference():
    spec = nngraph.NetworkSpec((2, 32, 32, 1))
    ref = graphs_of(spec, 1)[0]
    b = nngraph.collate(graphs_of(spec, 16))
    aligned = weight_matching(ref, b)  # one reference for the whole batch
    assert (distance(ref, aligned) < distance(ref, b)).all()
    for i in (0, 7):  # pairwise: graph i of the batch against the reference alone
        alone = weight_matching(ref, b.get_example(i))
        assert distance(ref, alone) <= distance(ref, b.get_example(i)) * (1 + 1e-6)


def test_match_neurons_returns_permutations_and_signs():
    spec = nngraph.NetworkSpec((2, 9, 7, 1))
    a, b = nngraph.collate(graphs_of(spec, 4)), nngraph.collate(graphs_of(spec, 4))
    perms, signs = match_neurons(*nngraph.layer_views(a), *nngraph.layer_views(b), signed=True)
    for p, s, n in zip(perms, signs, spec.hidden_sizes):
        assert p.shape == (4, n) and torch.equal(p.sort(1).values, torch.arange(n).expand(4, n))
        assert set(s.unique().tolist()) <= {-1.0, 1.0}
    aligned = weight_matching(a, b, signed=True, generator=torch.Generator().manual_seed(0))
    again = weight_matching(a, b, signed=True, generator=torch.Generator().manual_seed(0))
    assert torch.equal(aligned.edge_attr, again.edge_attr)


def test_align_to_reference():
    spec = nngraph.NetworkSpec((2, 16, 16, 1))
    ref = nngraph.flat_params(graphs_of(spec, 1)[0])[0]
    copies = nngraph.to_batch(ref.expand(10, -1).contiguous(), spec)
    copies = planted(copies, signed=True)
    params = nngraph.flat_params(copies)
    aligned = align_to_reference(params, spec, ref, signed=True, chunk_size=3)
    assert aligned.shape == params.shape and torch.equal(aligned, ref.expand(10, -1))
    others = torch.cat([nngraph.flat_params(g) for g in graphs_of(spec, 5)])
    out = align_to_reference(others, spec, ref)
    assert ((out - ref).norm(dim=1) <= (others - ref).norm(dim=1) * (1 + 1e-6)).all()


def test_bad_input():
    sine = nngraph.to_graph(nngraph.Siren(nngraph.NetworkSpec((2, 4, 1))))
    other = nngraph.to_graph(nngraph.Siren(nngraph.NetworkSpec((2, 5, 1))))
    relu = nngraph.to_graph(nngraph.Siren(nngraph.NetworkSpec((2, 4, 1), "relu")))
    with pytest.raises(ValueError, match="spec"):
        weight_matching(sine, other)
    with pytest.raises(ValueError, match="odd activations"):
        weight_matching(relu, relu, signed=True)
    with pytest.raises(ValueError, match="g_a"):
        weight_matching(nngraph.collate([sine] * 3), nngraph.collate([sine] * 2))
    with pytest.raises(ValueError, match="params"):
        align_to_reference(torch.zeros(3, 5), sine.spec, torch.zeros(17))
    with pytest.raises(ValueError, match="max_iter"):
        weight_matching(sine, sine, max_iter=0)
