"""The shapes column of Table 1: ModelNet10 SDF INRs with the paper's ModelNet recipe, DWSNet on every
augmentation the paper reports for shapes, the GNN on five of them, 1 view; 1 view against 10 on a
class-balanced subset; and Figure 1 on shapes.

    python -m experiments.shapes [--models dws rt] [--seeds 0 1 2]
    python -m experiments.shapes --protocol views [--models dws rt] [--seeds 0 1 2]
    python -m experiments.shapes [--protocol views] --fit-only --rank R --world-size 2   # the INRs, in parts

Data (``results/inrs/modelnet10-v1``, its shards committed as they are fitted; the command fits what
is missing): one INR per shape of all 4,899 ModelNet10 shapes (3-32-32-32-32-32-1, AdamW lr 1e-4,
1000 steps, reference init; 100,000 SDF samples per shape, 1,024 per step), the official split, 399
training shapes cut class by class for validation (3,592 left to train on). Models and schedule are
Fashion-MNIST's headline's: the ``small`` preset, batch 64, 60 epochs.

``--protocol views``: 10 views of every shape are ~30 CPU-hours of fitting, so 1 view is set against
10 on the first 40 training shapes of each class (400 objects; the same validation and test INRs):
``runs/inrs/modelnet10-pc40-v1`` copies its INRs from the data above, ``-v10`` copies view 0 and fits
views 1-9. 1-view runs train for 60 epochs, 10-view runs for 20 (the headline's 3:1 ratio of epochs);
table ``results/table1/modelnet10-views.{md,csv}``.

Cells run seed by seed (``--jobs N``: N at a time, each in a process of its own), every step resumes
(a fit shard by shard, a run from its last checkpoint), and after every cell the tables (the paper's
ModelNet40 columns beside, labelled as such) and Figure 1 (``results/table1/modelnet10-curves.png``:
training and validation loss of both models without augmentation, seed 0, on all shapes and on the
subset's 1 and 10 views) are rewritten from every finished cell of either model, each checked
against its record.
"""
from __future__ import annotations

from pathlib import Path

import torch

from nngraph.datasets.shards import read_manifest

from .cli import Parser, non_negative_int, positive_int, run, torch_device
from .cpu import keep_freed_memory
from .figure_curves import plot
from .fit_inrs import build as build_inrs, launch_part
from .headline import MODELS, WARMUP
from . import table1
from .table1 import aggregate, keep_table, seeds_in, write_tables
from .train import RESULT, parser as train_parser

DATA = Path("results/inrs/modelnet10-v1")
FIT = {"init": "reference", "points_per_step": 1024, "sdf_points": 100_000}
# The paper's shape rows (no rotation: it reports none for shapes); the GNN on the five the issue names.
ROWS = [r for r in table1.ROWS if r[1] != "rotate"]
AUGMENTS = {"dws": [a for _, a in ROWS],
            "rt": ["none", "siren_negation", "mixup", "mixup_weight_matching", "mixup_signed_weight_matching"]}
EPOCHS, BATCH = 60, 64
# The views protocol: its subset, rows (augmentations by views) and epochs by views.
PER_CLASS = 40
VIEW_ROWS = [("No augmentation", "none"), ("MixUp", "mixup"),
             ("Signed alignment + MixUp (ours)", "mixup_signed_weight_matching")]
VIEW_AUGMENTS = {1: [a for _, a in VIEW_ROWS], 10: ["none", "mixup_signed_weight_matching"]}
VIEW_EPOCHS = {1: EPOCHS, 10: EPOCHS // 3}


def cells(models: list[str], seeds: list[int], protocol: str = "all") -> list[tuple[int, str, str, int]]:
    """(seed, model, augmentation, views), seed-major, so a partial table has every row at n=1 first."""
    if protocol == "views":
        return [(seed, model, aug, v) for seed in seeds for model in models for v in (1, 10) for aug in VIEW_AUGMENTS[v]]
    return [(seed, model, aug, 1) for seed in seeds for model in models for aug in AUGMENTS[model]]


def subset_dir(args, views: int) -> Path:
    return args.subset_runs / f"modelnet10-pc{PER_CLASS}-v{views}"


def run_dir(out: Path, model: str, aug: str, seed: int, protocol: str = "all", views: int = 1) -> Path:
    subset = f"pc{PER_CLASS}-" if protocol == "views" else ""
    return out / "runs" / f"{model}-{aug}-{subset}v{views}-s{seed}"


def cell_args(args, model: str, aug: str, seed: int, protocol: str = "all", views: int = 1):
    """The `experiments.train` arguments of one cell."""
    data, epochs = (subset_dir(args, views), VIEW_EPOCHS[views]) if protocol == "views" else (args.data, EPOCHS)
    return train_parser().parse_args([
        "--data", str(data), "--model", model, "--augment", aug, "--views", str(views), "--epochs", str(epochs),
        "--seed", str(seed), "--preset", "small", "--batch-size", str(BATCH), "--warmup-steps", WARMUP[model],
        "--threads", str(args.threads), "--out", str(run_dir(args.out, model, aug, seed, protocol, views)), "--quiet"])


def _complete(folder: Path) -> dict | None:
    if (folder / "manifest.json").is_file():
        manifest = read_manifest(folder)
        if manifest["complete"]:
            return manifest
    return None


def fit(args, protocol: str = "all", views: int = 1, rank: int = 0, world_size: int = 1) -> dict:
    """The INRs a protocol's cells read: a complete dataset there is used as it is (every cell's record
    names its content), else this recipe's build is fitted or resumed there (the subset's from the
    data's INRs, which it needs complete, and of the same objects)."""
    if protocol == "views":
        base = fit(args) if (rank, world_size) == (0, 1) else _complete(args.data)
        if base is None:
            raise ValueError(f"data: {args.data} is not complete; fit it first (--fit-only without --protocol views)")
        folder = subset_dir(args, views)
        extra = {"views": views, "train_per_class": PER_CLASS, "reuse": args.data, "limit": base["limit"]}
    else:
        folder, extra = args.data, {"views": 1}
    return _complete(folder) or build_inrs("modelnet10", folder, device=args.device, progress=False, rank=rank,
                                           world_size=world_size, **FIT, **extra)


def _finished(args, protocol: str, table: str) -> dict | None:
    """The checked results of every finished cell of a protocol, either model, for the views settings
    whose data is here (a line names the others); None, with a line saying so, where the table
    ``table`` reports cells of a views setting whose data is not here: it is kept as it is."""
    absent = {v: subset_dir(args, v) for v in (1, 10) if protocol == "views" and _complete(subset_dir(args, v)) is None}
    if keep_table(args.table_out, table, absent, "(fit it with --protocol views --fit-only)"):
        return None
    found = []
    for _, model, aug, views in cells(list(MODELS), [0], protocol):
        if views in absent:
            continue
        folder = run_dir(args.out, model, aug, 0, protocol, views)
        seeds = seeds_in(folder.parent, folder.name[:-1])
        found += [cell_args(args, model, aug, seed, protocol, views) for seed in seeds]
    return aggregate(found)


def write(args) -> str:
    """Rewrite both tables (one kept as it is where rewriting it would drop cells) and Figure 1 from
    every finished cell of either model."""
    count = {s: v["count"] for s, v in read_manifest(args.data)["splits"].items()}
    recipe = f"one SDF INR each (the paper's ModelNet recipe, reference init), `small` preset, batch {BATCH}"
    reading = ("test accuracy at the best validation epoch, mean ± std (n < 3 shown). The paper's columns are "
               "ModelNet40 (40 classes): another dataset, set beside for its pattern, not its numbers.")
    note = (f"ModelNet10, {count['train']:,} training, {count['val']:,} validation and {count['test']:,} test "
            f"shapes, {recipe}, {EPOCHS} epochs, 1 view; {reading}")
    md = write_tables(_finished(args, "all", "modelnet10"), args.table_out, "modelnet10", [1], list(MODELS), note, ROWS,
                      "modelnet10", "modelnet40")
    views_note = (f"ModelNet10, the first {PER_CLASS} training shapes of each class ({10 * PER_CLASS} objects; "
                  f"1 or 10 INRs each), the same {count['val']:,} validation and {count['test']:,} test shapes, "
                  f"{recipe}, {VIEW_EPOCHS[1]} epochs on 1 view, {VIEW_EPOCHS[10]} on 10; {reading}")
    views = _finished(args, "views", "modelnet10-views")
    if views is not None:
        write_tables(views, args.table_out, "modelnet10", [1, 10], list(MODELS), views_note, VIEW_ROWS,
                     "modelnet10-views", "modelnet40")
    curves = [run_dir(args.out, m, "none", 0, *pv) for m in MODELS for pv in (("all", 1), ("views", 1), ("views", 10))]
    curves = [c for c in curves if (c / RESULT).is_file()]
    if curves:
        plot(curves, args.table_out / "modelnet10-curves.png",
             "ModelNet10, none, seed 0: train (solid), validation (dashed)", log=True)
    return md


def main(argv=None):
    ap = Parser(description=__doc__)
    ap.add_argument("--protocol", choices=("all", "views"), default="all",
                    help="all: every row on all shapes, 1 view; views: 1 against 10 views on the subset")
    ap.add_argument("--data", type=Path, default=DATA, help="the fitted ModelNet10 INRs (fitted there if missing)")
    ap.add_argument("--subset-runs", type=Path, default=Path("runs/inrs"),
                    help=f"where the views protocol's INRs go (modelnet10-pc{PER_CLASS}-v1, -v10)")
    ap.add_argument("--out", type=Path, default=Path("results/table1/modelnet10"), help="where the run folders go")
    ap.add_argument("--table-out", type=Path, default=Path("results/table1"),
                    help="where the tables (modelnet10*.md, .csv) and modelnet10-curves.png go")
    ap.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS), help="which cells to run")
    ap.add_argument("--seeds", type=non_negative_int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=positive_int, default=1, help="threads of each cell")
    ap.add_argument("--jobs", type=positive_int, default=1, help="cells at once, each in its own process")
    ap.add_argument("--device", type=torch_device, default=None, help="device for fitting (default: cuda if available)")
    ap.add_argument("--fit-only", action="store_true", help="fit the protocol's INRs (this part of them) and stop")
    ap.add_argument("--rank", type=non_negative_int, default=None, help="with --fit-only: this part of the fitting")
    ap.add_argument("--world-size", type=positive_int, default=None, help="with --fit-only: number of parts")
    ap.add_argument("--aggregate-only", action="store_true", help="rewrite the tables and figure from finished runs")
    args = ap.parse_args(argv)
    torch.set_float32_matmul_precision("high")
    torch.set_num_threads(args.threads)
    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if args.fit_only:
        part = launch_part(args.rank, args.world_size)
        for views in ((1, 10) if args.protocol == "views" else (1,)):
            folder = subset_dir(args, views) if args.protocol == "views" else args.data
            done = fit(args, args.protocol, views, *part)["complete"]
            print(f"{folder}: " + ("complete" if done else "this part done; the last part writes the manifest"))
        return
    if not args.aggregate_only:
        todo = [cell_args(args, model, aug, seed, args.protocol, views)
                for seed, model, aug, views in cells(args.models, args.seeds, args.protocol)]
        table1.fit_and_train(todo, lambda views: fit(args, args.protocol, views), args.jobs, after=lambda: write(args))
    print(write(args))


def cli():
    """``nngraph-shapes``, the same as ``python -m nngraph.experiments.shapes``."""
    keep_freed_memory()
    run(main)


if __name__ == "__main__":
    cli()
