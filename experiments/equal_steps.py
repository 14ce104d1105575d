"""Equal steps: how much of the 10-view gap is only the 10-view runs' longer training?

    python -m experiments.equal_steps [--seeds 0 1 2] [--jobs 2] [--out results/equal-steps]

The headline's 1-view cells train 60 epochs and its 10-view cells 20 (the paper's 3:1 ratio of
epochs), so at 2,000 objects the 10-view runs take 10 * 2,000 // 64 * 20 = 6,240 optimiser steps
against 2,000 // 64 * 60 = 1,860. This trains DWSNet's 1-view cells, no augmentation and signed
aligned mixup, for as many steps as the 10-view ones (the nearest whole number of epochs: 201),
with the headline's data, model and schedule otherwise, and compares them with the headline's own
cells. Writes ``table.{md,csv}``: each cell with its epochs, steps (counted from its training log)
and test accuracy, and the 10-view gap with what remains of it at equal steps.

Standard errors pool the within-cell variance by kind of cell (augmentation and views), over the
two training lengths where a kind has both (`experiments.trend`), as the scale study does.
"""
from __future__ import annotations

import argparse
import csv
import math
import statistics
from pathlib import Path

from nngraph.datasets.shards import atomic_write_bytes, read_manifest

from . import headline, trend
from .cli import Parser, non_negative_int, positive_int, run
from .cpu import keep_freed_memory
from .table1 import aggregate, csv_text, missing, train_cells

MODEL = "dws"
AUGS = ("none", "mixup_signed_weight_matching")
LABEL = {"none": "none", "mixup_signed_weight_matching": "signed aligned mixup"}
BATCH = 64  # the headline's


def steps_per_epoch(data: Path, views: int) -> int:
    """Optimiser steps in one training epoch of ``data`` (its last partial batch is dropped)."""
    inrs = read_manifest(data)["splits"]["train"]["count"] * views
    return inrs // BATCH if inrs > BATCH else 1


def equal_epochs(runs: Path, epochs_10: int) -> int:
    """The 1-view epochs whose steps are nearest the 10-view cells' ``epochs_10`` epochs."""
    target = steps_per_epoch(headline.data_dir(runs, 10), 10) * epochs_10
    return round(target / steps_per_epoch(headline.data_dir(runs, 1), 1))


def logged_steps(out: Path) -> int | None:
    """The optimiser steps a finished run took: the last step its CSV logs (every restart's) record."""
    steps = [int(row["step"]) for f in sorted(out.glob("csv/**/metrics.csv")) for row in csv.DictReader(f.open())
             if row.get("step")]
    return max(steps) if steps else None


def cells(args, epochs: int) -> list[tuple[str, int, argparse.Namespace]]:
    """Every cell as (augmentation, epochs, `experiments.train` arguments): this study's 1-view cells
    of ``epochs`` epochs in its own folders, and the headline's runs beside them."""
    own = argparse.Namespace(runs=args.runs, out=args.out, epochs=[epochs, None], threads=args.threads)
    base = argparse.Namespace(runs=args.runs, out=args.headline, epochs=list(args.headline_epochs),
                              threads=args.threads)
    out = []
    for seed in args.seeds:
        out += [(aug, epochs, _renamed(headline.cell_args(own, MODEL, aug, 1, seed), epochs)) for aug in AUGS]
        out += [(aug, args.headline_epochs[0], headline.cell_args(base, MODEL, aug, 1, seed)) for aug in AUGS]
        out.append(("none", args.headline_epochs[1], headline.cell_args(base, MODEL, "none", 10, seed)))
    return out


def _renamed(c: argparse.Namespace, epochs: int) -> argparse.Namespace:
    c.out = str(Path(c.out).with_name(f"{MODEL}-{c.augment}-v1-e{epochs}-s{c.seed}"))
    return c


def main(argv=None) -> str:
    ap = Parser(description=__doc__)
    ap.add_argument("--seeds", type=non_negative_int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--runs", type=Path, default=Path("results/inrs"), help="where the headline's datasets are")
    ap.add_argument("--headline", type=Path, default=Path("results/headline"), help="the headline's results")
    ap.add_argument("--headline-epochs", type=positive_int, nargs=2, default=[60, 20], metavar=("ONE_VIEW", "TEN_VIEWS"))
    ap.add_argument("--out", type=Path, default=Path("results/equal-steps"))
    ap.add_argument("--threads", type=positive_int, default=1, help="threads of each cell")
    ap.add_argument("--jobs", type=positive_int, default=1, help="cells at once, each in its own process")
    ap.add_argument("--aggregate-only", action="store_true")
    args = ap.parse_args(argv)
    epochs = equal_epochs(args.runs, args.headline_epochs[1])
    todo = cells(args, epochs)
    if not args.aggregate_only:  # the headline's cells are read back where they are finished, else trained
        train_cells(missing([c for _, _, c in todo]), args.jobs, after=lambda: write(args, todo))
    md = write(args, todo)
    print(md)
    return md


def write(args, todo: list) -> str:
    acc, steps = {}, {}
    for aug, epochs, c in todo:
        views = int(c.views)
        for values in aggregate([c]).values():
            acc.setdefault(((aug, views), epochs), []).extend(values)
            steps.setdefault(((aug, views), epochs), set()).add(logged_steps(Path(c.out)))
    pooled = trend.pooled_variance(acc)
    est = {key: trend.mean_se(acc, pooled, key) for key in acc}
    rows = [{"model": MODEL, "augment": aug, "views": views, "epochs": epochs,
             "steps": "/".join(str(s) for s in sorted(steps[key], key=lambda s: s or 0)), "n": len(v),
             "mean": f"{statistics.mean(v):.2f}", "std": f"{statistics.stdev(v) if len(v) > 1 else 0.0:.2f}",
             "se_pooled": f"{est[key][1]:.2f}"}
            for key, v in sorted(acc.items(), key=lambda kv: (kv[0][0][1], kv[0][0][0] != "none", kv[0][1]))
            for (aug, views), epochs in [key]]
    args.out.mkdir(parents=True, exist_ok=True)
    fields = ["model", "augment", "views", "epochs", "steps", "n", "mean", "std", "se_pooled"]
    atomic_write_bytes(args.out / "table.csv", csv_text(rows, fields).encode())
    lines = ["| cell | epochs | steps | test % (± s.e.) | n |", "|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {LABEL[r['augment']]}, {r['views']} view{'s' * (r['views'] > 1)} | {r['epochs']} | "
                     f"{r['steps']} | {r['mean']} ± {r['se_pooled']} | {r['n']} |")
    lines += ["", "± one standard error: within-cell variance pooled by kind of cell (augmentation, views) over "
              "its training lengths (`experiments.trend`); differences' errors add in quadrature."]
    lines += _gaps(est, args.headline_epochs)
    md = "\n".join(lines) + "\n"
    atomic_write_bytes(args.out / "table.md", md.encode())
    return md


def _gaps(est: dict, headline_epochs) -> list[str]:
    """The 10-view gap at the headline's lengths and at equal steps, and mixup's share of it."""
    one, ten = headline_epochs
    target = est.get((("none", 10), ten))
    lengths = sorted({e for (kind, e) in est if kind == ("none", 1)})
    if target is None:
        return []
    out, gaps = [], {}
    for e in lengths:
        a = est[(("none", 1), e)]
        gaps[e] = trend.difference(target, a)
        line = f"- {e} epochs: the 10-view gap is {gaps[e][0]:+.2f} ± {gaps[e][1]:.2f} points"
        m = est.get((("mixup_signed_weight_matching", 1), e))
        if m is not None and gaps[e][0] != 0:
            r, se = trend.share(a, m, target)
            line += f"; signed aligned mixup recovers {100 * r:.0f} ± {100 * se:.0f}% of it"
        out.append(line + ".")
    for aug in AUGS:  # (T - A_long) / (T - A_one) = 1 - the share that training longer recovers
        short, long = est.get(((aug, 1), one)), est.get(((aug, 1), lengths[-1]))
        if short and long and lengths[-1] != one and target[0] != short[0]:
            r, se = trend.share(short, long, target)
            out.append(f"- {LABEL[aug].capitalize()}: 10 views are {target[0] - short[0]:+.2f} ± "
                       f"{math.hypot(target[1], short[1]):.2f} points ahead at {one} epochs, {target[0] - long[0]:+.2f} "
                       f"± {math.hypot(target[1], long[1]):.2f} at equal steps ({lengths[-1]} epochs): "
                       f"{100 * (1 - r):.0f} ± {100 * se:.0f}% of that gap remains (delta method).")
    return [""] + out


if __name__ == "__main__":
    keep_freed_memory()
    run(main)
