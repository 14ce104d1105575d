"""The shapes column of Table 1: ModelNet10 SDF INRs with the paper's ModelNet recipe, DWSNet on every
augmentation the paper reports for shapes, the GNN on five of them, 1 view, and Figure 1 on shapes.

    python -m experiments.shapes [--models dws rt] [--seeds 0 1 2]
    python -m experiments.shapes --fit-only --rank R --world-size 2   # the INRs, in parts (both cores)

Data (``results/inrs/modelnet10-v1``, its shards committed as they are fitted; the command fits what
is missing): one INR per shape of all 4,899 ModelNet10 shapes (3-32-32-32-32-32-1, AdamW lr 1e-4,
1000 steps, reference init; 100,000 SDF samples per shape, 1,024 per step), the official split, 399
training shapes cut class by class for validation (3,592 left to train on). Models and schedule are
Fashion-MNIST's headline's: the ``small`` preset, batch 64, 60 epochs.

Cells run seed by seed, every step resumes (a fit shard by shard, a run from its last checkpoint), and
after every cell the table (``results/table1/modelnet10.{md,csv}``, the paper's ModelNet40 column
beside, labelled as such) and Figure 1 (``results/table1/modelnet10-curves.png``: training and
validation loss of both models without augmentation, seed 0) are rewritten from every finished cell of
either model, each checked against its record.
"""
from __future__ import annotations

import time
from pathlib import Path

import torch

from nngraph.datasets.shards import read_manifest

from .cli import Parser, non_negative_int, positive_int, run, torch_device
from .cpu import keep_freed_memory
from .figure_curves import plot
from .fit_inrs import build as build_inrs, launch_part
from .headline import MODELS, WARMUP
from . import table1
from .table1 import aggregate, seeds_in, write_tables
from .train import RESULT, parser as train_parser, train

DATA = Path("results/inrs/modelnet10-v1")
FIT = {"views": 1, "init": "reference", "points_per_step": 1024, "sdf_points": 100_000}
# The paper's shape rows (no rotation: it reports none for shapes); the GNN on the five the issue names.
ROWS = [r for r in table1.ROWS if r[1] != "rotate"]
AUGMENTS = {"dws": [a for _, a in ROWS],
            "rt": ["none", "siren_negation", "mixup", "mixup_weight_matching", "mixup_signed_weight_matching"]}
EPOCHS, BATCH = 60, 64


def cells(models: list[str], seeds: list[int]) -> list[tuple[int, str, str]]:
    """(seed, model, augmentation), seed-major, so a partial table has every row at n=1 first."""
    return [(seed, model, aug) for seed in seeds for model in models for aug in AUGMENTS[model]]


def run_dir(out: Path, model: str, aug: str, seed: int) -> Path:
    return out / "runs" / f"{model}-{aug}-v1-s{seed}"


def cell_args(args, model: str, aug: str, seed: int):
    """The `experiments.train` arguments of one cell."""
    return train_parser().parse_args([
        "--data", str(args.data), "--model", model, "--augment", aug, "--views", "1", "--epochs", str(EPOCHS),
        "--seed", str(seed), "--preset", "small", "--batch-size", str(BATCH), "--warmup-steps", WARMUP[model],
        "--threads", str(args.threads), "--out", str(run_dir(args.out, model, aug, seed)), "--quiet"])


def fit(args, rank: int = 0, world_size: int = 1) -> dict:
    """The INRs at ``args.data``: a complete dataset there is used as it is (every cell's record names
    its content), else this recipe's build is fitted or resumed there."""
    if (args.data / "manifest.json").is_file():
        manifest = read_manifest(args.data)
        if manifest["complete"]:
            return manifest
    return build_inrs("modelnet10", args.data, device=args.device, progress=False, rank=rank,
                      world_size=world_size, **FIT)


def write(args) -> str:
    """Rewrite the table and Figure 1 from every finished cell of either model."""
    found = []
    for model in MODELS:
        for aug in AUGMENTS[model]:
            seeds = seeds_in(run_dir(args.out, model, aug, 0).parent, f"{model}-{aug}-v1-s")
            found += [cell_args(args, model, aug, seed) for seed in seeds]
    count = {s: v["count"] for s, v in read_manifest(args.data)["splits"].items()}
    note = (f"ModelNet10, {count['train']:,} training, {count['val']:,} validation and {count['test']:,} test "
            f"shapes, one SDF INR each (the paper's ModelNet recipe, reference init), `small` preset, batch "
            f"{BATCH}, {EPOCHS} epochs, 1 view; test accuracy at the best validation epoch, mean ± std (n < 3 "
            "shown). The paper's column is ModelNet40 (40 classes): another dataset, set beside for its "
            "pattern, not its numbers.")
    md = write_tables(aggregate(found), args.table_out, "modelnet10", [1], list(MODELS), note, ROWS, "modelnet10",
                      "modelnet40")
    curves = [run_dir(args.out, m, "none", 0) for m in MODELS]
    curves = [c for c in curves if (c / RESULT).is_file()]
    if curves:
        plot(curves, args.table_out / "modelnet10-curves.png",
             "ModelNet10, 1 view, none, seed 0: train (solid), validation (dashed)", log=True)
    return md


def main(argv=None):
    ap = Parser(description=__doc__)
    ap.add_argument("--data", type=Path, default=DATA, help="the fitted ModelNet10 INRs (fitted there if missing)")
    ap.add_argument("--out", type=Path, default=Path("results/table1/modelnet10"), help="where the run folders go")
    ap.add_argument("--table-out", type=Path, default=Path("results/table1"),
                    help="where modelnet10.md, modelnet10.csv and modelnet10-curves.png go")
    ap.add_argument("--models", nargs="+", choices=MODELS, default=list(MODELS), help="which cells to run")
    ap.add_argument("--seeds", type=non_negative_int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=positive_int, default=1)
    ap.add_argument("--device", type=torch_device, default=None, help="device for fitting (default: cuda if available)")
    ap.add_argument("--fit-only", action="store_true", help="fit the INRs (this part of them) and stop")
    ap.add_argument("--rank", type=non_negative_int, default=None, help="with --fit-only: this part of the fitting")
    ap.add_argument("--world-size", type=positive_int, default=None, help="with --fit-only: number of parts")
    ap.add_argument("--aggregate-only", action="store_true", help="rewrite the table and figure from finished runs")
    args = ap.parse_args(argv)
    torch.set_float32_matmul_precision("high")
    torch.set_num_threads(args.threads)
    args.device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    if args.fit_only:
        manifest = fit(args, *launch_part(args.rank, args.world_size))
        print(f"{args.data}: " + ("complete" if manifest["complete"] else "this part done; the last part writes the manifest"))
        return
    if not args.aggregate_only:
        for seed, model, aug in cells(args.models, args.seeds):
            cell = cell_args(args, model, aug, seed)
            if not (Path(cell.out) / RESULT).is_file():
                fit(args)
            start = time.time()
            r = train(cell)
            print(f"{model} {aug} seed {seed}: test {100 * r['test_acc']:.2f}% ({time.time() - start:.0f} s)", flush=True)
            write(args)
    print(write(args))


def cli():
    """``nngraph-shapes``, the same as ``python -m nngraph.experiments.shapes``."""
    keep_freed_memory()
    run(main)


if __name__ == "__main__":
    cli()
