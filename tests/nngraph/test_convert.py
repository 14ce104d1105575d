import math

import pytest
import torch
from torch import nn

import nngraph
from tests.conftest import random_spec


def _max_err(a, b):
    return (a - b).abs().max().item()


@pytest.mark.parametrize("seed", range(12))
def test_round_trip_function(seed):
    gen = torch.Generator().manual_seed(seed)
    spec = random_spec(gen, activation=("sine", "relu")[seed % 2])
    net = nngraph.Siren(spec, generator=gen)
    if spec.activation == "relu":  # PyTorch's init; randomise further so ReLUs are active both ways
        for p in net.parameters():
            p.data.normal_(generator=gen)
    x = torch.rand(257, spec.layer_sizes[0], generator=gen) * 2 - 1
    g = nngraph.to_graph(net, y=3)
    assert g.spec == spec and g.y.tolist() == [3]
    assert g.x.shape == (spec.num_nodes, 1) and g.edge_attr.shape == (spec.num_edges, 1)
    with torch.no_grad():
        assert _max_err(nngraph.to_module(g)(x), net(x)) < 1e-6


@pytest.mark.parametrize("seed", range(6))
def test_params_round_trip_exact(seed):
    gen = torch.Generator().manual_seed(100 + seed)
    spec = random_spec(gen)
    w = [torch.randn(o, i, generator=gen) for o, i in spec.weight_shapes]
    b = [torch.randn(o, generator=gen) for o, _ in spec.weight_shapes]
    g = nngraph.to_graph((w, b), spec=spec)
    w2, b2 = nngraph.to_params(g)
    assert all(torch.equal(u, v) for u, v in zip(w, w2)) and all(torch.equal(u, v) for u, v in zip(b, b2))
    flat = nngraph.flat_params(g)[0]
    assert flat.shape == (spec.num_params,)
    g2 = nngraph.to_graph(flat, spec)
    assert torch.equal(g2.x, g.x) and torch.equal(g2.edge_attr, g.edge_attr)


def test_graph_structure_is_canonical():
    spec = nngraph.NetworkSpec((2, 3, 1))
    w = [torch.arange(6.).reshape(3, 2), torch.arange(3.).reshape(1, 3) + 10]
    b = [torch.tensor([-1., -2., -3.]), torch.tensor([-4.])]
    g = nngraph.to_graph((w, b), spec=spec)
    # node order: inputs 0-1, hidden 2-4, output 5; edge k of W_1 is W_1[k // 2, k % 2]
    assert g.edge_index[:, :6].tolist() == [[0, 1, 0, 1, 0, 1], [2, 2, 3, 3, 4, 4]]
    assert g.edge_index[:, 6:].tolist() == [[2, 3, 4], [5, 5, 5]]
    assert g.edge_attr[:, 0].tolist() == [0, 1, 2, 3, 4, 5, 10, 11, 12]
    assert g.x[:, 0].tolist() == [0, 0, -1, -2, -3, -4]
    assert g.layer.tolist() == [0, 0, 1, 1, 1, 2]
    assert spec.node_role.tolist() == [0, 1, 2, 2, 2, 3]


def test_sequential_and_state_dicts(tmp_path):
    torch.manual_seed(1)
    seq = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 8), nn.ReLU(), nn.Linear(8, 2))
    g = nngraph.to_graph(seq)
    assert g.spec == nngraph.NetworkSpec((3, 8, 8, 2), activation="relu")
    x = torch.randn(50, 3)
    with torch.no_grad():
        assert _max_err(nngraph.to_module(g)(x), seq(x)) < 1e-6
    # SIREN state_dicts of the public INR datasets: seq.0.weight, ..., natural order (seq.10 after seq.9)
    spec = nngraph.NetworkSpec((2, *[4] * 10, 1))
    siren = nngraph.Siren(spec)
    state = dict(reversed(list(siren.state_dict().items())))
    with pytest.raises(ValueError, match="spec: required for a state dict"):  # never a guessed sine, w0=30
        nngraph.to_graph(state)
    g = nngraph.to_graph(state, spec=spec)
    assert g.spec == spec
    assert torch.equal(nngraph.flat_params(g), nngraph.flat_params(nngraph.to_graph(siren)))
    path = tmp_path / "inr.pth"
    torch.save(siren.state_dict(), path)
    assert torch.equal(nngraph.to_graph(path, spec).edge_attr, g.edge_attr)
    from safetensors.torch import save_file
    save_file(siren.state_dict(), str(tmp_path / "inr.safetensors"))
    assert torch.equal(nngraph.to_graph(tmp_path / "inr.safetensors", spec).x, g.x)


def test_pth_is_read_without_unpickling(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("unpickled",))
    path = tmp_path / "evil.pth"
    torch.save({"seq.0.weight": torch.zeros(1, 1), "x": Evil()}, path)
    with pytest.raises(ValueError, match="cannot read"):
        nngraph.to_graph(path)


def test_truncated_file(tmp_path):
    path = tmp_path / "inr.pth"
    torch.save(nngraph.Siren(nngraph.NetworkSpec((2, 4, 1))).state_dict(), path)
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ValueError, match="inr.pth"):
        nngraph.to_graph(path)


@pytest.mark.parametrize("bad, match", [
    (([torch.randn(4, 2), torch.randn(1, 5)], [torch.randn(4), torch.randn(1)]), "layer 1"),
    (([torch.randn(4, 2)], [torch.randn(3)]), "layer 0"),
    (([torch.randn(4, 2), torch.randn(1, 4)], [torch.randn(4)]), "same positive number"),
    (([torch.tensor([[math.nan, 1.0]])], [torch.zeros(1)]), "NaN or Inf"),
    (([torch.tensor([[math.inf, 1.0]])], [torch.zeros(1)]), "NaN or Inf"),
])
def test_bad_params(bad, match):
    with pytest.raises(ValueError, match=match):
        nngraph.to_graph(bad)


def test_bad_modules_and_specs():
    with pytest.raises(ValueError, match="module 0: cannot read a Conv2d.*convert its state_dict instead"):
        nngraph.to_graph(nn.Sequential(nn.Conv2d(1, 1, 3)))
    with pytest.raises(ValueError, match="module GRU: cannot read a GRU"):
        nngraph.to_graph(nn.GRU(2, 2))
    with pytest.raises(ValueError, match="one activation throughout"):
        nngraph.to_graph(nn.Sequential(nn.Linear(2, 2), nn.Tanh(), nn.Linear(2, 2), nn.ReLU(), nn.Linear(2, 1)))
    with pytest.raises(ValueError, match="at least two layers"):
        nngraph.NetworkSpec((3,))
    with pytest.raises(ValueError, match="activation"):
        nngraph.NetworkSpec((2, 1), activation="softplus")
    with pytest.raises(ValueError, match="positive integers"):
        nngraph.NetworkSpec((2, 0, 1))
    with pytest.raises(ValueError, match="does not match"):
        nngraph.to_graph(nngraph.Siren(nngraph.NetworkSpec((2, 4, 1))).state_dict(), spec=nngraph.NetworkSpec((2, 5, 1)))
    with pytest.raises(ValueError, match="expected last dimension 17"):
        nngraph.to_graph(torch.zeros(10), nngraph.NetworkSpec((2, 4, 1)))
    with pytest.raises(ValueError, match="NaN"):
        nngraph.to_batch(torch.full((2, 17), math.nan), nngraph.NetworkSpec((2, 4, 1)))
    with pytest.raises(ValueError, match="unexpected key"):
        nngraph.to_graph({"0.weight": torch.zeros(1, 1), "0.running_mean": torch.zeros(1)})


def test_networkx_export():
    spec = nngraph.NetworkSpec((2, 5, 3, 1))
    g = nngraph.to_graph(nngraph.Siren(spec))
    G = nngraph.to_networkx(g)
    assert G.number_of_nodes() == spec.num_nodes and G.number_of_edges() == spec.num_edges
    w, b = nngraph.to_params(g)
    assert G.edges[2 + 4, 2 + 5 + 2]["weight"] == pytest.approx(w[1][2, 4].item())
    assert G.nodes[2 + 5 + 1]["bias"] == pytest.approx(b[1][1].item()) and G.nodes[2 + 5 + 1]["layer"] == 2
