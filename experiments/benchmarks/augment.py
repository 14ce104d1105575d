"""Augmentation throughput: every augmentation through the vectorised Batch path against the
per-graph path (transform each Data, then collate), and weight matching batched (with scipy's solver
and with the batched `augment.linear_assignment`) against a plain numpy + scipy per-pair
implementation, all measured in the same run.

    python -m experiments.benchmarks.augment [--device cuda] [--batch-size 128] [--spec 2-32-32-1]
        [--matching-specs 2-32-32-1 3-32-32-32-32-32-1]
"""
from __future__ import annotations


import numpy as np
import torch
from scipy.optimize import linear_sum_assignment

import nngraph
from nngraph.augment import AUGMENTATIONS, build, linear_assignment, weight_matching
from nngraph.augment.weight_matching import _similarity

from .timing import rate

from ..cli import Parser, layer_sizes, non_negative_float, positive_int, run

NUM_CLASSES = 10


def numpy_weight_matching(wa, ba, wb, bb, rng: np.random.Generator, max_iter: int = 100):
    """Baseline: Weight Matching for one pair on numpy layers (``[out, in]``, ``[out]``), one
    assignment per layer visit; returns ``b``'s aligned layers."""
    H = len(wb) - 1
    perms = [np.arange(w.shape[0]) for w in wb[:-1]]
    for _ in range(max_iter):
        progress = False
        for h in rng.permutation(H):
            w_in = wb[h] if h == 0 else wb[h][:, perms[h - 1]]
            w_out = wb[h + 1] if h + 1 == H else wb[h + 1][perms[h + 1], :]
            sim = wa[h] @ w_in.T + np.outer(ba[h], bb[h]) + wa[h + 1].T @ w_out
            rows, cols = linear_sum_assignment(sim, maximize=True)
            if sim[rows, cols].sum() > sim[rows, perms[h]].sum() + 1e-10 * abs(sim[rows, cols].sum()):
                progress = True
                perms[h] = cols
        if not progress:
            break
    weights, biases = list(wb), list(bb)
    for h, p in enumerate(perms):
        weights[h], biases[h] = weights[h][p], biases[h][p]
        weights[h + 1] = weights[h + 1][:, p]
    return weights, biases


def main(argv=None):
    ap = Parser(description=__doc__)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--batch-size", type=positive_int, default=128)
    ap.add_argument("--spec", type=layer_sizes, default=(2, 32, 32, 1), help="the augmentations' spec")
    ap.add_argument("--matching-specs", type=layer_sizes, nargs="+", default=[(2, 32, 32, 1), (3, 32, 32, 32, 32, 32, 1)],
                    help="the specs of the weight-matching benchmark")
    ap.add_argument("--min-time", type=non_negative_float, default=0.5, help="seconds of timed repeats per measurement")
    ap.add_argument("--threads", type=positive_int, default=None, help="torch CPU threads (default: torch's)")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    sizes = args.spec
    B = args.batch_size
    torch.manual_seed(0)

    def graphs_of(spec):
        w, b = nngraph.init_params(spec, B, device=device)
        params = torch.cat([t.reshape(B, -1) for t in w] + [t.reshape(B, -1) for t in b], 1)
        y = torch.randint(0, NUM_CLASSES, (B,), device=device)
        return [nngraph.to_graph(p, spec, y=y[i:i + 1]) for i, p in enumerate(params)]

    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    print(f"spec {nngraph.NetworkSpec(sizes)}, batch {B}, device {device} ({name}), torch {torch.__version__}, "
          f"{torch.get_num_threads()} CPU threads")
    print(f"{'augmentation':<29} {'per-Data graphs/s':>18} {'Batch graphs/s':>15} {'speed-up':>9}")
    for aug in AUGMENTATIONS:
        if aug == "none":
            continue
        spec = nngraph.NetworkSpec(sizes, "relu" if aug == "relu_scale" else "sine")
        graphs = graphs_of(spec)
        batch = nngraph.collate(graphs)
        per_graph = build(aug, NUM_CLASSES, dataset=graphs)  # mixup: partners drawn from the dataset
        whole = build(aug, NUM_CLASSES)  # mixup: partners drawn within the batch
        base = rate(lambda: nngraph.collate([per_graph(g) for g in graphs]), B, device, args.min_time, min_repeats=3)
        fast = rate(lambda: whole(batch), B, device, args.min_time, min_repeats=3)
        print(f"{aug:<29} {base:>18,.0f} {fast:>15,.0f} {fast / base:>8.1f}x")

    for sizes in args.matching_specs:
        matching(nngraph.NetworkSpec(sizes), graphs_of, device, B, args.min_time)


def matching(spec, graphs_of, device, B: int, min_time: float):
    """Weight matching of B pairs: a numpy + scipy program per pair, then the library's batched
    program with each assignment solver; and the assignment problems of one layer alone."""
    a, b = nngraph.collate(graphs_of(spec)), nngraph.collate(graphs_of(spec))
    (wa, ba), (wb, bb) = nngraph.layer_views(a), nngraph.layer_views(b)
    pairs = [([w[i].double().cpu().numpy() for w in wa], [t[i].double().cpu().numpy() for t in ba],
              [w[i].double().cpu().numpy() for w in wb], [t[i].double().cpu().numpy() for t in bb]) for i in range(B)]
    rng = np.random.default_rng(0)
    flat_b = nngraph.flat_params(b)
    d0 = (nngraph.flat_params(a) - flat_b).norm(dim=1)

    def ratio(aligned_flat):
        return ((nngraph.flat_params(a) - aligned_flat).norm(dim=1) / d0).mean().item()

    out = [numpy_weight_matching(*p, rng) for p in pairs]
    base_flat = torch.tensor(np.stack([np.concatenate([w.ravel() for w in ws] + list(bs)) for ws, bs in out]),
                             dtype=flat_b.dtype, device=device)
    base = rate(lambda: [numpy_weight_matching(*p, rng) for p in pairs], B, device, min_time, min_repeats=3)
    print(f"\nweight matching, {B} pairs of {spec}: pairs/s (mean distance after / before)")
    print(f"{'numpy + scipy, per pair':<34} {base:>10,.0f}   ({ratio(base_flat):.3f})")
    for signed in (False, True):
        for solver in ("scipy", "batched"):
            fast = rate(lambda: weight_matching(a, b, signed=signed, solver=solver), B, device, min_time, min_repeats=3)
            aligned = nngraph.flat_params(weight_matching(a, b, signed=signed, solver=solver))
            label = f"batched{' signed' if signed else ''}, {solver} solver"
            print(f"{label:<34} {fast:>10,.0f}   ({ratio(aligned):.3f})  {fast / base:.1f}x")
    # the assignments alone: the first sweep's problems of the first hidden layer
    perms = [torch.arange(n, device=device).expand(B, n) for n in spec.hidden_sizes]
    sim = _similarity(0, torch.arange(B, device=device), wa, ba, wb, bb, perms, None)
    cpu = sim.cpu().numpy()
    scipy_rate = rate(lambda: [linear_sum_assignment(s, maximize=True) for s in cpu], B, device, min_time, min_repeats=3)
    batched_rate = rate(lambda: linear_assignment(sim, maximize=True), B, device, min_time, min_repeats=3)
    n = sim.shape[1]
    print(f"{f'{n}x{n} assignments alone, scipy':<34} {scipy_rate:>10,.0f}")
    print(f"{f'{n}x{n} assignments alone, batched':<34} {batched_rate:>10,.0f}   {batched_rate / scipy_rate:.1f}x")


if __name__ == "__main__":
    run(main)
