"""Batched linear assignment (augment.linear_assignment) against scipy's solver, on random problems
and on the weight-matching problems of fitted INRs; weight matching gives the same alignment with
either solver."""
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.optimize import linear_sum_assignment

import nngraph
from nngraph.augment import linear_assignment, match_neurons, weight_matching
from nngraph.augment.weight_matching import _similarity
from nngraph.datasets.sources import load_fashion_mnist

SUBSET = Path(__file__).resolve().parents[2] / "experiments" / "data" / "fashion-mnist-subset"


def scipy_objective(score, maximize):
    return torch.tensor([s[linear_sum_assignment(s, maximize=maximize)].sum() for s in score.double().numpy()])


def check_optimal(score, maximize):
    cols = linear_assignment(score, maximize=maximize)
    n = score.shape[1]
    assert cols.dtype == torch.long and cols.shape == score.shape[:2]
    assert (cols.sort(1).values == torch.arange(n)).all(), "not a permutation"
    ours = score.double().gather(2, cols.unsqueeze(2)).sum((1, 2))
    ref = scipy_objective(score, maximize)
    torch.testing.assert_close(ours, ref, rtol=1e-12, atol=1e-9)
    return cols


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 17, 32, 33])
@pytest.mark.parametrize("maximize", [False, True])
def test_random_problems_reach_scipys_objective(n, maximize):
    g = torch.Generator().manual_seed(n)
    check_optimal(torch.randn(64, n, n, generator=g, dtype=torch.float64), maximize)
    check_optimal(torch.rand(16, n, n, generator=g) * 100 - 50, maximize)  # float32, wide range


@pytest.mark.parametrize("n", [2, 6, 16])
def test_ties_and_degenerate_problems(n):
    g = torch.Generator().manual_seed(0)
    check_optimal(torch.randint(0, 3, (64, n, n), generator=g).double(), maximize=True)  # many optima
    check_optimal(torch.zeros(4, n, n), maximize=False)
    cols = check_optimal(torch.eye(n).expand(3, n, n) * -5, maximize=False)  # a planted diagonal
    assert (cols == torch.arange(n)).all()
    perm = torch.randperm(n, generator=g)
    cols = check_optimal(torch.eye(n)[perm].unsqueeze(0), maximize=True)
    assert (cols[0] == torch.eye(n)[perm].argmax(1)).all()


def test_empty_batch_and_bad_input():
    assert linear_assignment(torch.zeros(0, 4, 4)).shape == (0, 4)
    with pytest.raises(ValueError, match="square"):
        linear_assignment(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match="square"):
        linear_assignment(torch.zeros(3, 3))
    with pytest.raises(ValueError, match="floating"):
        linear_assignment(torch.zeros(2, 3, 3, dtype=torch.long))
    with pytest.raises(ValueError, match="finite"):
        linear_assignment(torch.tensor([[[0.0, float("nan")], [1.0, 2.0]]]))


def fitted_inrs(n, steps=60):
    images = torch.from_numpy(load_fashion_mnist(SUBSET, "train").images[:n]).float().div(255).reshape(n, -1, 1)
    spec = nngraph.NetworkSpec((2, 32, 32, 1), output_offset=0.5)
    result = nngraph.fit_inrs(nngraph.coordinate_grid(28, 28), images, spec, steps=steps, psnr_stop=None,
                              init="reference", progress=False)
    return nngraph.to_batch(result.params, spec)


@pytest.mark.parametrize("signed", [False, True])
def test_inr_weight_matching_problems(signed):
    """The similarity matrices weight matching solves for pairs of fitted INRs (first sweep, each layer)."""
    batch = fitted_inrs(32)
    (wa, ba), (wb, bb) = nngraph.layer_views(batch), nngraph.layer_views(batch)
    partner = torch.arange(32).roll(1)
    wb, bb = [w[partner] for w in wb], [b[partner] for b in bb]
    perms = [torch.arange(32).expand(32, 32) for _ in range(2)]
    signs = [torch.ones(32, 32, dtype=torch.float64) for _ in range(2)]
    for h in range(2):
        sim = _similarity(h, torch.arange(32), wa, ba, wb, bb, perms, signs if signed else None)
        check_optimal(sim.abs() if signed else sim, maximize=True)


@pytest.mark.parametrize("sizes", [(2, 32, 32, 1), (3, 16, 16, 16, 16, 1), (2, 8, 5, 7, 2)])
@pytest.mark.parametrize("signed", [False, True])
def test_weight_matching_same_alignment_with_either_solver(sizes, signed):
    spec = nngraph.NetworkSpec(sizes)
    a = nngraph.collate([nngraph.to_graph(nngraph.Siren(spec)) for _ in range(24)])
    b = nngraph.collate([nngraph.to_graph(nngraph.Siren(spec)) for _ in range(24)])
    (wa, ba), (wb, bb) = nngraph.layer_views(a), nngraph.layer_views(b)
    runs = {solver: match_neurons(wa, ba, wb, bb, signed, generator=torch.Generator().manual_seed(3), solver=solver)
            for solver in ("scipy", "batched")}
    for p, q in zip(runs["scipy"][0], runs["batched"][0]):
        assert torch.equal(p, q)
    if signed:
        for s, t in zip(runs["scipy"][1], runs["batched"][1]):
            assert torch.equal(s, t)
    aligned = weight_matching(a, b, signed, solver="batched")
    x = torch.rand(50, sizes[0]) * 2 - 1
    torch.testing.assert_close(nngraph.forward_batched(spec, *nngraph.layer_views(aligned), x),
                               nngraph.forward_batched(spec, wb, bb, x), rtol=1e-4, atol=1e-5)


def test_unknown_solver():
    g = nngraph.to_graph(nngraph.Siren(nngraph.NetworkSpec((2, 4, 1))))
    with pytest.raises(ValueError, match="solver"):
        weight_matching(g, g, solver="hungarian")


def test_mixup_passes_its_solver_on(monkeypatch):
    import nngraph.augment.mixup as mixup_module
    from nngraph.augment import Mixup, build

    seen = []
    monkeypatch.setattr(mixup_module, "weight_matching", lambda g, p, **kw: seen.append(kw["solver"]) or p)
    spec = nngraph.NetworkSpec((2, 4, 1))
    batch = nngraph.to_batch(torch.randn(4, spec.num_params), spec, y=torch.arange(4))
    build("mixup_weight_matching", 4, options={"mixup_weight_matching": {"solver": "batched"}})(batch)
    assert seen == ["batched"]
    with pytest.raises(ValueError, match="solver"):
        Mixup(alignment="weight_matching", num_classes=4, solver="lapjv")


def test_a_failing_kernel_is_disabled_with_a_warning(monkeypatch):
    """Where the GPU kernel cannot run, the first failure warns and the tensor program answers."""
    from nngraph.augment import assignment, assignment_triton

    class Cuda(torch.Tensor):  # a CPU tensor that claims to be on CUDA, to reach the kernel's branch
        @property
        def is_cuda(self):
            return True

    def broken(cost):
        raise RuntimeError("no kernel for this GPU")

    monkeypatch.setattr(assignment_triton, "triton", object())
    monkeypatch.setattr(assignment_triton, "_failure", None)
    monkeypatch.setattr(assignment_triton, "solve", broken)
    score = torch.randn(4, 6, 6, dtype=torch.float64)
    with pytest.warns(RuntimeWarning, match="no kernel for this GPU"):
        cols = assignment.linear_assignment(score.as_subclass(Cuda))
    assert not assignment_triton.available()
    expected = torch.tensor(np.stack([linear_sum_assignment(s)[1] for s in score.numpy()]))
    assert torch.equal(cols.as_subclass(torch.Tensor), expected)
