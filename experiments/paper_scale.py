"""The paper's Fashion-MNIST column at the paper's scale: 55,000 training objects, 1 view.

    python -m experiments.paper_scale [--jobs 2] [--out results/scale]   # table: results/table1/fmnist-55k.{md,csv}

The data is every Fashion-MNIST training image as one reference-recipe INR, extending the scale
study's (``runs/inrs/fmnist55k-v1``: docs/results.md, "Paper scale", has the command that fits it),
so the 182 validation and 2,182 test INRs are the headline's. The headline's protocol (`small`
preset, batch 64, 60 epochs). DWSNet on all 55,000 objects: no augmentation and signed aligned mixup
at three seeds, plain mixup, aligned mixup and SIREN negation at two; the GNN on the first 16,000
(a 55,000-object GNN cell is about 20 CPU-hours here): no augmentation and plain mixup at one seed.
The cells are the scale study's (`experiments.scale`, the same folders,
``<out>/runs/<model>-<augment>-v1-n<N>-s<seed>``), so its N = 55,000 points and this table's
DWSNet rows share their runs; each resumes like `experiments.train`, and cells run seed by seed,
the table rewritten after each.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import torch

from . import scale, table1
from .cli import Parser, positive_int, run
from .cpu import keep_freed_memory
from .headline import LIMIT
from .table1 import aggregate, missing, train_cells, write_tables

# (model, training objects, {augmentation: seeds})
CELLS = (("dws", 55000, {"none": 3, "mixup_signed_weight_matching": 3, "mixup": 2, "mixup_weight_matching": 2,
                         "siren_negation": 2}),
         ("rt", 16000, {"none": 1, "mixup": 1}))


def cells(args, data: Path, full: int) -> list[argparse.Namespace]:
    """Every cell's `experiments.train` arguments, seed by seed."""
    out = []
    for seed in range(3):
        for model, size, rows in CELLS:
            out += [scale.cell(args, aug, 1, min(size, full), seed, data, full, model)
                    for aug, seeds in rows.items() if seed < seeds]
    return out


def main(argv=None) -> str:
    ap = Parser(description=__doc__)
    ap.add_argument("--data", type=Path, default=Path("runs/inrs/fmnist55k-v1"))
    ap.add_argument("--runs", type=Path, default=Path("results/inrs"), help="where the headline's datasets are")
    ap.add_argument("--headline", type=Path, default=Path("results/headline"), help="the headline's results")
    ap.add_argument("--out", type=Path, default=Path("results/scale"), help="the scale study's results: the run folders")
    ap.add_argument("--table-out", type=Path, default=Path("results/table1"))
    ap.add_argument("--epochs", type=positive_int, default=60)
    ap.add_argument("--threads", type=positive_int, default=1, help="threads of each cell")
    ap.add_argument("--jobs", type=positive_int, default=1, help="cells at once, each in its own process")
    ap.add_argument("--augmentations", nargs="+", default=None,
                    help="train only these rows' cells (default: every row); the table reports every finished cell")
    ap.add_argument("--models", nargs="+", choices=[m for m, _, _ in CELLS], default=None,
                    help="train only these models' cells (default: both)")
    ap.add_argument("--aggregate-only", action="store_true")
    args = ap.parse_args(argv)
    unknown = sorted(set(args.augmentations or []) - {aug for _, _, rows in CELLS for aug in rows})
    if unknown:
        raise ValueError(f"--augmentations: {', '.join(unknown)} not among this table's rows")
    args.epochs = [args.epochs, None]  # scale.cell's (1 view, 10 views)
    torch.set_num_threads(args.threads)
    args.data_1, args.data_10 = [args.data], []
    held = scale.datasets(args, 1)  # checks that the data extends the headline's (same recipe, validation, test)
    if held[-1][0] != args.data:
        raise ValueError(f"--data: {args.data} is not a complete INR dataset; fit it first (docs/results.md, "
                         "\"Paper scale\")")
    full = held[-1][1]
    todo = cells(args, args.data, full)
    ids = {str(args.data): table1.data_id(args.data)}
    if not args.aggregate_only:
        chosen = [c for c in todo if (args.augmentations is None or c.augment in args.augmentations)
                  and (args.models is None or c.model in args.models)]
        train_cells(missing(chosen, ids), args.jobs, after=lambda: write(args, todo, ids, full))
    md = write(args, todo, ids, full)
    print(md)
    return md


def write(args, todo: list, ids: dict, full: int) -> str:
    sizes = {model: min(size, full) for model, size, _ in CELLS}
    note = (f"Fashion-MNIST at the paper's scale: reference INRs of every training image (`{args.data}`, content id "
            f"{ids[str(args.data)]}) and the headline's {LIMIT - 2000} validation and {LIMIT:,} test INRs; DWSNet on "
            f"{sizes['dws']:,} training objects, the GNN on the first {sizes['rt']:,}; `small` preset, batch 64, "
            f"{args.epochs[0]} epochs, 1 view; test accuracy at the best validation epoch, mean ± std (n < 3 shown).")
    rows = [(label, aug) for label, aug in table1.ROWS if any(aug in r for _, _, r in CELLS)]
    return write_tables(aggregate(todo, ids), args.table_out, "fmnist", [1], ["dws", "rt"], note, rows, "fmnist-55k")


if __name__ == "__main__":
    keep_freed_memory()
    run(main)
