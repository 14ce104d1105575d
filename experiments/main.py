"""The main job, on the embedded Fashion-MNIST subset (1,000 train and 1,000 test images): fit one
SIREN per image (cached after the first run), train the Relation Transformer without augmentation
and with weight-matching-aligned mixup, and print the two test accuracies side by side.

    python -m experiments.main [--epochs 20] [--out runs/main]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from .cpu import keep_freed_memory
from .fit_inrs import build as build_inrs
from .train import parser as train_parser, train

AUGMENTATIONS = ("none", "mixup_weight_matching")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", type=Path, default=Path("runs/main"))
    ap.add_argument("--inr-steps", type=int, default=200, help="fitting steps per INR (paper: 1000)")
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--model", default="rt")
    ap.add_argument("--preset", default="small", help="model size (experiments.presets): small, so this takes minutes on a CPU")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default=None, help="device for fitting (default: cuda if available)")
    args = ap.parse_args(argv)
    torch.set_float32_matmul_precision("high")

    start = time.time()
    data = args.out / "inrs"
    manifest = build_inrs("fmnist-subset", data, steps=args.inr_steps, seed=args.seed, device=args.device)
    print(f"INRs: {data} ({time.time() - start:.0f} s){_psnr(manifest)}")

    rows = []
    for name in AUGMENTATIONS:
        run = train_parser().parse_args(["--data", str(data), "--model", args.model, "--augment", name,
                                         "--epochs", str(args.epochs), "--seed", str(args.seed),
                                         "--batch-size", "64", "--preset", args.preset, "--warmup-steps", "50",
                                         "--out", str(args.out / f"{args.model}-{name}"), "--quiet"])
        t = time.time()
        r = train(run)
        rows.append((name, r, time.time() - t))
    print(f"\nFashion-MNIST subset, {r['num_train']} training INRs, {args.model.upper()} ({args.preset}), "
          f"{args.epochs} epochs, seed {args.seed}")
    print(f"{'augmentation':<24} {'test acc':>9} {'best val':>9} {'time':>7}")
    for name, r, seconds in rows:
        print(f"{name:<24} {100 * r['test_acc']:>8.2f}% {100 * r['best_val_acc']:>8.2f}% {seconds:>6.0f}s")
    print(f"total {time.time() - start:.0f} s")


def _psnr(manifest: dict) -> str:
    train = manifest.get("summary", {}).get("train")
    return f", mean train PSNR {train['psnr_mean']:.1f} dB after {train['steps_mean']:.0f} steps" if train else ""


if __name__ == "__main__":
    keep_freed_memory()
    main()
