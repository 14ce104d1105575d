"""Give run folders recorded before runs carried their data's content id the id of the dataset they
trained on, where the folder itself proves it: the per-layer normalisation statistics logged at
training time (``csv/version_0/hparams.yaml``, statistics of every training INR, bit for bit in float32)
and the number of training INRs must equal the dataset's (the training INRs), and its best checkpoint,
run again on the dataset's validation and test splits, must score the accuracies it recorded (their
INRs and labels). A folder that cannot prove all three is left as it is, naming what it could not
check (and is refused by `train`, `table1` and `headline` until rerun).

    python -m experiments.adopt_runs --data results/inrs/fmnist2k-v1 results/headline/runs/*-v1-*
"""
from __future__ import annotations

from pathlib import Path

import torch
import yaml

from nngraph.datasets.shards import read_manifest

from .cli import Parser, run
from .records import read_record, write_record
from .train import RESULT, RUN, data_id, recorded_identity


def adopt(out: Path, data: Path) -> str:
    """Record ``data``'s content id in the legacy run folder ``out`` if its logged statistics prove it
    trained on that data; returns what was done, in a few words."""
    recorded = recorded_identity(out)
    if recorded is None or not (out / RESULT).is_file():
        return "no finished run"
    if "data_id" in recorded:
        return "already has a data id"
    hparams = out / "csv" / "version_0" / "hparams.yaml"
    if not hparams.is_file():
        return f"no {hparams.relative_to(out)} to check against"
    try:
        logged = yaml.safe_load(hparams.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        return f"{hparams.relative_to(out)} is unreadable ({type(e).__name__}): not adopted"
    logged = logged.get("normalize") if isinstance(logged, dict) else None
    manifest = read_manifest(data)
    result = read_record(out / RESULT)
    train_inrs = manifest["splits"]["train"]["count"] * min(int(result["config"]["views"]), manifest["views"]["train"])
    if not _same_float32(logged, manifest["stats"]):
        return "its normalisation statistics differ from the dataset's: not adopted"
    if result.get("num_train") != train_inrs:
        return f"it trained on {result.get('num_train')} INRs, the dataset has {train_inrs}: not adopted"
    differ = _scores_differ(out, result, data)
    if differ:
        return f"{differ}: not adopted"
    write_record(out / RUN, {**recorded, "data_id": data_id(data), "data": str(data),
                             "data_id_checked_by": "normalisation statistics, training-set size, and its best "
                                                   "checkpoint's validation and test accuracy recomputed"})
    return "adopted"


def _scores_differ(out: Path, result: dict, data: Path) -> str:
    """Why the run's best checkpoint does not prove ``data``'s validation and test splits ("" if it
    does): it must be here and score, on them, exactly the accuracies the run recorded."""
    from nngraph import INRDataset
    from nngraph.lightning import WeightSpaceClassifier
    from .per_class import best_checkpoint, predictions
    try:
        checkpoint = best_checkpoint(out, result)
    except ValueError as e:
        return str(e)
    if not checkpoint.is_file():
        return f"no {checkpoint.relative_to(out)} to check the validation and test data against"
    module = WeightSpaceClassifier.load_from_checkpoint(checkpoint, weights_only=True, map_location="cpu").eval()
    for split, key in (("val", "best_val_acc"), ("test", "test_acc")):
        ds = INRDataset(data, split)
        with torch.no_grad():
            acc = (predictions(module, ds) == ds.labels).float().mean().item()
        if abs(acc - float(result.get(key, -1))) > 0.5 / max(len(ds), 1):
            return (f"its best checkpoint scores {100 * acc:.2f}% on the dataset's {split} split, it recorded "
                    f"{100 * float(result.get(key, -1)):.2f}%: other {split} INRs or labels")
    return ""


def _same_float32(logged, stats: dict) -> bool:
    """Whether the logged statistics are the dataset's as training held them (float32, bit for bit)."""
    if not isinstance(logged, dict) or set(logged) != set(stats):
        return False
    return all(torch.equal(torch.tensor(logged[k], dtype=torch.float32), torch.tensor(stats[k], dtype=torch.float32))
               for k in stats)


def main(argv=None):
    ap = Parser(description=__doc__)
    ap.add_argument("--data", type=Path, required=True, help="the INR dataset folder the runs trained on")
    ap.add_argument("runs", type=Path, nargs="+", help="run folders")
    args = ap.parse_args(argv)
    for out in args.runs:
        try:
            said = adopt(out, args.data)
        except ValueError as e:  # one folder's fault stops none of the others
            said = f"{e}: not adopted"
        print(f"{out}: {said}")


if __name__ == "__main__":
    run(main)
