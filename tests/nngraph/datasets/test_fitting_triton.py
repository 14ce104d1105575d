"""The fused Triton kernel (nngraph.datasets.fitting_triton): on CUDA where there is one, else in Triton's
interpreter on the CPU (conftest.py sets it); skipped where Triton is not installed."""
import pytest
import torch

pytest.importorskip("triton")

import nngraph
from nngraph.datasets import fitting, fitting_triton

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"


@pytest.mark.parametrize("layer_sizes,n", [((2, 32, 32, 1), 784), ((3, 16, 16, 1), 100), ((1, 64, 64, 1), 70)])
def test_kernel_equals_the_tensor_program(layer_sizes, n):
    spec = nngraph.NetworkSpec(layer_sizes)
    B = 5
    params = fitting.init_flat(spec, range(B))
    coords = nngraph.coordinate_grid(28, 28) if n == 784 else torch.rand(n, layer_sizes[0]) * 2 - 1
    targets = torch.rand(B, n, 1)
    loss, grads = fitting_triton.loss_and_grads(spec, params.to(DEVICE), coords.to(DEVICE), targets.to(DEVICE))
    ref_loss, ref_grads = fitting.loss_and_grads(spec, params.double(), coords.double(), targets.double())
    assert torch.allclose(loss.cpu().double(), ref_loss, rtol=1e-5)
    assert (grads.cpu().double() - ref_grads).abs().max() <= 1e-5 * ref_grads.abs().max()


def test_fit_with_the_kernel_is_the_same_training():
    spec = nngraph.NetworkSpec((2, 32, 32, 1))
    coords, targets = nngraph.coordinate_grid(28, 28), torch.rand(6, 784, 1, generator=torch.Generator().manual_seed(0))
    a = nngraph.fit_inrs(coords, targets, spec, steps=6, psnr_stop=None, device=DEVICE, backend="triton", progress=False)
    b = nngraph.fit_inrs(coords, targets, spec, steps=6, psnr_stop=None, backend="torch", progress=False)
    assert torch.allclose(a.params, b.params, atol=2e-5) and torch.allclose(a.loss, b.loss, rtol=1e-4)


def test_unsupported_specs():
    assert not fitting_triton.supports(nngraph.NetworkSpec((2, 32, 16, 1)), torch.zeros(4, 2))
    assert not fitting_triton.supports(nngraph.NetworkSpec((2, 32, 32, 1), activation="relu"), torch.zeros(4, 2))
    assert not fitting_triton.supports(nngraph.NetworkSpec((2, 32, 32, 1)), torch.zeros(3, 4, 2))
    with pytest.raises(ValueError, match="Triton kernel"):
        nngraph.fit_inrs(torch.zeros(4, 3), torch.zeros(2, 4, 1), nngraph.NetworkSpec((3, 8, 8, 8, 1)),
                         backend="triton", progress=False)
