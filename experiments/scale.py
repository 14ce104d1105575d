"""The scale question: does mixup recover more of the 10-view gain as the training set grows?

    python -m experiments.scale [--sizes 500 1000 2000 4000] [--seeds 0 1 2] [--out results/scale]

DWSNet on the first N training objects of the headline's datasets (`experiments.headline`: the same
validation and test INRs for every N, the same models and schedule), three cells per N: no
augmentation on 1 view, signed aligned mixup on 1 view, no augmentation on 10 views. At the
datasets' full size the headline's own runs are the cells; an N above it takes an extension of them
(``--data-1``, ``--data-10``: ``fit_inrs --extra-train``, the same validation and test objects), and
an N that no complete dataset holds is left out, with a line saying so. Writes ``table.csv``
(model, augment, views, num_train, n, mean, std, se_pooled, share, share_se, gain, gain_se),
``table.md`` with the share of the 10-view gain that mixup recovers at each N with its standard
error and a test of its trend (`experiments.trend`), and ``accuracy.png``; every cell resumes like
`experiments.train`. Mixup's gain over no augmentation on 1 view (``gain``, ``gain_se``) and its
trend are reported too: they need no 10-view cell, so they reach sizes fitted on 1 view only.
"""
from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import torch

from nngraph.datasets.build import restore_copies
from nngraph.datasets.shards import atomic_write_bytes, content_id, read_manifest

from . import headline, trend
from .cli import Parser, non_negative_int, positive_int, run
from .cpu import keep_freed_memory
from .table1 import aggregate, csv_text, missing, train_cells

CELLS = (("none", 1), ("mixup_signed_weight_matching", 1), ("none", 10))
MODEL = "dws"


def cell(args, aug: str, views: int, size: int, seed: int, data: Path, full: int, model: str = MODEL) -> argparse.Namespace:
    """One cell's `experiments.train` arguments: the headline's own run on the headline's data at its
    full size, else the first ``size`` objects of ``data`` (holding ``full``) in a folder of its own."""
    base = argparse.Namespace(runs=args.runs, out=args.headline, epochs=args.epochs, threads=args.threads)
    c = headline.cell_args(base, model, aug, views, seed)
    if size < full or data != headline.data_dir(args.runs, views):
        c.data, c.train_objects = str(data), size if size < full else None
        c.out = str(args.out / "runs" / f"{model}-{aug}-v{views}-n{size}-s{seed}")
    return c


def datasets(args, views: int) -> list[tuple[Path, int]]:
    """(folder, training objects) of each complete dataset of ``views`` views, the headline's first,
    then its extensions: an N uses the first that holds it, so extending the data leaves the smaller
    cells as they are."""
    found, first, by_id = [], None, {}
    for data in (headline.data_dir(args.runs, views), *(args.data_1 if views == 1 else args.data_10)):
        m = read_manifest(data) if (data / "manifest.json").is_file() else {}
        if not m.get("complete"):
            continue
        first = first or m
        if any(m[k] != first[k] for k in ("source", "spec", "fit", "seed")) or \
                any(m["splits"][s]["objects"] != first["splits"][s]["objects"] for s in ("val", "test")):
            raise ValueError(f"data: {data} is not an extension of {found[0][0]} (another recipe, or other "
                             "validation or test objects)")
        if found and any(not (data / e["file"]).is_file() for e in m["shards"]):  # copies need not be committed twice
            restore_copies(data, by_id.get(m.get("reuse"), found[-1][0]))  # from the dataset it reused
        found.append((data, m["splits"]["train"]["count"]))
        by_id[content_id(m)] = data
    return found


def main(argv=None):
    ap = Parser(description=__doc__)
    ap.add_argument("--sizes", type=positive_int, nargs="+", default=[500, 1000, 2000, 4000])
    ap.add_argument("--seeds", type=non_negative_int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--runs", type=Path, default=Path("results/inrs"), help="where the headline's datasets are")
    ap.add_argument("--data-1", type=Path, nargs="+", default=None,
                    help="the 1-view data for N above the headline's 2,000, smallest first (default: RUNS/fmnist4k-v1, "
                         "made by fit_inrs ... --limit 2182 --extra-train 2000 --reuse RUNS/fmnist2k-v1; the paper-scale "
                         "runs/inrs/fmnist55k-v1 extends it in turn)")
    ap.add_argument("--data-10", type=Path, nargs="+", default=None,
                    help="the same for 10 views (default: RUNS/fmnist4k-v10)")
    ap.add_argument("--headline", type=Path, default=Path("results/headline"), help="the headline's results")
    ap.add_argument("--out", type=Path, default=Path("results/scale"))
    ap.add_argument("--epochs", type=positive_int, nargs=2, default=[60, 20], metavar=("ONE_VIEW", "TEN_VIEWS"))
    ap.add_argument("--threads", type=positive_int, default=1, help="threads of each cell")
    ap.add_argument("--jobs", type=positive_int, default=1, help="cells at once, each in its own process")
    ap.add_argument("--aggregate-only", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    args.data_1 = args.data_1 or [args.runs / "fmnist4k-v1"]
    args.data_10 = args.data_10 or [args.runs / "fmnist4k-v10"]
    cells, held = [], {views: datasets(args, views) for views in (1, 10)}
    for size in args.sizes:
        for aug, views in CELLS:
            found = [(data, full) for data, full in held[views] if full >= size]
            if not found:
                print(f"N={size}, {aug}, {views} view(s): left out, no complete dataset of {views} view(s) "
                      f"holds {size} training objects", flush=True)
                continue
            cells += [(size, cell(args, aug, views, size, seed, *found[0])) for seed in args.seeds]
    if not args.aggregate_only:
        todo = [c for _, c in sorted(cells, key=lambda sc: int(sc[1].seed))]  # seed-major: every N at n=1 first
        train_cells(missing(todo), args.jobs, after=lambda: write(args, cells))
    print(write(args, cells))


def write(args, cells: list) -> str:
    acc = {}
    for size, c in cells:
        for (aug, _, views), values in aggregate([c]).items():
            acc.setdefault((aug, views, size), []).extend(values)
    args.out.mkdir(parents=True, exist_ok=True)
    by_kind = {((aug, views), size): v for (aug, views, size), v in acc.items()}
    pooled = trend.pooled_variance(by_kind)
    shares, sizes = {}, sorted({s for _, _, s in acc})
    for size in sizes:
        if all((aug, views, size) in acc for aug, views in CELLS):
            means = [trend.mean_se(by_kind, pooled, ((aug, views), size)) for aug, views in CELLS]
            if means[2][0] != means[0][0]:
                shares[size] = trend.share(*means)
    # mixup's own gain on 1 view needs no 10-view cell, so it reaches the sizes fitted on 1 view only
    arms = (CELLS[1][0], "none")
    gains = {size: trend.difference(*(trend.mean_se(by_kind, pooled, ((aug, 1), size)) for aug in arms))
             for size in sizes if all((aug, 1, size) in acc for aug in arms)}
    rows = [{"model": MODEL, "augment": aug, "views": views, "num_train": size, "n": len(v),
             "mean": f"{statistics.mean(v):.2f}", "std": f"{statistics.stdev(v) if len(v) > 1 else 0.0:.2f}",
             "se_pooled": f"{trend.mean_se(by_kind, pooled, ((aug, views), size))[1]:.2f}",
             "share": f"{100 * shares[size][0]:.1f}" if size in shares else "",
             "share_se": f"{100 * shares[size][1]:.1f}" if size in shares else "",
             "gain": f"{gains[size][0]:.2f}" if size in gains else "",
             "gain_se": f"{gains[size][1]:.2f}" if size in gains else ""}
            for (aug, views, size), v in sorted(acc.items(), key=lambda kv: (kv[0][2], kv[0][1], kv[0][0]))]
    fields = ["model", "augment", "views", "num_train", "n", "mean", "std", "se_pooled", "share", "share_se", "gain",
              "gain_se"]
    atomic_write_bytes(args.out / "table.csv", csv_text(rows, fields).encode())
    lines = ["| N | none, 1 view | signed aligned mixup, 1 view | none, 10 views | share of the 10-view gain recovered "
             "| mixup's gain, 1 view |", "|---|---|---|---|---|---|"]
    for size in sizes:
        cellstr = []
        for aug, views in CELLS:
            v = acc.get((aug, views, size))
            se = trend.mean_se(by_kind, pooled, ((aug, views), size))[1] if v else 0.0
            cellstr.append(f"{statistics.mean(v):.2f} ± {se:.2f} (n={len(v)})" if v else "")
        share = f"{100 * shares[size][0]:.0f} ± {100 * shares[size][1]:.0f}%" if size in shares else ""
        gain = f"{gains[size][0]:+.2f} ± {gains[size][1]:.2f}" if size in gains else ""
        lines.append(f"| {size} | " + " | ".join(cellstr) + f" | {share} | {gain} |")
    lines.append("")
    lines.append("± one standard error: within-cell variance pooled over every N by kind of cell; the share's by the "
                 "delta method (`experiments.trend`).")
    points = [(size, 100 * r, 100 * se) for size, (r, se) in sorted(shares.items()) if se > 0]
    for sub in (points, points[1:]):
        lines += _trend_line("Share", sub)
    lines += _trend_line("Mixup's gain on 1 view", [(size, g, se) for size, (g, se) in gains.items() if se > 0])
    md = "\n".join(lines) + "\n"
    atomic_write_bytes(args.out / "table.md", md.encode())
    _plot(acc, by_kind, pooled, args.out / "accuracy.png")
    return md


def _trend_line(what: str, points: list) -> list[str]:
    """One line testing ``points`` ``(N, y, se)`` (in points of accuracy) for a trend in log2 N."""
    if len(points) < 3:
        return []
    t = trend.slope_tests(points)
    return [f"{what} against log2 N, N = {points[0][0]:,} to {points[-1][0]:,}: {t['slope']:+.1f} ± {t['se']:.1f} "
            f"points per doubling, p = {t['p']:.2f} against flat (weighted, errors known); {t['ols_slope']:+.1f} ± "
            f"{t['ols_se']:.1f}, p = {t['ols_p']:.2f} (ordinary least squares, t test)."]


def _plot(acc: dict, by_kind: dict, pooled: dict, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 3.5))
    for aug, views in CELLS:
        points = sorted((s, v) for (a, vw, s), v in acc.items() if a == aug and vw == views)
        if points:
            sizes = [s for s, _ in points]
            ax.errorbar(sizes, [statistics.mean(v) for _, v in points],
                        yerr=[trend.mean_se(by_kind, pooled, ((aug, views), s))[1] for s, _ in points], marker="o",
                        capsize=3,
                        label=f"{'signed aligned mixup' if aug != 'none' else 'none'}, {views} view{'s' * (views > 1)}")
    ax.set_xscale("log")
    ax.set_xlabel("training objects")
    ax.set_ylabel("test accuracy (%, ± 1 pooled s.e.)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


if __name__ == "__main__":
    keep_freed_memory()
    run(main)
