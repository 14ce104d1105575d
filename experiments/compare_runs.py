"""Two sets of run folders, cell by cell: does a rerun of the same commands reproduce the first set?

    python -m experiments.compare_runs FIRST SECOND [--out FILE.md]

Pairs the run folders of the same name under FIRST and SECOND (``<cell>-s<seed>``, each with its
``run.json`` and ``result.json``), refuses a pair whose settings differ (naming the keys: a rerun
must be the same run), and writes per cell both sets' test accuracy (mean ± std over seeds), each
seed's difference, the mean paired difference with its standard error (the std of the differences
over sqrt(n)) and a paired t test, and the same over every pair. Folders finished in the second set
only are named, those of the first not rerun counted (a rerun may cover part of a table).
"""
from __future__ import annotations

import math
import re
import statistics
from pathlib import Path

from nngraph.datasets.shards import atomic_write_bytes

from .cli import Parser, run
from .records import read_record

SEED = re.compile(r"^(?P<cell>.+)-s(?P<seed>\d+)$")


def finished(folder: Path) -> dict[str, tuple[dict, float]]:
    """{run folder name: (its settings, test accuracy in %)} of the finished runs under ``folder``."""
    if not folder.is_dir():
        raise ValueError(f"runs: {folder} is not a folder")
    out = {}
    for run_dir in sorted(folder.iterdir()):
        if (run_dir / "result.json").is_file() and (run_dir / "run.json").is_file() and SEED.match(run_dir.name):
            accuracy = 100 * read_record(run_dir / "result.json")["test_acc"]
            out[run_dir.name] = (read_record(run_dir / "run.json"), accuracy)
    return out


def by_cell(runs: dict[str, tuple[dict, float]]) -> dict[str, list[float]]:
    """{cell: test accuracies over its seeds} of `finished`'s runs."""
    out: dict = {}
    for name, (_, acc) in runs.items():
        out.setdefault(SEED.match(name)["cell"], []).append(acc)
    return out


def pairs(first: Path, second: Path, a: dict, b: dict) -> tuple[dict[str, list[tuple[int, float, float]]], tuple[list, list]]:
    """({cell: [(seed, first %, second %)]}, (folder names finished in the first set only, in the second only))
    from `finished` ``a`` of ``first`` and ``b`` of ``second``."""
    cells: dict = {}
    for name in sorted(a.keys() & b.keys()):
        differ = sorted(k for k in a[name][0].keys() | b[name][0].keys() if a[name][0].get(k) != b[name][0].get(k))
        if differ:
            raise ValueError(f"{second / name}: not a rerun of {first / name}; its settings differ in {', '.join(differ)}")
        m = SEED.match(name)
        cells.setdefault(m["cell"], []).append((int(m["seed"]), a[name][1], b[name][1]))
    return cells, (sorted(a.keys() - b.keys()), sorted(b.keys() - a.keys()))


def paired(diffs: list[float]) -> tuple[float, float, float | None]:
    """Mean of ``diffs``, its standard error and a two-sided paired t test's p (None under two)."""
    from scipy import stats
    mean = statistics.mean(diffs)
    if len(diffs) < 2:
        return mean, 0.0, None
    se = statistics.stdev(diffs) / math.sqrt(len(diffs))
    p = 1.0 if se == 0 and mean == 0 else 0.0 if se == 0 else 2 * stats.t.sf(abs(mean / se), len(diffs) - 1)
    return mean, se, p


def table(first: Path, second: Path) -> str:
    a, b = finished(first), finished(second)
    cells, alone = pairs(first, second, a, b)
    if not cells:
        raise ValueError(f"runs: no finished run folder is in both {first} and {second}")

    def spread(values):  # no std of one value
        return f"{statistics.mean(values):.2f}" + (f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else "")

    def test(diffs):
        mean, se, p = paired(diffs)
        return (f"{mean:+.2f} ± {se:.2f}", f"{p:.2f}") if p is not None else (f"{mean:+.2f}", "")

    lines = [f"Test %, `{first}` (first) against `{second}` (second), the same settings, paired by seed; "
             "difference second - first, mean ± one standard error (std of the paired differences / sqrt(n)), "
             "p of a two-sided paired t test.", "",
             "| cell | n | first | second | per seed (second - first) | difference | p | identical |",
             "|---|---|---|---|---|---|---|---|"]
    every = []
    for cell, runs in cells.items():
        runs.sort()
        diffs = [b - a for _, a, b in runs]
        every += diffs
        per_seed = ", ".join(f"s{seed} {d:+.2f}" for (seed, _, _), d in zip(runs, diffs))
        diff, p = test(diffs)
        same = sum(a == b for _, a, b in runs)
        lines.append(f"| {cell} | {len(runs)} | {spread([a for _, a, _ in runs])} | {spread([b for _, _, b in runs])} | "
                     f"{per_seed} | {diff} | {p} | {same}/{len(runs)} |")
    diff, p = test(every)
    lines += ["", f"Every pair (n={len(every)}): {diff} points" + (f", p = {p}" if p else "") +
              f"; mean absolute difference {statistics.mean(abs(d) for d in every):.2f}."]
    seeds = [v for cell, v in by_cell(a).items() if cell in cells and len(v) > 1]  # every seed of the first set
    if seeds:  # an independent redraw of a cell differs from it by sqrt(2) seed stds, on average (in rms)
        from scipy import stats
        dof = sum(len(v) - 1 for v in seeds)
        seed_sd = math.sqrt(sum((len(v) - 1) * statistics.variance(v) for v in seeds) / dof)
        rms = math.sqrt(statistics.mean(d * d for d in every))
        # F test: the differences' mean square over 2 seed variances; small when reruns agree more than redraws
        f = rms**2 / (2 * seed_sd**2) if seed_sd else math.inf
        lines.append(f"Were each rerun an independent draw of its cell, its differences would have a root mean "
                     f"square of sqrt(2) x the seed std: {math.sqrt(2) * seed_sd:.2f} (the first set's seed std "
                     f"pooled over these cells, all its seeds, {seed_sd:.2f}); measured {rms:.2f}: F = {f:.2f} on "
                     f"({len(every)}, {dof}) degrees of freedom, p = {stats.f.cdf(f, len(every), dof):.2f} that "
                     "independent draws differ this little or less (one-sided; approximate, as both use the "
                     "first set's values).")
    if alone[1]:
        lines.append(f"Finished in the second set only: {', '.join(alone[1])}.")
    if alone[0]:
        lines.append(f"{len(alone[0])} run(s) of the first set not (yet) in the second.")
    return "\n".join(lines) + "\n"


def main(argv=None) -> str:
    ap = Parser(description=__doc__)
    ap.add_argument("first", type=Path, help="a folder of run folders")
    ap.add_argument("second", type=Path, help="a folder of run folders of the same names: the rerun")
    ap.add_argument("--out", type=Path, default=None, help="also write the table here (Markdown)")
    args = ap.parse_args(argv)
    md = table(args.first, args.second)
    if args.out is not None:
        atomic_write_bytes(args.out, md.encode())
    print(md, end="")
    return md


if __name__ == "__main__":
    run(main)
