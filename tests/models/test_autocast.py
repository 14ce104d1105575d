"""Under bfloat16 autocast on the CPU (``--precision bf16-mixed``) the models compute what they
compute in float32, to bfloat16's precision, gradients included, and stay invariant."""
import pytest
import torch

import nngraph
from nngraph.models.relational_attention import relational_attention
from tests.models.conftest import SMALL_MODELS, nontrivial_perms, small_model_and_batch


def _logits_and_grads(model, batch, bf16: bool):
    model.zero_grad()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        logits = model(batch)
        loss = torch.nn.functional.cross_entropy(logits.float(), batch.y)
    loss.backward()
    return logits.float(), torch.cat([p.grad.flatten() for p in model.parameters() if p.grad is not None])


@pytest.mark.parametrize("name", SMALL_MODELS)
def test_bf16_autocast_matches_float32_and_stays_invariant(name):
    model, batch, gen = small_model_and_batch(name)
    logits, grads = _logits_and_grads(model.eval(), batch, bf16=False)
    low, low_grads = _logits_and_grads(model, batch, bf16=True)
    assert (low - logits).abs().max() < 2e-2 * logits.abs().max()
    assert torch.isfinite(low_grads).all()
    assert torch.nn.functional.cosine_similarity(low_grads, grads, dim=0) > 0.99
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        permuted = model(nngraph.permute(batch, nontrivial_perms(batch, gen))).float()
    assert (permuted - low).abs().max() < 1e-2 * logits.abs().max()


def test_relational_attention_computes_in_float32_under_autocast():
    gen = torch.Generator().manual_seed(0)
    node_qkv, e = torch.randn(5, 2, 24, generator=gen), torch.randn(8, 2, 4, generator=gen)
    weight = torch.randn(32, 4, generator=gen)
    receivers, senders = torch.tensor([0, 1, 2, 3, 4, 0, 1, 2]), torch.tensor([1, 2, 3, 4, 0, 2, 3, 4])
    exact = relational_attention(node_qkv, e, weight, receivers, senders, num_heads=2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = relational_attention(node_qkv.bfloat16(), e, weight, receivers, senders, num_heads=2)
    assert out.dtype == torch.float32
    assert torch.allclose(out, relational_attention(node_qkv.bfloat16().float(), e, weight, receivers, senders, 2))
    assert not torch.equal(out, exact)  # it read the bfloat16 input, rounded, and computed on from there
