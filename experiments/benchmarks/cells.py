"""What one protocol cell costs: seconds per training step of the protocols' models (the ``small``
preset, batch 64, forward + backward + AdamW) on each INR recipe's spec, Fashion-MNIST's 2-32-32-1
beside ModelNet's 3-32-32-32-32-32-1 in the same run, and the 60-epoch cell each implies (training
steps only; evaluation and augmentation come on top).

    python -m experiments.benchmarks.cells [--threads 1] [--steps 3]
"""
from __future__ import annotations

import torch

import nngraph
from nngraph.datasets.build import IMAGE_RECIPE, SHAPE_RECIPE
from nngraph.models import MODELS

from ..cli import Parser, positive_int, run
from ..cpu import keep_freed_memory
from ..presets import model_kwargs
from .models import bench_step

# Training objects of the protocols' datasets: the headline's Fashion-MNIST, all of ModelNet10's.
PROTOCOLS = {"fmnist": (IMAGE_RECIPE, 2000), "modelnet10": (SHAPE_RECIPE, 3592)}
EPOCHS = 60


def main(argv=None) -> None:
    ap = Parser(description=__doc__)
    ap.add_argument("--batch-size", type=positive_int, default=64, help="the protocols' batch (default: %(default)s)")
    ap.add_argument("--threads", type=positive_int, default=1)
    ap.add_argument("--steps", type=positive_int, default=3, help="timed steps per model (after one untimed)")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    batch = args.batch_size
    print(f"small preset, batch {batch}, {args.threads} thread(s); a cell: {EPOCHS} epochs of the training objects")
    print(f"{'model':<5} {'data':<11} {'spec':<28} {'s/step':>7} {'x fmnist':>8} {'cell (h)':>8}")
    for model in ("dws", "rt"):
        base = None
        for data, (recipe, objects) in PROTOCOLS.items():
            spec = recipe.spec()
            net = MODELS[model](spec, 10, **model_kwargs("small", model))
            seconds = bench_step(net, spec, batch, torch.device("cpu"), args.steps, 1)
            base = base or seconds
            cell = seconds * (objects // batch) * EPOCHS / 3600
            print(f"{model:<5} {data:<11} {'-'.join(map(str, spec.layer_sizes)):<28} {seconds:>7.3f} "
                  f"{seconds / base:>8.1f} {cell:>8.2f}", flush=True)


def cli():
    keep_freed_memory()  # as the cells' own training processes do: fresh large tensors otherwise page in anew
    run(main)


if __name__ == "__main__":
    cli()
