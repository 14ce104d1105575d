"""The benchmark script runs end to end (tiny sizes; the figures themselves are not checked)."""
import numpy as np
import torch

import nngraph
from nngraph.augment import weight_matching
from nngraph.experiments.benchmarks.augment import main, numpy_weight_matching


def test_bench_runs(capsys):
    main(["--batch-size", "4", "--min-time", "0", "--spec", "2-6-5-1", "--matching-specs", "2-6-5-1", "3-4-4-4-1"])
    out = capsys.readouterr().out
    assert "mixup_signed_weight_matching" in out and "numpy + scipy, per pair" in out
    for line in ("batched, scipy solver", "batched signed, batched solver", "6x6 assignments alone, batched",
                 "NetworkSpec(3-4-4-4-1"):
        assert line in out


def test_numpy_baseline_recovers_planted_permutation_like_the_batched_one():
    spec = nngraph.NetworkSpec((2, 32, 32, 1))
    a = nngraph.to_graph(nngraph.Siren(spec))
    b = nngraph.permute(a, nngraph.random_perms(a))
    (wa, ba), (wb, bb) = nngraph.to_params(a), nngraph.to_params(b)
    as_np = lambda ts: [t.double().numpy() for t in ts]  # noqa: E731
    weights, biases = numpy_weight_matching(as_np(wa), as_np(ba), as_np(wb), as_np(bb), np.random.default_rng(0))
    assert all(np.array_equal(w, x) for w, x in zip(weights + biases, as_np(wa) + as_np(ba)))
    assert torch.equal(weight_matching(a, b).edge_attr, a.edge_attr)
