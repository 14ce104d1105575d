"""On CUDA (when there is one) the models compute what they compute on the CPU, values and
gradients, and stay invariant."""
import pytest
import torch

import nngraph
from models import DWSNet, RelationTransformer
from tests.models.conftest import nontrivial_perms, random_batch

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

SPEC = nngraph.NetworkSpec((2, 16, 12, 1))
MODELS = {
    "rt": lambda: RelationTransformer(SPEC, 4, num_layers=3),
    "rt_all": lambda: RelationTransformer(SPEC, 4, num_layers=3, attention="all"),
    "dws": lambda: DWSNet(SPEC, 4, hidden_dim=32, num_layers=2),
}


@pytest.mark.parametrize("name", MODELS)
def test_cuda_matches_cpu(name):
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    model = MODELS[name]()
    batch = random_batch(SPEC, 6, gen, y=torch.arange(6) % 4)
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


@pytest.mark.parametrize("name", ["rt", "dws"])
def test_cuda_autocast(name):
    model = MODELS[name]().cuda()
    batch = random_batch(SPEC, 4, torch.Generator().manual_seed(1), y=torch.arange(4)).cuda()
    with torch.autocast("cuda", dtype=torch.bfloat16):
        loss = torch.nn.functional.cross_entropy(model(batch).float(), batch.y)
    loss.backward()
    assert torch.isfinite(loss) and all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
