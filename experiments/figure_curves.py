"""Figure 1 of the paper: train and test (here: validation and test) loss curves per run, from the
CSV logs that `experiments.train` writes.

    python -m experiments.figure_curves RUN_DIR [RUN_DIR ...] --out curves.png
"""
from __future__ import annotations

import csv
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from .cli import Parser, run


def read_curves(run: Path) -> dict[str, list[tuple[int, float]]]:
    """{metric: [(epoch, value)]} for train_loss and val_loss of one run (all its restarts)."""
    paths = sorted((run / "csv").glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[1]))
    if not paths:
        raise ValueError(f"{run}: no CSV log under {run / 'csv'}; is it a run directory of experiments.train?")
    curves: dict = {"train_loss": {}, "val_loss": {}}
    for path in paths:  # a later start overrides the epochs it repeated
        with open(path) as f:
            for row in csv.DictReader(f):
                for key, values in curves.items():
                    if row.get(key):
                        values[int(row["epoch"])] = float(row[key])
    return {key: sorted(values.items()) for key, values in curves.items()}


def plot(runs: list[Path], out: Path, title: str = "", log: bool = False) -> None:
    """Train (solid) and validation (dashed) loss of each run; ``log``: a log-scale loss axis (one
    unstable epoch's spike would otherwise flatten every curve)."""
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, folder in enumerate(runs):
        c = read_curves(folder)
        color = f"C{i}"
        for key, style in (("train_loss", "-"), ("val_loss", "--")):
            if c[key]:
                ax.plot(*zip(*c[key]), style, color=color, label=f"{folder.name} {key.split('_')[0]}")
    ax.set_xlabel("epoch")
    ax.set_ylabel("cross-entropy")
    if log:
        ax.set_yscale("log")
    ax.set_title(title or "train (solid) and validation (dashed) loss")
    ax.legend(fontsize=7)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main(argv=None):
    ap = Parser(description=__doc__)
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=Path("curves.png"))
    ap.add_argument("--title", default="")
    args = ap.parse_args(argv)
    plot(args.runs, args.out, args.title)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    run(main)
