"""Class by class, what finished runs predict: from each run's best checkpoint (the one its test
accuracy was measured with), the accuracy and the balanced accuracy (the mean of the per-class
recalls) on the validation and test splits, and how many INRs each class is predicted for.

    python -m experiments.per_class RUN [RUN ...] [--out FILE.json]

Why: a validation split cut class by class from an unbalanced training set is as unbalanced as it,
so the best epoch it picks can favour the frequent classes that a balanced test split then
punishes (ModelNet10: docs/results.md). Checkpoints are not committed; a run's own machine has them.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

import nngraph
from nngraph.datasets.shards import atomic_write_bytes
from nngraph.lightning import WeightSpaceClassifier

from .cli import Parser, positive_int, run
from .cpu import keep_freed_memory
from .records import read_record
from .train import RESULT, data_id

SPLITS = ("val", "test")


def per_class(pred: torch.Tensor, y: torch.Tensor, num_classes: int) -> dict:
    """Accuracy, balanced accuracy (over the classes present in ``y``), per-class recall (None for
    an absent class) and counts of predictions and of labels, for hard ``pred`` and ``y``."""
    hits = torch.bincount(y[pred == y], minlength=num_classes)
    labels = torch.bincount(y, minlength=num_classes)
    present = labels > 0
    recall = hits / labels.clamp(min=1)
    return {"accuracy": (pred == y).float().mean().item(), "balanced": recall[present].mean().item(),
            "recall": [r if p else None for r, p in zip(recall.tolist(), present.tolist())],
            "predicted": torch.bincount(pred, minlength=num_classes).tolist(), "labels": labels.tolist()}


@torch.no_grad()
def predictions(module: WeightSpaceClassifier, dataset: nngraph.INRDataset, batch_size: int = 256) -> torch.Tensor:
    """The class ``module`` predicts for every INR of ``dataset``, normalised as in its training."""
    norm = module.normalize if module.normalize is not None else (lambda batch: batch)
    return torch.cat([module(norm(batch)).argmax(1) for batch in dataset.batches(batch_size)])


def best_checkpoint(folder: Path, result: dict) -> Path:
    """The run's best checkpoint, a file of its own ``checkpoints`` folder (a record naming a path
    elsewhere, into another run, is refused)."""
    name = result.get("best_checkpoint")
    if not isinstance(name, str) or Path(name).name != name or name in ("", ".", ".."):
        raise ValueError(f"run: {folder / RESULT} names best checkpoint {name!r}, not a file of its checkpoints folder")
    return folder / "checkpoints" / name


def evaluate(folder: str | Path, splits=SPLITS, batch_size: int = 256) -> dict:
    """`per_class` of the run in ``folder`` on each of ``splits``, from its best checkpoint and on the
    data it was trained on (checked by content id)."""
    folder = Path(folder)
    if not (folder / RESULT).is_file():
        raise ValueError(f"run: {folder} holds no finished run (no {RESULT})")
    result = read_record(folder / RESULT)
    checkpoint = best_checkpoint(folder, result)
    if not checkpoint.is_file():
        raise ValueError(f"run: {checkpoint} is not here (checkpoints stay where the run was trained); "
                         "rerun its training command to make it")
    data = result["config"]["data"]
    if "data_id" not in result:
        raise ValueError(f"run: {folder} was recorded before runs carried their data's content id; "
                         "python -m experiments.adopt_runs gives it one where its folder proves the data")
    found = data_id(data)
    if found != result["data_id"]:
        raise ValueError(f"run: {folder} was trained on data {result['data_id']}, but {data} now holds {found}")
    module = WeightSpaceClassifier.load_from_checkpoint(checkpoint, weights_only=True, map_location="cpu").eval()
    sets = {split: nngraph.INRDataset(data, split) for split in splits}
    out = {"run": str(folder), "checkpoint": checkpoint.name, "classes": sets[splits[0]].classes}
    for split, ds in sets.items():
        out[split] = per_class(predictions(module, ds, batch_size), ds.labels, ds.num_classes)
    return out


def main(argv=None) -> list[dict]:
    ap = Parser(description=__doc__)
    ap.add_argument("runs", nargs="+", help="finished run folders (with their checkpoints)")
    ap.add_argument("--splits", nargs="+", choices=SPLITS, default=list(SPLITS))
    ap.add_argument("--threads", type=positive_int, default=None)
    ap.add_argument("--out", default=None, help="write every run's figures as JSON here")
    args = ap.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    results = []
    for folder in args.runs:
        r = evaluate(folder, args.splits)
        results.append(r)
        for split in args.splits:
            s = r[split]
            print(f"{folder} {split:>4}: accuracy {100 * s['accuracy']:.2f}%, balanced {100 * s['balanced']:.2f}%, "
                  f"predicted {s['predicted']} of {s['labels']}", flush=True)
    print("classes:", ", ".join(results[-1]["classes"]))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(Path(args.out), json.dumps(results, indent=1).encode())  # never half a file
    return results


if __name__ == "__main__":
    keep_freed_memory()
    run(main)
