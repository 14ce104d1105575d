import math
from pathlib import Path

import pytest
import torch

import nngraph
from nngraph.datasets.build import IMAGE_RECIPE, OUTPUT_OFFSET
from nngraph.datasets.fitting import fit_inrs
from nngraph.siren import INITS
from nngraph.datasets.sources import load_fashion_mnist
from tests.models.conftest import sine_spec

SUBSET = Path(__file__).resolve().parents[2] / "experiments" / "data" / "fashion-mnist-subset"
# Mean PSNR of each recipe's INRs on the first 32 training images of the embedded subset within the
# paper's budget (1000 Adam steps, lr 5e-4, stop above 40 dB), as the README states them.
README_PSNR = {"reference": 21.3, "zero_bias": 40.0, "siren": 40.0}


@pytest.mark.parametrize("init", INITS)
@pytest.mark.parametrize("num_hidden", [1, 2, 5])
def test_init_biases_and_bounds(init, num_hidden):
    gen = torch.Generator().manual_seed(num_hidden)
    spec = sine_spec(gen, num_hidden, max_width=40)
    weights, biases = nngraph.init_params(spec, 64, generator=gen, init=init)
    last = spec.num_layers - 1
    for l, (w, b) in enumerate(zip(weights, biases)):
        fan_in = w.shape[-1]
        if init == "reference":
            bound = 1 / math.sqrt(fan_in) if l == last else math.sqrt(6 / fan_in) / spec.w0
        else:
            bound = 1 / fan_in if l == 0 else math.sqrt(6 / fan_in) / spec.w0
        # Uniform on (-bound, bound): inside it, and filling it (64 networks' worth of draws).
        assert w.abs().max() <= bound and w.abs().max() > 0.9 * bound, (l, init)
        if init != "siren" and l < last:
            assert torch.equal(b, torch.zeros_like(b)), (l, init)
        else:
            assert b.abs().max() <= 1 / math.sqrt(fan_in) and b.abs().max() > 0.9 / math.sqrt(fan_in), (l, init)


def test_inits_share_their_draws():
    spec = nngraph.NetworkSpec((2, 8, 8, 1))
    siren, zero = (nngraph.init_params(spec, 3, torch.Generator().manual_seed(1), init=i) for i in ("siren", "zero_bias"))
    for a, b in zip(siren[0], zero[0]):
        assert torch.equal(a, b)
    assert torch.equal(siren[1][-1], zero[1][-1])


def test_rejects_an_unknown_init():
    with pytest.raises(ValueError, match="init"):
        nngraph.init_params(nngraph.NetworkSpec((2, 4, 1)), 1, init="xavier")
    with pytest.raises(ValueError, match="init"):
        fit_inrs(torch.zeros(4, 2), torch.zeros(1, 4, 1), nngraph.NetworkSpec((2, 4, 1)), init="xavier", progress=False)


def test_output_offset_is_part_of_the_function():
    spec = nngraph.NetworkSpec((2, 6, 1), output_offset=0.5)
    net = nngraph.Siren(spec, init="reference")
    coords = torch.rand(10, 2) * 2 - 1
    plain = nngraph.Siren(nngraph.NetworkSpec((2, 6, 1)))
    plain.load_state_dict(net.state_dict())
    w, b = nngraph.to_params(nngraph.to_graph(net))
    with torch.no_grad():
        assert torch.allclose(net(coords), plain(coords) + 0.5)
        batched = nngraph.forward_batched(spec, [t[None] for t in w], [t[None] for t in b], coords)[0]
        assert torch.allclose(batched, net(coords), atol=1e-6)
        assert nngraph.to_module(nngraph.to_graph(net)).spec == spec
    assert nngraph.NetworkSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ValueError, match="output_offset"):
        nngraph.NetworkSpec((2, 1), output_offset=float("nan"))


@pytest.mark.parametrize("init", INITS)
def test_recipe_psnr_within_the_paper_budget(init):
    torch.set_num_threads(1)
    images = torch.from_numpy(load_fashion_mnist(SUBSET, "train").images[:32]).float().div(255).reshape(32, -1, 1)
    spec = nngraph.NetworkSpec(IMAGE_RECIPE.layer_sizes, output_offset=OUTPUT_OFFSET[init])
    r = fit_inrs(nngraph.coordinate_grid(28, 28), images, spec, steps=IMAGE_RECIPE.steps, lr=IMAGE_RECIPE.lr,
                 psnr_stop=IMAGE_RECIPE.psnr_stop, init=init, progress=False)
    assert r.psnr.mean() >= README_PSNR[init], r.psnr.mean()
