"""Small controlled studies on the embedded Fashion-MNIST subset: which INR recipe, which model
setting, which mixup moves what. Each study is a list of arms (a dataset and `experiments.train`
options), each run with the study's augmentations (without augmentation and with mixup, unless
said); the table gives test accuracy at the best validation epoch.

    python -m experiments.studies inr-recipes dws-options rt-options mixup-variants --seeds 0 1

Studies: ``inr-recipes`` (the three INR initialisations, fitted with the paper's budget; DWSNet
with mean and with max pooling, the Relation Transformer), ``dws-options`` (DWSNet pooling, batch-norm placement, head, learning rate), ``rt-options``
(Relation Transformer layout, dropout, logit scale), ``mixup-variants`` (every mixup of the paper,
both models, reference INRs). Finished runs are skipped, so an interrupted
study resumes; ``--aggregate-only`` rewrites the tables from what has finished.
"""
from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path

import torch

from nngraph import NetworkSpec
from nngraph.datasets.build import inr_seed
from nngraph.datasets.fitting import init_flat
from nngraph.datasets.shards import load_shard, read_manifest
from nngraph.siren import INITS

from .cli import Parser, non_negative_int, positive_int, run
from .cpu import keep_freed_memory
from .fit_inrs import build as build_inrs
from .records import read_record
from .table1 import seeds_in
from .train import (RESULT, finished, identity, parser as train_parser, recorded_identity,
                    train)

AUGMENTATIONS = ("none", "mixup")
MIXUPS = ("none", "mixup", "mixup_permutation", "mixup_weight_matching", "mixup_signed_weight_matching")
# The CPU protocol of every arm: the small preset, batch 64, 30 epochs.
COMMON = ["--preset", "small", "--batch-size", "64", "--epochs", "30"]


@dataclass(frozen=True)
class Arm:
    label: str
    init: str  # which fitted subset it reads
    args: tuple[str, ...] = field(default_factory=tuple)


def _kwargs(**kw) -> tuple[str, ...]:
    return ("--model-kwargs", json.dumps(kw))


STUDIES: dict[str, list[Arm]] = {
    "inr-recipes": [Arm(f"{name} {init}", init, args) for init in INITS for name, args in (
        ("dws mean pooling", ("--model", "dws") + _kwargs(pooling="mean")),
        ("dws max pooling", ("--model", "dws") + _kwargs(pooling="max")),
        ("rt", ("--model", "rt", "--warmup-steps", "50")))],
    "dws-options": [
        Arm("mean pooling, batch norm on pooled, MLP head", "reference", ("--model", "dws") + _kwargs(pooling="mean")),
        Arm("max pooling, batch norm on pooled, MLP head", "reference", ("--model", "dws") + _kwargs(pooling="max")),
        Arm("max pooling, equivariant batch norm, linear head (reference)", "reference",
            ("--model", "dws") + _kwargs(pooling="max", batch_norm="equivariant", head="linear")),
        Arm("max pooling, no batch norm, linear head", "reference",
            ("--model", "dws") + _kwargs(pooling="max", batch_norm="none", head="linear")),
        Arm("max pooling, batch norm on pooled, MLP head, lr 1e-3", "reference",
            ("--model", "dws", "--lr", "1e-3") + _kwargs(pooling="max")),
    ],
    "rt-options": [
        Arm("edges, every-role readout, dropout 0.2, total scale (small preset)", "reference",
            ("--model", "rt", "--warmup-steps", "50")),
        Arm("edges, every-role readout, dropout 0, per-head scale (before)", "reference",
            ("--model", "rt", "--warmup-steps", "50") + _kwargs(dropout=0.0, attention_scale="head")),
        Arm("all pairs, output readout, dropout 0.2, total scale (reference)", "reference",
            ("--model", "rt", "--warmup-steps", "50") + _kwargs(attention="all", readout="output")),
        Arm("all pairs, every-role readout, dropout 0.2, total scale", "reference",
            ("--model", "rt", "--warmup-steps", "50") + _kwargs(attention="all", readout="roles")),
    ],
    "mixup-variants": [Arm("dws", "reference", ("--model", "dws")),
                       Arm("rt", "reference", ("--model", "rt", "--warmup-steps", "50"))],
}
# The augmentations (table columns) of each study.
COLUMNS = {"mixup-variants": MIXUPS}


def data_dir(runs: Path, init: str) -> Path:
    return runs / f"subset-{init}"


def fit_subset(runs: Path, init: str) -> dict:
    """The embedded subset fitted with ``init`` and the paper's budget (cached)."""
    return build_inrs("fmnist-subset", data_dir(runs, init), init=init, progress=False)


def recipe_stats(folder: Path) -> dict:
    """Mean PSNR, steps, and relative distance ``|theta - theta_0| / |theta_0|`` of the training INRs
    from their initialisation (regenerated from their seeds)."""
    m = read_manifest(folder)
    rows = [load_shard(folder / e["file"], keys=("params", "object", "view", "psnr", "steps"))
            for e in m["shards"] if e["split"] == "train"]
    cat = {k: torch.cat([r[k] for r in rows]) for k in rows[0]}
    seeds = [inr_seed(m["seed"], "train", o, v) for o, v in zip(cat["object"].tolist(), cat["view"].tolist())]
    start = init_flat(NetworkSpec.from_dict(m["spec"]), seeds, m["fit"]["init"])
    moved = (cat["params"] - start).norm(dim=1) / start.norm(dim=1)
    return {"inrs": len(seeds), "psnr_mean": cat["psnr"].mean().item(), "steps_mean": cat["steps"].float().mean().item(),
            "moved_from_init": moved.mean().item()}


def arm_args(study: str, arm: Arm, augmentation: str, seed: int, runs: Path, out: Path, threads: int = 1):
    """The `experiments.train` arguments of one run of an arm."""
    folder = out / "runs" / study / f"{_slug(arm.label)}-{augmentation}-s{seed}"
    return train_parser().parse_args(["--data", str(data_dir(runs, arm.init)), "--augment", augmentation,
                                      "--seed", str(seed), "--out", str(folder), "--quiet", "--threads",
                                      str(threads), *COMMON, *arm.args])


def checked(args) -> tuple[dict, bool]:
    """A finished run's result, checked against ``args``, and whether its data was checked too. A run
    recorded before runs named their data's content has only its settings checked; any other run is
    checked whole, which needs its data here. ValueError naming the difference for a run of other
    settings."""
    folder = Path(args.out)
    recorded = read_record(folder / RESULT).get("identity", recorded_identity(folder))
    whole = bool(recorded.get("data_id"))
    settings = identity(args) if whole else {k: v for k, v in identity(args, data="-").items() if k != "data_id"}
    return finished(folder, settings), whole


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in label.lower()).strip("-").replace("--", "-")


def table(study: str, out: Path, runs: Path) -> str:
    """Markdown: one row per arm, test accuracy mean ± std (n) with each of the study's augmentations."""
    columns = COLUMNS.get(study, AUGMENTATIONS)
    head = ["arm"] + (["mean train PSNR (dB)", "steps", "moved from init"] if study == "inr-recipes" else []) \
        + [f"{a} (test %)" for a in columns] + ["minutes per run"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for arm in STUDIES[study]:
        cells, minutes = [arm.label], []
        if study == "inr-recipes":
            manifest = data_dir(runs, arm.init) / "manifest.json"
            s = recipe_stats(data_dir(runs, arm.init)) if manifest.is_file() else None
            cells += [f"{s['psnr_mean']:.1f}", f"{s['steps_mean']:.0f}", f"{s['moved_from_init']:.2f}"] if s else ["", "", ""]
        for aug in columns:
            prefix = f"{_slug(arm.label)}-{aug}-s"
            seeds = [seed for seed in seeds_in(out / "runs" / study, prefix)
                     if (out / "runs" / study / f"{prefix}{seed}" / RESULT).is_file()]
            found = [checked(arm_args(study, arm, aug, seed, runs, out)) for seed in seeds]
            acc = [100 * r["test_acc"] for r, _ in found]
            minutes += [r["seconds"] / 60 for r, _ in found]
            std = statistics.stdev(acc) if len(acc) > 1 else 0.0
            mark = "" if all(whole for _, whole in found) else " †"
            cells.append(f"{statistics.mean(acc):.2f} ± {std:.2f} (n={len(acc)}){mark}" if acc else "")
        cells.append(f"{statistics.mean(minutes):.1f}" if minutes else "")
        lines.append("| " + " | ".join(cells) + " |")
    if any(" †" in line for line in lines):
        lines += ["", "† recorded before runs named their data's content: settings checked, data not (the "
                      "subset is refitted from its recipe, so rerunning the arm checks both)."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    ap = Parser(description=__doc__)
    ap.add_argument("studies", nargs="+", choices=sorted(STUDIES))
    ap.add_argument("--seeds", type=non_negative_int, nargs="+", default=[0])
    ap.add_argument("--runs", type=Path, default=Path("runs/inrs"), help="where the fitted subsets are cached")
    ap.add_argument("--out", type=Path, default=Path("results/studies"))
    ap.add_argument("--threads", type=positive_int, default=1)
    ap.add_argument("--arms", nargs="+", default=None, help="run only the arms whose label starts with one of these")
    ap.add_argument("--aggregate-only", action="store_true")
    args = ap.parse_args(argv)
    torch.set_float32_matmul_precision("high")
    for study in args.studies:
        if not args.aggregate_only:
            for init in sorted({arm.init for arm in STUDIES[study]}):
                fit_subset(args.runs, init)
            for seed in args.seeds:
                for arm in STUDIES[study]:
                    if args.arms and not arm.label.startswith(tuple(args.arms)):
                        continue
                    for aug in COLUMNS.get(study, AUGMENTATIONS):
                        r = train(arm_args(study, arm, aug, seed, args.runs, args.out, args.threads))
                        print(f"{study}: {arm.label} / {aug} / seed {seed}: test {100 * r['test_acc']:.2f}% "
                              f"({r['seconds']:.0f} s)", flush=True)
        md = table(study, args.out, args.runs)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / f"{study}.md").write_text(md)
        print(md)


if __name__ == "__main__":
    keep_freed_memory()
    run(main)
