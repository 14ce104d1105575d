"""On CUDA (when there is one) the models compute what they compute on the CPU, values and
gradients, and stay invariant."""
import pytest
import torch

import nngraph
from tests.models.conftest import SMALL_MODELS, nontrivial_perms, small_model_and_batch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")


@pytest.mark.parametrize("name", SMALL_MODELS)
def test_cuda_matches_cpu(name):
    model, batch, gen = small_model_and_batch(name)
    logits = model(batch)
    torch.nn.functional.cross_entropy(logits, batch.y).backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    cuda_model, cuda_batch = model.cuda(), batch.clone().cuda()
    cuda_logits = cuda_model(cuda_batch)
    torch.nn.functional.cross_entropy(cuda_logits, cuda_batch.y).backward()
    assert torch.allclose(cuda_logits.cpu(), logits, atol=1e-4)
    for n, p in cuda_model.named_parameters():
        if n in grads:
            assert torch.allclose(p.grad.cpu(), grads[n], atol=1e-4, rtol=1e-3), n
    with torch.no_grad():
        permuted = nngraph.permute(cuda_batch, nontrivial_perms(batch, gen))
        assert (cuda_model.eval()(permuted) - cuda_model(cuda_batch)).abs().max() < 1e-4


@pytest.mark.parametrize("name", SMALL_MODELS)
def test_cuda_autocast(name):
    model, batch, _ = small_model_and_batch(name)
    model, batch = model.cuda(), batch.cuda()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = torch.nn.functional.cross_entropy(model(batch).float(), batch.y)
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
