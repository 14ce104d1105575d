"""The paper's headline on a CPU: weight-space mixup on 1 view of each object against no augmentation
on 1 and on 10 views, both models, Fashion-MNIST INRs fitted with the reference recipe.

    python -m experiments.headline [--models dws rt] [--seeds 0 1] [--out results/headline]
    python -m experiments.headline --rows table1 --views 1 [--models dws rt] [--seeds 0 1 2]

``--rows table1`` runs the rest of the paper's Table 1 on the same protocol (translate, rotate,
scale, noise, SIREN bias and negation, dropout, quantile dropout, and two combinations with signed
aligned mixup), into the same run folders, and writes the whole table, the headline's rows
included, to ``results/table1/fmnist.{md,csv}``. Every cell reported is checked against its record
(settings and the data's content id); the cells of a views setting whose data is not here are left
out, with a line saying so.

Data: the first 2,182 images of each official Fashion-MNIST split (2,000 training objects, 182
validation, 2,182 test), one INR per image with the paper's budget, and 10 views per training object
for the 10-view row (validation and test: view 0; every INR's initialisation is seeded by its
object and view, so view 0 of the 10-view dataset is the 1-view dataset's INR, copied from it).
Models: the ``small`` preset, batch 64; 1-view runs train for ``--epochs[0]`` epochs, 10-view runs
for ``--epochs[1]`` (the paper's 3:1 ratio of epochs; 10 views then take 3.35 times the optimiser
steps).

Cells run seed by seed, so a partial table has every row at n=1 first (``--jobs N``: N at a time,
each in a process of its own). Every step resumes: the fits shard by shard, a training run from its
last checkpoint, a finished run is read back; the table (``table.md``, ``table.csv``) and the loss
curves of the 1-view runs (``curves-<model>.png``) are rewritten after every cell.
"""
from __future__ import annotations

from pathlib import Path

import torch

from .cli import Parser, torch_device, non_negative_int, positive_int, run
from .cpu import keep_freed_memory
from .figure_curves import plot
from .fit_inrs import build as build_inrs
from . import table1
from .table1 import aggregate, seeds_in, write_tables
from .train import RESULT, parser as train_parser

LIMIT = 2182  # of each official split: 2,000 training objects after the validation share
ROWS = [("No augmentation", "none"), ("MixUp", "mixup"), ("MixUp + random perm.", "mixup_permutation"),
        ("Alignment + MixUp", "mixup_weight_matching"),
        ("Signed alignment + MixUp (ours)", "mixup_signed_weight_matching")]
TEN_VIEW_ROWS = ("none",)
# The rest of Table 1 on the same protocol, and two rows no paper has: the best function-preserving and
# the best input-space augmentation, each before signed aligned mixup.
TABLE1_ROWS = [r for r in table1.ROWS if r not in ROWS] + [
    ("SIREN negation + signed alignment + MixUp", "siren_negation+mixup_signed_weight_matching"),
    ("Translate + signed alignment + MixUp", "translate+mixup_signed_weight_matching")]
WARMUP = {"rt": "200", "dws": "0"}
MODELS = ("dws", "rt")  # the tables show every model's finished cells, whichever --models ran


def cells(models: list[str], seeds: list[int], views: list[int], rows: str = "headline") -> list[tuple[int, str, str, int]]:
    """(seed, model, augmentation, views), seed-major; ``rows``: the headline's, or the rest of Table 1
    (``"table1"``, 1 view)."""
    names = {"headline": {1: [a for _, a in ROWS], 10: TEN_VIEW_ROWS}, "table1": {1: [a for _, a in TABLE1_ROWS], 10: ()}}
    return [(seed, model, aug, v) for seed in seeds for model in models for v in views for aug in names[rows][v]]


def data_dir(runs: Path, views: int) -> Path:
    return runs / f"fmnist2k-v{views}"


def fit(runs: Path, views: int, device=None) -> dict:
    """The dataset of ``views`` views; the 10-view one copies view 0 of every object from the 1-view one
    (the same INR: each is seeded by its object and view) and fits views 1-9.

    By hand in two parts, one per core: ``fit_inrs --dataset fmnist --views 10 --limit 2182 --init
    reference --reuse results/inrs/fmnist2k-v1 --out results/inrs/fmnist2k-v10 --rank R --world-size 2``."""
    reuse = None
    if views > 1:
        fit(runs, 1, device)
        reuse = data_dir(runs, 1)
    return build_inrs("fmnist", data_dir(runs, views), views=views, limit=LIMIT, init="reference", device=device,
                      progress=False, reuse=reuse)


def run_dir(out: Path, model: str, aug: str, views: int, seed: int) -> Path:
    return out / "runs" / f"{model}-{aug}-v{views}-s{seed}"


def cell_args(args, model: str, aug: str, views: int, seed: int):
    """The `experiments.train` arguments of one cell."""
    return train_parser().parse_args([
        "--data", str(data_dir(args.runs, views)), "--model", model, "--augment", aug, "--views", str(views),
        "--epochs", str(args.epochs[views == 10]), "--seed", str(seed), "--preset", "small",
        "--batch-size", "64", "--warmup-steps", WARMUP[model], "--threads", str(args.threads),
        "--out", str(run_dir(args.out, model, aug, views, seed)), "--quiet"])


def main(argv=None):
    ap = Parser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("results/headline"))
    ap.add_argument("--runs", type=Path, default=Path("results/inrs"),
                    help="where the fitted INR datasets are kept (the 1-view one is committed there)")
    ap.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS), help="which cells to run")
    ap.add_argument("--seeds", type=non_negative_int, nargs="+", default=[0, 1])
    ap.add_argument("--views", type=positive_int, nargs="+", choices=(1, 10), default=[1, 10], help="which cells to run")
    ap.add_argument("--rows", choices=("headline", "table1"), default="headline",
                    help="which cells to run: the headline's rows, or the rest of Table 1 on 1 view")
    ap.add_argument("--table1-out", type=Path, default=Path("results/table1"),
                    help="where the whole Table 1 on this protocol is written (fmnist.md, fmnist.csv)")
    ap.add_argument("--epochs", type=positive_int, nargs=2, default=[60, 20], metavar=("ONE_VIEW", "TEN_VIEWS"))
    ap.add_argument("--threads", type=positive_int, default=1, help="threads of each cell")
    ap.add_argument("--jobs", type=positive_int, default=1, help="cells at once, each in its own process")
    ap.add_argument("--device", type=torch_device, default=None, help="device for fitting (default: cuda if available)")
    ap.add_argument("--fit-only", action="store_true", help="fit the two INR datasets and stop")
    ap.add_argument("--aggregate-only", action="store_true", help="rewrite the tables from finished runs")
    args = ap.parse_args(argv)
    torch.set_float32_matmul_precision("high")
    torch.set_num_threads(args.threads)
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if args.fit_only:
        for views in (1, 10):
            fit(args.runs, views, device)
        return
    if not args.aggregate_only:
        todo = [cell_args(args, model, aug, views, seed)
                for seed, model, aug, views in cells(args.models, args.seeds, args.views, args.rows)]
        table1.fit_and_train(todo, lambda views: fit(args.runs, views, device), args.jobs, after=lambda: _write(args))
    print(_write(args))


def _finished_cells(args, rows: list[tuple[str, str]], views: list[int], out: Path, table: str) -> dict | None:
    """The checked results of every cell of ``rows`` whose run folder exists, for the views whose
    data is here (a cell's record is checked against its data's content id, so without the data it
    cannot be reported; a line names the views left out); None, with a line saying so, where the
    table ``<out>/<table>`` reports cells of views whose data is not here: it is kept as it is."""
    absent = {v: data_dir(args.runs, v) for v in views if not (data_dir(args.runs, v) / "manifest.json").is_file()}
    if table1.keep_table(out, table, absent, "(fit it with --fit-only)"):
        return None
    cells_ = []
    for v in views:
        if v in absent:
            continue
        for model in MODELS:
            for _, aug in rows:
                seeds = seeds_in(run_dir(args.out, model, aug, v, 0).parent, f"{model}-{aug}-v{v}-s")
                cells_ += [cell_args(args, model, aug, v, seed) for seed in seeds]
    return aggregate(cells_)


def _write(args) -> str:
    """Rewrite the tables of ``args.rows`` from the finished cells: the headline's (with the loss
    curves of its 1-view runs, seed 0), or the whole Table 1 on this protocol."""
    note = (f"Fashion-MNIST, first {LIMIT} images per split (2,000 training objects), reference INRs, "
            f"`small` preset, batch 64, {args.epochs[0]} epochs (1 view) / {args.epochs[1]} (10 views); "
            "test accuracy at the best validation epoch, mean ± std (n < 3 shown).")
    if args.rows == "table1":
        acc = _finished_cells(args, ROWS + TABLE1_ROWS, [1, 10], args.table1_out, "fmnist")
        if acc is None:
            return (args.table1_out / "fmnist.md").read_text()
        if not any(v == 10 for _, _, v in acc):
            note += (" The 10-view row (results/headline/table.md) is left out until its data is here to "
                     "check its runs against.")
        return write_tables(acc, args.table1_out, "fmnist", [1, 10], MODELS, note,
                            table1.ROWS + TABLE1_ROWS[-2:], "fmnist")
    acc = _finished_cells(args, ROWS, [1, 10], args.out, "table")
    md = (args.out / "table.md").read_text() if acc is None else \
        write_tables(acc, args.out, "fmnist", [1, 10], MODELS, note, ROWS, "table")
    for model in MODELS:
        runs = [run_dir(args.out, model, aug, 1, 0) for _, aug in ROWS]
        runs = [r for r in runs if (r / RESULT).is_file()]
        if runs:
            plot(runs, args.out / f"curves-{model}.png", f"{model}, 1 view, seed 0: train (solid), validation (dashed)")
    return md


def cli():
    """``nngraph-headline``, the same as ``python -m nngraph.experiments.headline``."""
    keep_freed_memory()
    run(main)


if __name__ == "__main__":
    cli()
