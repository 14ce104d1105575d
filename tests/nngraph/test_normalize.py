import pytest
import torch
from torch_geometric.data import Batch

import nngraph

SPEC = nngraph.NetworkSpec((2, 5, 4, 3))
STATS = {"weight_mean": [0.1, -0.2, 0.3], "weight_std": [0.5, 2.0, 0.25],
         "bias_mean": [1.0, 0.0, -1.0], "bias_std": [0.1, 1.0, 3.0]}


def reference(g):
    """Layer by layer, on the dense views."""
    weights, biases = nngraph.layer_views(g)
    w = [(t - STATS["weight_mean"][l]) / STATS["weight_std"][l] for l, t in enumerate(weights)]
    b = [(t - STATS["bias_mean"][l]) / STATS["bias_std"][l] for l, t in enumerate(biases)]
    return w, b


def random_graphs(n):
    return [nngraph.to_graph(torch.randn(SPEC.num_params), SPEC, y=i) for i in range(n)]


def test_matches_per_layer_reference_on_a_graph():
    g = random_graphs(1)[0]
    x, ea = g.x.clone(), g.edge_attr.clone()
    out = nngraph.Normalize(STATS)(g)
    w, b = nngraph.layer_views(out)
    rw, rb = reference(g)
    assert all(torch.allclose(p, q) for p, q in zip(w + b, rw + rb))
    assert torch.equal(out.x[:2], torch.zeros(2, 1))  # input neurons stay 0
    assert torch.equal(g.x, x) and torch.equal(g.edge_attr, ea)  # input untouched
    assert out.edge_index is g.edge_index and torch.equal(out.y, g.y)


def test_batch_at_once_equals_each_graph():
    graphs = random_graphs(4)
    norm = nngraph.Normalize(STATS)
    batch = Batch.from_data_list(graphs)
    x = batch.x.clone()
    out = norm(batch)
    one_by_one = Batch.from_data_list([norm(g) for g in graphs])
    assert torch.allclose(out.x, one_by_one.x) and torch.allclose(out.edge_attr, one_by_one.edge_attr)
    assert torch.equal(batch.x, x)
    # the fast batch path too
    fast = norm(nngraph.to_batch(torch.stack([nngraph.flat_params(g)[0] for g in graphs]), SPEC))
    assert torch.allclose(fast.edge_attr, one_by_one.edge_attr)


def test_normalised_dataset_statistics_are_standard():
    params = torch.randn(300, SPEC.num_params) * 3 + 2
    batch = nngraph.to_batch(params, SPEC)
    w, b = nngraph.layer_views(batch)
    stats = {"weight_mean": [t.mean().item() for t in w], "weight_std": [t.std(unbiased=False).item() for t in w],
             "bias_mean": [t.mean().item() for t in b], "bias_std": [t.std(unbiased=False).item() for t in b]}
    nw, nb = nngraph.layer_views(nngraph.Normalize(stats)(batch))
    for t in nw + nb:
        assert abs(t.mean().item()) < 1e-5 and abs(t.std(unbiased=False).item() - 1) < 1e-5


def test_bad_stats():
    with pytest.raises(ValueError, match="missing"):
        nngraph.Normalize({"weight_mean": [0.0]})
    with pytest.raises(ValueError, match="one length"):
        nngraph.Normalize({**STATS, "bias_std": [1.0]})
    with pytest.raises(ValueError, match="layers"):
        nngraph.Normalize({k: v[:2] for k, v in STATS.items()})(random_graphs(1)[0])
    assert "layers=3" in repr(nngraph.Normalize(STATS))
