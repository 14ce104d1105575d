import math

import pytest
import torch

import nngraph
from nngraph.augment import ReLUScale, SirenBias, SirenNegation

# 1 to 4 hidden layers, narrow and wide, 1D to 3D inputs
SIZES = [(2, 32, 32, 1), (3, 16, 1), (1, 8, 5, 7, 2), (2, 4, 64, 3, 9, 1)]


def outputs(g, x):
    weights, biases = nngraph.layer_views(g)
    return nngraph.forward_batched(nngraph.spec_of(g), weights, biases, x)


def check_preserves_function(transform, spec, n=4):
    graphs = [nngraph.to_graph(nngraph.Siren(spec), y=i) for i in range(n)]
    batch = nngraph.collate(graphs)
    before = batch.edge_attr.clone(), batch.x.clone()
    x = torch.rand(256, spec.layer_sizes[0]) * 2 - 1
    for g in (graphs[0], batch):
        out = transform(g)
        assert (outputs(out, x) - outputs(g, x)).abs().max() < 1e-5
        assert not torch.allclose(out.edge_attr, g.edge_attr)
        assert torch.equal(out.y, g.y)
    assert torch.equal(batch.edge_attr, before[0]) and torch.equal(batch.x, before[1])


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("w0", [30.0, 7.5])
def test_siren_negation_preserves_function(sizes, w0):
    check_preserves_function(SirenNegation(), nngraph.NetworkSpec(sizes, w0=w0))


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("w0", [30.0, 7.5])
def test_siren_bias_preserves_function(sizes, w0):
    check_preserves_function(SirenBias(), nngraph.NetworkSpec(sizes, w0=w0))


@pytest.mark.parametrize("sizes", SIZES)
def test_relu_scale_preserves_function(sizes):
    check_preserves_function(ReLUScale(), nngraph.NetworkSpec(sizes, activation="relu"))


def test_siren_bias_shift_is_k_pi_over_w0_and_flips_odd_k():
    spec = nngraph.NetworkSpec((2, 3, 1), w0=10.0)
    g = nngraph.to_graph(nngraph.Siren(spec))
    k = [torch.tensor([[1, -2, 3]])]
    out = SirenBias().apply(g, k)
    (w, b), (w2, b2) = nngraph.to_params(g), nngraph.to_params(out)
    assert torch.allclose(b2[0] - b[0], torch.tensor([1.0, -2.0, 3.0]) * math.pi / 10.0, atol=1e-6)
    assert torch.equal(w2[1], w[1] * torch.tensor([-1.0, 1.0, -1.0]))
    assert torch.equal(w2[0], w[0]) and torch.equal(b2[1], b[1])


def test_draw_distributions():
    spec = nngraph.NetworkSpec((2, 64, 64, 1))
    batch = nngraph.collate([nngraph.to_graph(nngraph.Siren(spec)) for _ in range(32)])
    signs = torch.cat(SirenNegation(0.25).sample(batch))
    assert set(signs.unique().tolist()) == {-1.0, 1.0}
    assert abs((signs < 0).float().mean().item() - 0.25) < 0.02
    k = torch.cat(SirenBias().sample(batch))
    assert set(k.unique().tolist()) == set(range(-4, 4))
    relu = nngraph.collate([nngraph.to_graph(nngraph.Siren(nngraph.NetworkSpec((2, 64, 64, 1), "relu")))] * 32)
    c = torch.cat(ReLUScale(3.0).sample(relu))
    assert c.min() >= 1 / 3 - 1e-6 and c.max() <= 3 + 1e-6
    assert abs(c.log().mean().item()) < 0.02  # log-uniform, symmetric about 1


def test_wrong_activation_is_a_value_error():
    sine = nngraph.to_graph(nngraph.Siren(nngraph.NetworkSpec((2, 4, 1))))
    relu = nngraph.to_graph(nngraph.Siren(nngraph.NetworkSpec((2, 4, 1), activation="relu")))
    for t, g in ((SirenNegation(), relu), (SirenBias(), relu), (ReLUScale(), sine)):
        with pytest.raises(ValueError, match="activations"):
            t(g)
    with pytest.raises(ValueError, match="positive"):
        ReLUScale().apply(relu, [torch.tensor([[1.0, -1.0, 2.0, 1.0]])])


def test_no_hidden_layer_is_identity():
    spec = nngraph.NetworkSpec((2, 3))
    g = nngraph.to_graph(nngraph.Siren(spec))
    for t in (SirenNegation(), SirenBias()):
        out = t(g)
        assert torch.equal(out.edge_attr, g.edge_attr) and torch.equal(out.x, g.x)
