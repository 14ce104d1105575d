"""Fit an INR dataset: one SIREN per image or shape, written as safetensors shards plus a manifest.

    python -m experiments.fit_inrs --dataset fmnist --views 10 --out DIR

Datasets: fmnist-subset (the embedded subset, default), fmnist (the Debian package's files), mnist
(--root: a folder with the four IDX files), modelnet10 (the point clouds in
../shared/data/modelnet10_pointclouds.npz), modelnet40 (--root: the official OFF layout).
Killed at any point, the same command resumes where it stopped.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import nngraph

from nngraph.datasets.build import DATASETS, DEFAULT_INIT
from nngraph.siren import INITS

from .cli import Parser, torch_device, non_negative_int, positive_int, run


REPO = Path(__file__).resolve().parents[1]
SUBSET_DIR = Path(__file__).resolve().parent / "data" / "fashion-mnist-subset"
MODELNET10_NPZ = REPO.parent / "shared" / "data" / "modelnet10_pointclouds.npz"
DEFAULT_ROOTS = {"fmnist-subset": SUBSET_DIR, "modelnet10": MODELNET10_NPZ}


def build(dataset: str = "fmnist-subset", out: str | Path = "runs/inrs/fmnist-subset", root=None, **kwargs) -> dict:
    """`nngraph.build_inr_dataset` with this repository's default data locations."""
    return nngraph.build_inr_dataset(dataset, out, root=root if root is not None else DEFAULT_ROOTS.get(dataset), **kwargs)


def launch_part(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """(rank, world size) from the arguments, else torchrun's or a SLURM array's environment."""
    env = os.environ
    if rank is None:  # a SLURM array's ids start where --array says
        rank = int(env["RANK"]) if "RANK" in env else \
            int(env.get("SLURM_ARRAY_TASK_ID", 0)) - int(env.get("SLURM_ARRAY_TASK_MIN", 0))
    if world_size is None:
        world_size = int(env.get("WORLD_SIZE", env.get("SLURM_ARRAY_TASK_COUNT", 1)))
    if not 0 <= rank < world_size:
        raise ValueError(f"--rank: expected 0..{world_size - 1} for --world-size {world_size}, got {rank}")
    return rank, world_size


def main(argv=None) -> dict:
    p = Parser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="fmnist-subset", choices=sorted(DATASETS))
    p.add_argument("--out", default=None, help="output folder (default ./runs/inrs/<dataset>-v<views>)")
    p.add_argument("--root", default=None, help="where the source data is (default: per dataset)")
    p.add_argument("--views", type=positive_int, default=1, help="INRs per training object (validation/test: 1)")
    p.add_argument("--limit", type=positive_int, default=None, help="only the first N objects of each official split")
    p.add_argument("--extra-train", type=non_negative_int, default=0,
                   help="more training objects beyond --limit (the same validation and test objects)")
    p.add_argument("--reuse", default=None, help="a built dataset of the same recipe whose INRs are copied, not refitted")
    p.add_argument("--train-per-class", type=positive_int, default=None,
                   help="only the first N training objects of each class (the same validation and test objects)")
    p.add_argument("--steps", type=positive_int, default=None, help="updates per INR (default: the paper's 1000)")
    p.add_argument("--init", choices=INITS, default=DEFAULT_INIT,
                   help="INR initialisation: reference (the public INR datasets'), zero_bias or siren (default: %(default)s)")
    p.add_argument("--seed", type=non_negative_int, default=0)
    p.add_argument("--device", type=torch_device, default=None, help="cpu or cuda (default: cuda if available)")
    p.add_argument("--batch-size", type=positive_int, default=None, help="INRs fitted at once")
    p.add_argument("--shard-size", type=positive_int, default=None, help="INRs per shard")
    p.add_argument("--sdf-points", type=positive_int, default=None, help="SDF samples per shape (default 250000)")
    p.add_argument("--points-per-step", type=positive_int, default=None, help="SDF samples per update (default 4096)")
    p.add_argument("--compile", action="store_true", help="torch.compile the fitting step (CUDA)")
    p.add_argument("--no-progress", action="store_true")
    p.add_argument("--rank", type=non_negative_int, default=None,
                   help="this part of a build spread over processes (default: $RANK under torchrun, "
                        "$SLURM_ARRAY_TASK_ID in a SLURM array, else 0)")
    p.add_argument("--world-size", type=positive_int, default=None,
                   help="number of parts (default: $WORLD_SIZE, $SLURM_ARRAY_TASK_COUNT, else 1)")
    a = p.parse_args(argv)
    rank, world_size = launch_part(a.rank, a.world_size)
    import torch
    device = a.device or ("cuda" if torch.cuda.is_available() else "cpu")
    out = a.out or Path("runs") / "inrs" / f"{a.dataset}-v{a.views}"  # under the working folder, never the package's
    manifest = build(a.dataset, out, a.root, views=a.views, limit=a.limit, steps=a.steps, seed=a.seed,
                     device=device, batch_size=a.batch_size, shard_size=a.shard_size, sdf_points=a.sdf_points,
                     points_per_step=a.points_per_step, init=a.init, compile=a.compile, progress=not a.no_progress,
                     rank=rank, world_size=world_size, extra_train=a.extra_train, reuse=a.reuse,
                     train_per_class=a.train_per_class)
    if not manifest["complete"]:
        print(f"part {rank} of {world_size} done: {out}; the last part to finish writes the manifest")
        return manifest
    print(f"wrote {out}: {len(manifest['shards'])} shards")
    print(json.dumps(manifest["summary"], indent=1))
    return manifest


def cli():
    """``nngraph-fit``, the same as ``python -m nngraph.experiments.fit_inrs``."""
    run(main)


if __name__ == "__main__":
    cli()
