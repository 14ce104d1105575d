"""Capacity: does the paper's DWSNet (4 layers x 128) beat the `small` one (2 x 32) at a given N?

    python -m experiments.capacity [--size 4000] [--seeds 0 1] [--jobs 2] [--out results/capacity]

DWSNet on the first N training objects of the scale study's data (`experiments.scale`: the same
182 validation and 2,182 test INRs, the headline's schedule), no augmentation and signed aligned
mixup on 1 view, with the ``paper`` preset beside ``small``. The `small` cells are the scale
study's own runs (its folders, seeds 0-2: run by `experiments.scale` if missing); the ``paper``
cells train here, in ``<out>/runs/dws-paper-<augment>-v1-n<N>-s<seed>``. Writes
``<out>/table-n<N>.{md,csv}``: each cell's mean with its standard error, and the paper preset's
difference from `small` with its standard error and a t test.

Standard errors pool the within-cell variance by augmentation over the two presets (n=2 and 3
give a noisy std per cell); a difference's error adds the two cells' in quadrature and its test
takes the pooled degrees of freedom.
"""
from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from nngraph.datasets.shards import atomic_write_bytes

from . import scale, trend
from .cli import Parser, non_negative_int, positive_int, run
from .cpu import keep_freed_memory
from .table1 import aggregate, csv_text, missing, train_cells

AUGS = ("none", "mixup_signed_weight_matching")
LABEL = {"none": "none", "mixup_signed_weight_matching": "signed aligned mixup"}


def cells(args) -> list[tuple[str, str, argparse.Namespace]]:
    """Every cell as (preset, augmentation, `experiments.train` arguments)."""
    held = [(data, full) for data, full in scale.datasets(args, 1) if full >= args.size]
    if not held:
        raise ValueError(f"--size: no complete 1-view dataset holds {args.size} training objects (--data-1)")
    shared = argparse.Namespace(**{**vars(args), "out": args.scale})
    out = [("small", aug, scale.cell(shared, aug, 1, args.size, seed, *held[0]))
           for seed in args.small_seeds for aug in AUGS]
    for seed in args.seeds:
        for aug in AUGS:
            c = scale.cell(args, aug, 1, args.size, seed, *held[0])
            c.preset = "paper"
            c.out = str(args.out / "runs" / f"dws-paper-{aug}-v1-n{args.size}-s{seed}")
            out.append(("paper", aug, c))
    return out


def main(argv=None) -> str:
    ap = Parser(description=__doc__)
    ap.add_argument("--size", type=positive_int, default=4000, help="training objects (N)")
    ap.add_argument("--seeds", type=non_negative_int, nargs="+", default=[0, 1], help="the paper preset's seeds")
    ap.add_argument("--small-seeds", type=non_negative_int, nargs="+", default=[0, 1, 2],
                    help="the small preset's seeds (the scale study's)")
    ap.add_argument("--runs", type=Path, default=Path("results/inrs"), help="where the headline's datasets are")
    ap.add_argument("--data-1", type=Path, nargs="+", default=None,
                    help="the scale study's 1-view data above 2,000 objects, smallest first (default: "
                         "RUNS/fmnist4k-v1; add runs/inrs/fmnist55k-v1 for larger N)")
    ap.add_argument("--headline", type=Path, default=Path("results/headline"), help="the headline's results")
    ap.add_argument("--scale", type=Path, default=Path("results/scale"), help="the scale study's results")
    ap.add_argument("--out", type=Path, default=Path("results/capacity"))
    ap.add_argument("--epochs", type=positive_int, default=60)
    ap.add_argument("--threads", type=positive_int, default=1, help="threads of each cell")
    ap.add_argument("--jobs", type=positive_int, default=1, help="cells at once, each in its own process")
    ap.add_argument("--aggregate-only", action="store_true")
    args = ap.parse_args(argv)
    args.data_1, args.data_10 = args.data_1 or [args.runs / "fmnist4k-v1"], []
    args.epochs = [args.epochs, None]  # scale.cell's (1 view, 10 views)
    todo = cells(args)
    if not args.aggregate_only:  # the paper preset's cells first: the small ones are normally the scale study's
        order = [c for p, _, c in todo if p == "paper"] + [c for p, _, c in todo if p == "small"]
        train_cells(missing(order), args.jobs, after=lambda: write(args, todo))
    md = write(args, todo)
    print(md)
    return md


def write(args, todo: list) -> str:
    from scipy import stats
    acc = {}
    for preset, aug, c in todo:
        for values in aggregate([c]).values():
            acc.setdefault((aug, preset), []).extend(values)
    pooled = trend.pooled_variance(acc)
    dof = {aug: sum(len(v) - 1 for (a, _), v in acc.items() if a == aug) for aug in AUGS}
    est = {key: trend.mean_se(acc, pooled, key) for key in acc}
    rows = []
    for aug in AUGS:
        for preset in ("small", "paper"):
            if (aug, preset) in acc:
                v = acc[(aug, preset)]
                rows.append({"model": "dws", "preset": preset, "augment": aug, "num_train": args.size, "n": len(v),
                             "mean": f"{statistics.mean(v):.2f}",
                             "std": f"{statistics.stdev(v) if len(v) > 1 else 0.0:.2f}",
                             "se_pooled": f"{est[(aug, preset)][1]:.2f}"})
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"table-n{args.size}"
    fields = ["model", "preset", "augment", "num_train", "n", "mean", "std", "se_pooled"]
    atomic_write_bytes(args.out / f"{name}.csv", csv_text(rows, fields).encode())
    lines = [f"DWSNet on {args.size:,} training objects, 1 view, {args.epochs[0]} epochs; test %, mean ± one "
             "standard error (within-cell variance pooled by augmentation over the two presets).", "",
             "| augmentation | small (2 x 32) | paper (4 x 128) | paper - small | p |", "|---|---|---|---|---|"]
    for aug in AUGS:
        small, paper = est.get((aug, "small")), est.get((aug, "paper"))
        cell = [f"{est[(aug, p)][0]:.2f} ± {est[(aug, p)][1]:.2f} (n={len(acc[(aug, p)])})" if (aug, p) in est else ""
                for p in ("small", "paper")]
        diff = pval = ""
        if small and paper and dof[aug] > 0:
            d, se = trend.difference(paper, small)
            diff, pval = f"{d:+.2f} ± {se:.2f}", f"{2 * stats.t.sf(abs(d / se), dof[aug]):.2f}" if se > 0 else ""
        lines.append(f"| {LABEL[aug]} | {cell[0]} | {cell[1]} | {diff} | {pval} |")
    lines += ["", "p: two-sided t test of the difference on the pooled degrees of freedom."]
    md = "\n".join(lines) + "\n"
    atomic_write_bytes(args.out / f"{name}.md", md.encode())
    return md


if __name__ == "__main__":
    keep_freed_memory()
    run(main)
