import math

import pytest
import torch

import nngraph
from nngraph.augment import Rotate, Scale, Translate

SIZES = [(2, 32, 32, 1), (3, 16, 1), (2, 8, 5, 7, 2), (3, 4, 24, 3, 9, 1)]


def outputs(g, coords):
    weights, biases = nngraph.layer_views(g)
    return nngraph.forward_batched(nngraph.spec_of(g), weights, biases, coords)


def setup(sizes, activation="sine", n=6):
    spec = nngraph.NetworkSpec(sizes, activation)
    batch = nngraph.collate([nngraph.to_graph(nngraph.Siren(spec), y=i) for i in range(n)])
    return spec, batch, torch.rand(300, sizes[0]) * 2 - 1


def check_layers_after_first_unchanged(out, g):
    (w, b), (w2, b2) = nngraph.layer_views(g), nngraph.layer_views(out)
    assert all(torch.equal(x, y) for x, y in zip(w[1:] + b[1:], w2[1:] + b2[1:]))


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("activation", ["sine", "relu"])
def test_translate_evaluates_at_shifted_coordinates(sizes, activation):
    spec, batch, x = setup(sizes, activation)
    t = Translate().sample(batch)
    assert t.shape == (6, sizes[0]) and t.abs().max() <= 0.25
    out = Translate().apply(batch, t)
    assert (outputs(out, x) - outputs(batch, x.unsqueeze(0) + t.unsqueeze(1))).abs().max() < 1e-5
    check_layers_after_first_unchanged(out, batch)
    assert torch.equal(nngraph.layer_views(out)[0][0], nngraph.layer_views(batch)[0][0])  # only b1 moves


@pytest.mark.parametrize("sizes", SIZES)
@pytest.mark.parametrize("activation", ["sine", "relu"])
def test_rotate_evaluates_at_rotated_coordinates(sizes, activation):
    spec, batch, x = setup(sizes, activation)
    R = Rotate(30.0).sample(batch)
    d = sizes[0]
    eye = torch.eye(d).expand(6, d, d)
    assert torch.allclose(R @ R.transpose(1, 2), eye, atol=1e-6)
    assert torch.allclose(torch.linalg.det(R), torch.ones(6), atol=1e-6)
    angle = torch.acos(((R.diagonal(dim1=1, dim2=2).sum(1) - (d - 2)) / 2).clamp(-1, 1)) * 180 / math.pi
    assert angle.max() <= 30.0 + 1e-3 and angle.min() >= 0
    out = Rotate(30.0).apply(batch, R)
    rotated = torch.einsum("bij,pj->bpi", R, x)
    assert (outputs(out, x) - outputs(batch, rotated)).abs().max() < 1e-5
    check_layers_after_first_unchanged(out, batch)


def test_rotate_3d_axes_vary_and_other_dims_fail():
    spec, batch, _ = setup((3, 8, 1), n=64)
    R = Rotate(90.0).sample(batch)
    axes = torch.stack([R[:, 2, 1] - R[:, 1, 2], R[:, 0, 2] - R[:, 2, 0], R[:, 1, 0] - R[:, 0, 1]], 1)
    axes = axes / axes.norm(dim=1, keepdim=True)
    assert axes.abs().mean(0).min() > 0.3  # axes spread over the sphere, not one fixed axis
    g1 = nngraph.to_graph(nngraph.Siren(nngraph.NetworkSpec((1, 4, 1))))
    with pytest.raises(ValueError, match="2D or 3D"):
        Rotate()(g1)


@pytest.mark.parametrize("sizes", SIZES)
def test_scale_evaluates_at_scaled_coordinates(sizes):
    spec, batch, x = setup(sizes)
    s = Scale(0.2).sample(batch)
    assert s.min() >= 0.8 and s.max() <= 1.2
    out = Scale(0.2).apply(batch, s)
    assert (outputs(out, x) - outputs(batch, s.view(-1, 1, 1) * x)).abs().max() < 1e-5
    check_layers_after_first_unchanged(out, batch)


def test_single_graph_matches_coordinates():
    spec = nngraph.NetworkSpec((2, 16, 16, 1))
    g = nngraph.to_graph(nngraph.Siren(spec))
    x = torch.rand(100, 2) * 2 - 1
    R = Rotate().sample(g)
    out = Rotate().apply(g, R)
    with torch.no_grad():
        assert (nngraph.to_module(out)(x) - nngraph.to_module(g)(x @ R[0].T)).abs().max() < 1e-5
