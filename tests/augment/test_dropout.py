import pytest
import torch

import nngraph
from nngraph.augment import Dropout, QuantileDropout


def batch_of(spec, n):
    return nngraph.collate([nngraph.to_graph(nngraph.Siren(spec)) for _ in range(n)])


@pytest.mark.parametrize("rescale", [False, True])
def test_dropout_zeroes_masked_parameters(rescale):
    spec = nngraph.NetworkSpec((2, 32, 32, 1))
    batch = batch_of(spec, 16)
    keep = Dropout(0.2).sample(batch)
    assert keep.dtype == torch.bool and abs((~keep).float().mean().item() - 0.2) < 0.02
    out = Dropout(0.2, rescale=rescale).apply(batch, keep)
    p, p2 = nngraph.flat_params(batch), nngraph.flat_params(out)
    assert torch.equal(p2[~keep], torch.zeros_like(p2[~keep]))
    expected = p[keep] / 0.8 if rescale else p[keep]
    assert torch.allclose(p2[keep], expected, atol=1e-7, rtol=1e-6)


def test_dropout_zero_probability_is_identity():
    batch = batch_of(nngraph.NetworkSpec((2, 8, 1)), 4)
    out = Dropout(0.0)(batch)
    assert torch.equal(out.edge_attr, batch.edge_attr) and torch.equal(out.x, batch.x)


def test_quantile_dropout_threshold_matches_torch_quantile():
    spec = nngraph.NetworkSpec((3, 16, 16, 1), activation="relu")
    batch = batch_of(spec, 8)
    q = QuantileDropout(0.3).sample(batch)
    assert q.min() >= 0 and q.max() <= 0.3
    out = QuantileDropout(0.3).apply(batch, q)
    p, p2 = nngraph.flat_params(batch), nngraph.flat_params(out)
    for i in range(8):
        threshold = torch.quantile(p[i].abs(), q[i])
        small = p[i].abs() < threshold
        assert torch.equal(p2[i][small], torch.zeros(int(small.sum())))
        assert torch.equal(p2[i][~small], p[i][~small])
        assert abs(small.float().mean().item() - q[i].item()) <= 1.0 / spec.num_params + 1e-6


def test_quantile_dropout_extremes():
    batch = batch_of(nngraph.NetworkSpec((2, 8, 4, 1)), 3)
    p = nngraph.flat_params(batch)
    none = QuantileDropout(1.0).apply(batch, torch.zeros(3))
    assert torch.equal(nngraph.flat_params(none), p)
    half = QuantileDropout(1.0).apply(batch, torch.full((3,), 0.5))
    assert ((nngraph.flat_params(half) == 0).float().mean(1) - 0.5).abs().max() < 0.02
