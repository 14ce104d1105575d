"""The one-problem-per-program Triton solver (augment.assignment_triton) against scipy: on CUDA where
there is one, else in Triton's interpreter on the CPU (conftest.py sets it; small problems, as it runs
the programs one by one); skipped where Triton is not installed."""
import pytest
import torch

pytest.importorskip("triton")

from scipy.optimize import linear_sum_assignment

from nngraph.augment import assignment, assignment_triton

DEVICE = "cuda" if torch.cuda.is_available() else "cpu"
BATCH = 256 if DEVICE == "cuda" else 6


@pytest.mark.parametrize("n", [1, 2, 5, 16, 32, 33] + ([64, 128] if DEVICE == "cuda" else []))
@pytest.mark.parametrize("kind", ["normal", "ties"])
def test_reaches_scipys_objective(n, kind):
    g = torch.Generator().manual_seed(n)
    cost = (torch.randn(BATCH, n, n, generator=g, dtype=torch.float64) if kind == "normal"
            else torch.randint(0, 3, (BATCH, n, n), generator=g).double())
    cols = assignment_triton.solve((cost - cost.amin((1, 2), keepdim=True)).to(DEVICE).contiguous()).cpu()
    assert (cols.sort(1).values == torch.arange(n)).all(), "not a permutation"
    ours = cost.gather(2, cols.unsqueeze(2)).sum((1, 2))
    ref = torch.tensor([c[linear_sum_assignment(c)].sum() for c in cost.numpy()])
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-9)


@pytest.mark.skipif(DEVICE != "cuda", reason="the dispatch to the kernel happens for CUDA tensors")
def test_linear_assignment_uses_the_kernel_on_cuda(monkeypatch):
    calls = []
    monkeypatch.setattr(assignment.assignment_triton, "solve", lambda cost: calls.append(cost) or torch.zeros(
        cost.shape[:2], dtype=torch.long, device=cost.device))
    assignment.linear_assignment(torch.randn(3, 8, 8, device="cuda"))
    assert len(calls) == 1


@pytest.mark.skipif(DEVICE != "cuda", reason="the dispatch to the kernel happens for CUDA tensors")
def test_a_failing_kernel_is_disabled_with_a_warning(monkeypatch):
    def broken(cost):
        raise RuntimeError("no kernel for this GPU")

    monkeypatch.setattr(assignment.assignment_triton, "solve", broken)
    monkeypatch.setattr(assignment.assignment_triton, "_failure", None)
    score = torch.randn(4, 6, 6, device="cuda", dtype=torch.float64)
    with pytest.warns(RuntimeWarning, match="no kernel for this GPU"):
        cols = assignment.linear_assignment(score)
    assert not assignment_triton.available()
    expected = torch.tensor([linear_sum_assignment(s)[1] for s in score.cpu().numpy()])
    assert torch.equal(cols.cpu(), expected)
