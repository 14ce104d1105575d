import pytest
import torch
from torch_geometric.data import Batch
from torch_geometric.loader import DataLoader as PyGLoader

import nngraph


def _assert_batches_equal(a, b):
    assert sorted(a.keys()) == sorted(b.keys())
    for key in b.keys():
        if isinstance(b[key], torch.Tensor):
            assert a[key].dtype == b[key].dtype and torch.equal(a[key], b[key]), key
        else:
            assert a[key] == b[key], key
    assert a.num_graphs == b.num_graphs
    assert a._slice_dict.keys() == b._slice_dict.keys()
    for key in b._slice_dict:
        assert torch.equal(a._slice_dict[key], b._slice_dict[key]), key
        ia, ib = a._inc_dict[key], b._inc_dict[key]
        assert (ia is None and ib is None) or torch.equal(ia, ib), key
    for i in (0, b.num_graphs - 1):  # the fast batch unbatches like PyG's
        ga, gb = a.get_example(i), b.get_example(i)
        assert torch.equal(ga.edge_index, gb.edge_index) and torch.equal(ga.edge_attr, gb.edge_attr)


@pytest.mark.parametrize("sizes, label", [((2, 32, 32, 1), "int"), ((3, 7, 1, 5, 2), "soft"), ((1, 1), "none")])
def test_collate_equals_from_data_list(sizes, label):
    spec = nngraph.NetworkSpec(sizes)
    graphs = []
    for i in range(7):
        y = {"int": i % 3, "soft": torch.softmax(torch.randn(1, 4), -1), "none": None}[label]
        graphs.append(nngraph.to_graph(nngraph.Siren(spec), y=y))
    _assert_batches_equal(nngraph.collate(graphs), Batch.from_data_list(graphs))


def test_to_batch_equals_from_data_list():
    spec = nngraph.NetworkSpec((2, 8, 8, 1))
    params = torch.randn(5, spec.num_params)
    y = torch.arange(5)
    fast = nngraph.to_batch(params, spec, y)
    ref = Batch.from_data_list([nngraph.to_graph(p, spec, y=int(t)) for p, t in zip(params, y)])
    _assert_batches_equal(fast, ref)
    assert torch.equal(nngraph.flat_params(fast), params)


def test_loaders():
    spec = nngraph.NetworkSpec((2, 4, 1))
    graphs = [nngraph.to_graph(nngraph.Siren(spec), y=i) for i in range(10)]
    ours = list(nngraph.DataLoader(graphs, batch_size=4))
    pyg = list(PyGLoader(graphs, batch_size=4))
    assert len(ours) == len(pyg) == 3
    for a, b in zip(ours, pyg):
        _assert_batches_equal(a, b)


def test_mixed_specs():
    a = nngraph.to_graph(nngraph.Siren(nngraph.NetworkSpec((2, 4, 1))))
    b = nngraph.to_graph(nngraph.Siren(nngraph.NetworkSpec((2, 5, 1))))
    batch = nngraph.collate([a, b])  # general path still works
    assert batch.num_graphs == 2 and batch.x.shape[0] == a.num_nodes + b.num_nodes
    with pytest.raises(ValueError, match="one spec"):
        nngraph.collate([a, b], require_one_spec=True)
    with pytest.raises(ValueError, match="one spec"):
        nngraph.layer_views(batch)
    with pytest.raises(ValueError, match="at least one graph"):
        nngraph.collate([])


def test_batched_forward_matches_modules():
    spec = nngraph.NetworkSpec((2, 16, 16, 1))
    nets = [nngraph.Siren(spec) for _ in range(3)]
    batch = nngraph.collate([nngraph.to_graph(n) for n in nets])
    x = torch.rand(40, 2) * 2 - 1
    out = nngraph.forward_batched(spec, *nngraph.layer_views(batch), x)
    with torch.no_grad():
        ref = torch.stack([n(x) for n in nets])
    assert (out - ref).abs().max() < 1e-5
