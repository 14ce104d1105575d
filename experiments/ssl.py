"""The self-supervised setting: which augmentations make good views for contrastive pre-training in
weight space, and what pre-training gives when labels are scarce.

    python -m experiments.ssl [--seeds 0 1 2] [--epochs 20] [--fractions 0.1 0.25 1.0]
    python -m experiments.ssl --data runs/inrs/fmnist55k-v1 --labels 2000 --out results/ssl-55k ...

The second form is the semi-supervised case: pre-training reads every training INR unlabelled,
the evaluations only the first ``--labels`` objects' labels.

On the headline's Fashion-MNIST data (2,000 training objects; its 10-view INRs where fitted views
are the positives), DWSNet `small`: for each view (`VIEWS`) and seed, pre-train without labels
(`experiments.pretrain`, resumable), then read the frozen encoder with the linear probe of
`experiments.probe_features` (L2 strength chosen on validation) trained on the first 10%, 25% and
100% of the training objects' labels. Beside it, the same probe on the untrained encoder (random
features) and on hand-made weight statistics, and, for the fine-tuning view, supervised training
(`experiments.train`, 60 epochs) on the same labels: from the pre-trained encoder without
augmentation and with signed aligned mixup (the best supervised augmentation here), and from
scratch with signed aligned mixup. Writes ``table.csv`` (encoder, views, labels fraction,
evaluation, n, mean, std) and ``table.md``, and ``comparisons.{csv,md}``: each pre-trained view
against the null view (permutation only) and the untrained encoder, and fine-tuning against
supervised training from scratch, as differences of means with standard errors from within-cell
variance pooled over the cells of one evaluation and labels fraction, and two-sided t tests on the
pooled degrees of freedom. Every run folder is kept.
"""
from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch

import nngraph
from nngraph.datasets.shards import atomic_write_bytes

from .cli import Parser, non_negative_int, positive_float, positive_int, run
from .cpu import keep_freed_memory
from .presets import model_kwargs
from .probe_features import layer_statistics, probe
from .records import read_record
from .table1 import csv_text

MIX = {"mixup_signed_weight_matching": {"lam_range": [0.5, 1.0]}}
# name -> (view, view options, fitted views read, fitted views as positives)
VIEWS = {
    "permutation": ("permutation", {}, 1, False),
    "siren_negation": ("siren_negation", {}, 1, False),
    "noise": ("noise", {}, 1, False),
    "dropout": ("dropout", {}, 1, False),
    "input_space": ("translate+rotate+scale", {}, 1, False),
    "siren_negation+noise": ("siren_negation+noise", {}, 1, False),
    "siren_negation+mixup": ("siren_negation+mixup_signed_weight_matching", MIX, 1, False),
    "fitted_views": ("siren_negation", {}, 10, True),
}
ENCODER = "dws"


def pretrain_dir(args, name: str, seed: int) -> Path:
    """The run folder of the pre-training with view ``name`` and ``seed``."""
    return args.out / "runs" / f"pretrain-{name}-s{seed}"


def pretrain_args(args, name: str, seed: int) -> list[str]:
    view, options, views, positives = VIEWS[name]
    data = args.data_10 if positives else args.data
    return ["--data", str(data), "--model", ENCODER, "--preset", "small", "--view", view, "--view-options",
            json.dumps(options), "--views", str(views), "--epochs", str(args.epochs), "--batch-size", "128",
            "--seed", str(seed), "--threads", str(args.threads), "--quiet",
            "--out", str(pretrain_dir(args, name, seed))] + (["--views-as-positives"] if positives else [])


@torch.no_grad()
def encoder_features(encode, dataset, normalize) -> torch.Tensor:
    return torch.cat([encode(normalize(b)) for b in dataset.batches(256)])


def probes(args, name: str, seed: int, splits: dict, normalize, sizes: dict) -> dict:
    """Probe accuracies by labels fraction for one encoder (``name``: a view, ``random`` or ``stats``),
    cached beside its run."""
    from nngraph.lightning import ContrastivePretrainer
    folder = pretrain_dir(args, name, seed) if name in VIEWS else args.out / "runs" / f"{name}-s{seed}"
    cache = folder / "probe.json"
    if cache.is_file():
        found = read_record(cache)
        if all(str(f) in found for f in args.fractions):
            return found
    folder.mkdir(parents=True, exist_ok=True)
    spec = splits["train"].spec
    if name == "stats":
        encode = lambda b: layer_statistics(*nngraph.layer_views(b))  # noqa: E731
    else:
        if name == "random":
            torch.manual_seed(seed)
            module = ContrastivePretrainer(spec, ENCODER, model_kwargs("small", ENCODER, {}), view="none")
        else:
            module = ContrastivePretrainer.load_from_checkpoint(folder / "checkpoints" / "last.ckpt",
                                                                weights_only=True, map_location="cpu")
        module.eval()
        encode = module.encoder.invariants
    feats = {s: encoder_features(encode, ds, normalize) for s, ds in splits.items()}
    out = {}
    for fraction in args.fractions:
        n = sizes[fraction]
        train = (feats["train"][:n], splits["train"].labels[:n])
        out[str(fraction)] = probe(train, (feats["val"], splits["val"].labels), (feats["test"], splits["test"].labels),
                                   splits["train"].num_classes)
    atomic_write_bytes(cache, json.dumps(out, indent=1).encode())
    return out


BEST = "mixup_signed_weight_matching"  # the best supervised augmentation on this data


def supervised(args, seed: int, n: int, pretrained: Path | None, augment: str = BEST) -> float:
    """Test accuracy of 60 epochs of `experiments.train` on the first ``n`` training objects with
    ``augment``: from the pre-trained encoder (fine-tuning) or from scratch."""
    from .train import parser as train_parser, train
    name = (f"finetune-{args.finetune_view}" + ("" if augment == "none" else f"-{augment}") if pretrained
            else f"supervised-{augment}")
    argv = ["--data", str(args.data), "--model", ENCODER, "--preset", "small", "--epochs", "60", "--batch-size", "64",
            "--warmup-steps", "0", "--seed", str(seed), "--threads", str(args.threads), "--quiet",
            "--train-objects", str(n), "--out", str(args.out / "runs" / f"{name}-n{n}-s{seed}")]
    argv += ["--pretrained", str(pretrained)] if pretrained else []
    argv += ["--augment", augment] if augment != "none" else []
    return train(train_parser().parse_args(argv))["test_acc"]


def write(args, cells: dict) -> str:
    rows = []
    for (encoder, views, fraction, evaluation), values in sorted(cells.items()):
        rows.append({"encoder": encoder, "views": views, "labels_fraction": fraction, "evaluation": evaluation,
                     "n": len(values), "mean": f"{100 * statistics.mean(values):.2f}",
                     "std": f"{100 * statistics.stdev(values):.2f}" if len(values) > 1 else ""})
    args.out.mkdir(parents=True, exist_ok=True)
    fields = ["encoder", "views", "labels_fraction", "evaluation", "n", "mean", "std"]
    atomic_write_bytes(args.out / "table.csv", csv_text(rows, fields).encode())
    lines = ["| encoder | views | labels | evaluation | test % (mean ± std, n) |", "|---|---|---|---|---|"]
    for r in rows:
        spread = f" ± {r['std']}" if r["std"] else ""
        lines.append(f"| {r['encoder']} | {r['views']} | {float(r['labels_fraction']):.0%} | {r['evaluation']} | "
                     f"{r['mean']}{spread} (n={r['n']}) |")
    md = "\n".join(lines) + "\n"
    atomic_write_bytes(args.out / "table.md", md.encode())
    return md


def difference(cells: dict, a, b) -> dict:
    """Cell ``a`` minus cell ``b`` (percentage points) with its standard error and two-sided t-test p,
    the variance pooled over every cell of ``a``'s and ``b``'s evaluations at their labels fraction
    (three seeds give a noisy variance per cell; the cells of one evaluation share their noise) but
    the weight statistics', whose features no seed changes."""
    from scipy import stats
    pool = [v for k, v in cells.items() if k[2] == a[2] and k[3] in (a[3], b[3]) and k[0] != "stats" and len(v) > 1]
    df = sum(len(v) - 1 for v in pool)
    s2 = sum((len(v) - 1) * statistics.variance(v) for v in pool) / df
    d = statistics.mean(cells[a]) - statistics.mean(cells[b])
    se = (s2 * (1 / len(cells[a]) + 1 / len(cells[b]))) ** 0.5
    return {"difference": 100 * d, "se": 100 * se, "df": df, "p": 2 * stats.t.sf(abs(d / se), df)}


def compare(args, cells: dict) -> str:
    """What pre-training's views give, against the baselines the study has: ``comparisons.{csv,md}``."""
    pairs = []
    probe = sorted(k for k in cells if k[0] == "dws" and k[3] == "linear probe")
    for key in probe:
        base = {"permutation only": ("dws", "permutation", key[2], "linear probe"),
                "untrained encoder": ("dws (untrained)", "—", key[2], "linear probe")}
        pairs += [(key, name, ref) for name, ref in base.items() if ref in cells and ref != key]
    for key in sorted(k for k in cells if k[3].startswith("fine-tune")):
        ref = ("dws (from scratch)", BEST, key[2], "supervised")
        if ref in cells:
            pairs.append((key, "supervised from scratch", ref))
    rows = []
    for key, name, ref in pairs:
        if min(len(cells[key]), len(cells[ref])) < 2:
            continue
        r = difference(cells, key, ref)
        rows.append({"views": key[1], "labels_fraction": key[2], "evaluation": key[3], "against": name,
                     "n": f"{len(cells[key])}/{len(cells[ref])}", "difference": f"{r['difference']:.2f}",
                     "se": f"{r['se']:.2f}", "df": r["df"], "p": f"{r['p']:.3f}"})
    if not rows:
        return ""
    atomic_write_bytes(args.out / "comparisons.csv", csv_text(rows).encode())
    lines = ["| views | labels | evaluation | against | difference (points ± SE) | p | n |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r['views']} | {float(r['labels_fraction']):.0%} | {r['evaluation']} | {r['against']} | "
              f"{float(r['difference']):+.2f} ± {r['se']} | {r['p']} | {r['n']} |" for r in rows]
    md = "\n".join(lines) + "\n"
    atomic_write_bytes(args.out / "comparisons.md", md.encode())
    return md


def against_baseline(args, cells: dict) -> str:
    """This study's pre-trained probes against the same cells of another study (``--baseline``: its
    ``table.csv``), e.g. pre-training on the paper-scale INRs against pre-training on 2,000, as
    ``against-baseline.{csv,md}``: the variance pooled as in `difference` from both tables' cells
    of each evaluation and labels fraction (the baseline's from its rows' n and std)."""
    import csv
    from scipy import stats
    with open(args.baseline / "table.csv", newline="") as f:
        base = {(r["encoder"], r["views"], float(r["labels_fraction"]), r["evaluation"]):
                (int(r["n"]), float(r["mean"]) / 100, float(r["std"] or 0) / 100) for r in csv.DictReader(f)}
    rows = []
    for key, values in sorted(cells.items()):
        if key[0] != "dws" or key not in base:
            continue
        pool = [(n, sd ** 2) for k, (n, _, sd) in base.items() if k[2:] == key[2:] and k[0] != "stats" and n > 1]
        pool += [(len(v), statistics.variance(v)) for k, v in cells.items()
                 if k[2:] == key[2:] and k[0] != "stats" and len(v) > 1]
        df = sum(n - 1 for n, _ in pool)
        s2 = sum((n - 1) * var for n, var in pool) / df
        n_base, mean_base, _ = base[key]
        d = statistics.mean(values) - mean_base
        se = (s2 * (1 / len(values) + 1 / n_base)) ** 0.5
        rows.append({"views": key[1], "labels_fraction": key[2], "evaluation": key[3], "n": f"{len(values)}/{n_base}",
                     "difference": f"{100 * d:.2f}", "se": f"{100 * se:.2f}", "df": df,
                     "p": f"{2 * stats.t.sf(abs(d / se), df):.3f}"})
    if not rows:
        return ""
    atomic_write_bytes(args.out / "against-baseline.csv", csv_text(rows).encode())
    lines = [f"Against {args.baseline}:", "", "| views | labels | evaluation | difference (points ± SE) | p | n |",
             "|---|---|---|---|---|---|"]
    lines += [f"| {r['views']} | {float(r['labels_fraction']):.0%} | {r['evaluation']} | "
              f"{float(r['difference']):+.2f} ± {r['se']} | {r['p']} | {r['n']} |" for r in rows]
    md = "\n".join(lines) + "\n"
    atomic_write_bytes(args.out / "against-baseline.md", md.encode())
    return md


def main(argv=None) -> str:
    ap = Parser(description=__doc__)
    ap.add_argument("--data", type=Path, default=Path("results/inrs/fmnist2k-v1"))
    ap.add_argument("--data-10", type=Path, default=Path("results/inrs/fmnist2k-v10"))
    ap.add_argument("--views", nargs="+", choices=sorted(VIEWS), default=list(VIEWS))
    ap.add_argument("--seeds", type=non_negative_int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--epochs", type=positive_int, default=20, help="pre-training epochs")
    ap.add_argument("--fractions", type=positive_float, nargs="+", default=[0.1, 0.25, 1.0])
    ap.add_argument("--labels", type=positive_int, default=None,
                    help="labelled training objects at fraction 1 (the first ones; default: all): pre-training "
                         "reads every training INR unlabelled, the probes and training the first labels x fraction")
    ap.add_argument("--evaluations", nargs="+", choices=("probe", "finetune", "finetune_mixup", "supervised"),
                    default=["probe", "finetune", "finetune_mixup", "supervised"],
                    help="finetune: without augmentation; finetune_mixup: with the supervised arm's augmentation")
    ap.add_argument("--finetune-view", choices=sorted(VIEWS), default="siren_negation+noise")
    ap.add_argument("--threads", type=positive_int, default=1)
    ap.add_argument("--out", type=Path, default=Path("results/ssl"))
    ap.add_argument("--baseline", type=Path, default=None,
                    help="another study's folder (its table.csv) to compare the pre-trained probes against")
    args = ap.parse_args(argv)
    if any(not 0 < f <= 1 for f in args.fractions):
        raise ValueError(f"--fractions: expected fractions in (0, 1], got {args.fractions}")
    torch.set_num_threads(args.threads)
    from .pretrain import main as pretrain_main
    splits = {s: nngraph.INRDataset(args.data, s) for s in ("train", "val", "test")}
    normalize = nngraph.Normalize(splits["train"].stats)
    total = len(splits["train"])
    if args.labels is not None and args.labels > total:
        raise ValueError(f"--labels: {args.labels} is more than the {total} training objects of {args.data}")
    total = args.labels or total
    sizes = {f: max(1, round(f * total)) for f in args.fractions}
    cells: dict = {}
    for seed in args.seeds:  # seed-major: every view at n=1 first
        for name in ("random", "stats"):
            for f, r in probes(args, name, seed, splits, normalize, sizes).items():
                cells.setdefault((name if name == "stats" else "dws (untrained)", "—", float(f), "linear probe"),
                                 []).append(r["test"])
        for name in args.views:
            pretrain_main(pretrain_args(args, name, seed))
            for f, r in probes(args, name, seed, splits, normalize, sizes).items():
                cells.setdefault(("dws", name, float(f), "linear probe"), []).append(r["test"])
            print(write(args, cells), flush=True)
        for f in args.fractions:
            ckpt = pretrain_dir(args, args.finetune_view, seed) / "checkpoints" / "last.ckpt"
            for evaluation, augment, label in (("finetune", "none", "fine-tune"),
                                               ("finetune_mixup", BEST, "fine-tune + " + BEST)):
                if evaluation in args.evaluations:
                    if not ckpt.is_file():
                        pretrain_main(pretrain_args(args, args.finetune_view, seed))
                    cells.setdefault(("dws", args.finetune_view, f, label), []).append(
                        supervised(args, seed, sizes[f], ckpt, augment))
            if "supervised" in args.evaluations:
                cells.setdefault(("dws (from scratch)", BEST, f, "supervised"), []).append(
                    supervised(args, seed, sizes[f], None))
            print(write(args, cells), flush=True)
    table, differences = write(args, cells), compare(args, cells)
    if args.baseline is not None:
        differences += "\n" + against_baseline(args, cells)
    print(differences)
    return table + "\n" + differences


if __name__ == "__main__":
    keep_freed_memory()
    run(main)
