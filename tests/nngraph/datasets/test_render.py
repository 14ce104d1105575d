from pathlib import Path

import torch

import nngraph
from nngraph.datasets.sources import load_fashion_mnist

SUBSET = Path(__file__).resolve().parents[3] / "experiments" / "data" / "fashion-mnist-subset"


def test_coordinate_grid_order():
    g = nngraph.coordinate_grid(2, 3)
    assert torch.equal(g, torch.tensor([[-1., -1], [-1, 0], [-1, 1], [1, -1], [1, 0], [1, 1]]))
    assert nngraph.coordinate_grid(4, 4, 4).shape == (64, 3)


def test_render_image_of_a_fitted_inr_is_the_image():
    images = torch.from_numpy(load_fashion_mnist(SUBSET, "test").images[:2]).float().div(255)
    spec = nngraph.NetworkSpec((2, 32, 32, 1))
    fit = nngraph.fit_inrs(nngraph.coordinate_grid(28, 28), images.reshape(2, -1, 1), spec, progress=False)
    batch = nngraph.to_batch(fit.params, spec)
    out = nngraph.render_image(batch)
    assert out.shape == (2, 28, 28)
    mse = (out - images).square().mean(dim=(1, 2))
    assert torch.allclose(mse, fit.loss, rtol=1e-3) and (fit.psnr > 30).all()
    single = nngraph.render_image(nngraph.to_graph(fit.params[1], spec))
    assert torch.allclose(single[0], out[1], atol=1e-6)


def test_render_sdf_matches_forward():
    spec = nngraph.NetworkSpec((3, 8, 1))
    g = nngraph.to_graph(nngraph.Siren(spec))
    vol = nngraph.render_sdf(g, resolution=5)
    ref = nngraph.to_module(g)(torch.tensor([[-1.0, -0.5, 1.0]]))
    assert vol.shape == (1, 5, 5, 5) and torch.allclose(vol[0, 0, 1, 4], ref[0, 0], atol=1e-6)
