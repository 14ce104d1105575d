"""Every augmentation runs on the graphs' own device (CUDA when there is one) and gives there what
it gives on the CPU for the same draw."""
import pytest
import torch

import nngraph
from nngraph.augment import (AUGMENTATIONS, Dropout, GaussianNoise, QuantileDropout, RandomPermutation, ReLUScale, Rotate,
                     Scale, SirenBias, SirenNegation, Translate, build, weight_matching)

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
SINE = nngraph.NetworkSpec((3, 32, 32, 32, 1))
RELU = nngraph.NetworkSpec((3, 32, 32, 32, 1), activation="relu")


def batch_of(spec, n=16, device="cpu"):
    return nngraph.collate([nngraph.to_graph(nngraph.Siren(spec), y=i % 4) for i in range(n)]).to(device)


def to(draw, device):
    return [d.to(device) for d in draw] if isinstance(draw, list) else draw.to(device)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("transform", [Translate(), Rotate(), Scale(), GaussianNoise(), Dropout(), QuantileDropout(),
                                       SirenNegation(), SirenBias(), ReLUScale(), RandomPermutation()], ids=repr)
def test_same_draw_same_result_on_device(device, transform):
    spec = RELU if isinstance(transform, ReLUScale) else SINE
    cpu = batch_of(spec)
    dev = cpu.clone().to(device)  # PyG's .to moves in place
    draw = transform.sample(cpu)
    out_cpu, out_dev = transform.apply(cpu, draw), transform.apply(dev, to(draw, device))
    assert out_dev.x.device.type == device and out_dev.edge_attr.device.type == device
    assert torch.allclose(out_dev.edge_attr.cpu(), out_cpu.edge_attr, atol=1e-6)
    assert torch.allclose(out_dev.x.cpu(), out_cpu.x, atol=1e-6)
    fresh = transform(dev)  # draws made on the device itself
    assert fresh.x.device.type == device and torch.isfinite(fresh.edge_attr).all()
    if transform.activation is not None or isinstance(transform, RandomPermutation):
        x = torch.rand(128, 3, device=device) * 2 - 1
        f = lambda g: nngraph.forward_batched(spec, *nngraph.layer_views(g), x)  # noqa: E731
        assert (f(fresh) - f(dev)).abs().max() < 1e-5


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("signed", [False, True])
def test_weight_matching_on_device(device, signed):
    a = batch_of(SINE, 32, device)
    perms = nngraph.random_perms(a)
    signs = [(torch.randint(0, 2, p.shape, device=device) * 2 - 1).float() for p in perms] if signed else None
    aligned = weight_matching(a, nngraph.permute(a, perms, signs), signed=signed)
    assert aligned.x.device.type == device and torch.equal(aligned.edge_attr, a.edge_attr)
    b = batch_of(SINE, 32, device)
    aligned = weight_matching(a, b, signed=signed)
    d = lambda g: (nngraph.flat_params(a) - nngraph.flat_params(g)).norm(dim=1)  # noqa: E731
    assert (d(aligned) <= d(b) * (1 + 1e-6)).all()


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", [n for n in AUGMENTATIONS if n != "relu_scale"])
def test_batch_pipelines_on_device(device, name):
    batch = batch_of(SINE, 16, device)
    out = build(name, num_classes=4)(batch)
    assert out.x.device.type == device and out.edge_attr.device.type == device and out.y.device.type == device
    if name.startswith("mixup"):
        assert out.y.shape == (16, 4) and torch.allclose(out.y.sum(1), torch.ones(16, device=device))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("signed", [False, True])
def test_weight_matching_solvers_agree_on_device(device, signed):
    """The batched solver on the graphs' device (on CUDA: the Triton kernel where installed) aligns
    as scipy's does on the CPU."""
    a, b = batch_of(SINE, 64, device), batch_of(SINE, 64, device)
    order = torch.Generator().manual_seed(1)
    batched = weight_matching(a, b, signed=signed, solver="batched", generator=order)
    order.manual_seed(1)
    reference = weight_matching(a.cpu(), b.cpu(), signed=signed, solver="scipy", generator=order)
    assert batched.x.device.type == device
    torch.testing.assert_close(nngraph.flat_params(batched).cpu(), nngraph.flat_params(reference))
