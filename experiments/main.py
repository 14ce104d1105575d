"""The main job, on the embedded Fashion-MNIST subset (1,000 train and 1,000 test images): fit one
SIREN per image with the reference recipe (cached after the first run), train DWSNet without
augmentation and with mixup after signed weight matching (the best mixup here, README), and print the two test accuracies, the gap and
a verdict; the loss curves of both runs go to ``<out>/curves.png``.

    python -m experiments.main [--epochs 60] [--seed 0] [--out runs/main]

Training runs on one thread with fixed seeds, so the same command on the same machine gives the
same numbers.
"""
from __future__ import annotations

import time
from pathlib import Path

import torch

from nngraph import augment

from .cli import Parser, torch_device, non_negative_int, positive_int, run
from .cpu import keep_freed_memory
from .figure_curves import plot
from .fit_inrs import build as build_inrs
from .presets import PRESETS
from .train import parser as train_parser, train

BASELINE, AUGMENTED = "none", "mixup_signed_weight_matching"


def main(argv=None):
    ap = Parser(description=__doc__)
    ap.add_argument("--out", type=Path, default=Path("runs/main"))
    ap.add_argument("--epochs", type=positive_int, default=60)
    ap.add_argument("--model", choices=("dws", "rt"), default="dws")
    ap.add_argument("--augment", default=AUGMENTED, help="the augmentation set against none (default: %(default)s)")
    ap.add_argument("--preset", default="small", choices=sorted(PRESETS), help="model size (experiments.presets): small takes seconds per epoch on a CPU")
    ap.add_argument("--seed", type=non_negative_int, default=0)
    ap.add_argument("--device", type=torch_device, default=None, help="device for fitting (default: cuda if available)")
    args = ap.parse_args(argv)
    augment.build(args.augment, num_classes=10)  # a bad name fails now, not after the fitting
    torch.set_float32_matmul_precision("high")

    start = time.time()
    data = args.out / "inrs"
    print(f"fitting 2,000 INRs (reference recipe, up to 1,000 steps each) into {data}; cached after the first run",
          flush=True)
    manifest = build_inrs("fmnist-subset", data, device=args.device)
    s = manifest["summary"]["train"]
    print(f"INRs ready ({time.time() - start:.0f} s): mean train PSNR {s['psnr_mean']:.1f} dB after "
          f"{s['steps_mean']:.0f} steps", flush=True)

    results = {}
    for name in (BASELINE, args.augment):
        run = train_parser().parse_args([
            "--data", str(data), "--model", args.model, "--augment", name, "--epochs", str(args.epochs),
            "--seed", str(args.seed), "--batch-size", "64", "--preset", args.preset, "--threads", "1",
            "--warmup-steps", "50" if args.model == "rt" else "0", "--out", str(args.out / f"{args.model}-{name}"),
            "--quiet", "--epoch-lines"])
        print(f"training {args.model} ({args.preset}) with augmentation {name!r}, {args.epochs} epochs", flush=True)
        results[name] = train(run)
    curves = args.out / "curves.png"
    plot([args.out / f"{args.model}-{name}" for name in results], curves,
         f"{args.model}: train (solid) and validation (dashed) loss")

    base, aug = (100 * results[n]["test_acc"] for n in (BASELINE, args.augment))
    print(f"\nFashion-MNIST subset, {results[BASELINE]['num_train']} training INRs, {args.model} ({args.preset}), "
          f"{args.epochs} epochs, seed {args.seed}; test accuracy at the best validation epoch")
    for name in results:
        print(f"  {name:<30} {100 * results[name]['test_acc']:6.2f}%")
    gap = aug - base
    verdict = "ahead of" if gap > 0 else "behind" if gap < 0 else "level with"
    print(f"  gap {gap:+.2f} points: {args.augment} is {verdict} no augmentation")
    print(f"loss curves: {curves}; total {time.time() - start:.0f} s")


if __name__ == "__main__":
    keep_freed_memory()
    run(main)
