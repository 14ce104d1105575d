import math

import pytest
import torch

from nngraph.models import FourierFeatures


def test_encodes_scalars_with_fixed_frequencies():
    enc = FourierFeatures(8, num_frequencies=5, sigma=2.0)
    assert "frequencies" in dict(enc.named_buffers()) and "frequencies" in enc.state_dict()
    assert all(p is not enc.frequencies for p in enc.parameters())
    x = torch.randn(3, 4)
    out = enc(x)
    assert out.shape == (3, 4, 8)
    z = x.unsqueeze(-1) * enc.frequencies
    assert torch.allclose(out, enc.proj(torch.cat([z.cos(), z.sin()], dim=-1)))
    # Frequencies are 2 pi times N(0, sigma^2) draws.
    many = FourierFeatures(1, num_frequencies=20000, sigma=2.0).frequencies / (2 * math.pi)
    assert abs(many.std().item() - 2.0) < 0.05
    assert "sigma=2" in repr(enc)


@pytest.mark.parametrize("kwargs", [dict(num_frequencies=0), dict(sigma=0.0)])
def test_rejects_bad_arguments(kwargs):
    with pytest.raises(ValueError):
        FourierFeatures(4, **kwargs)
