"""Train a weight-space classifier on an INR dataset, with augmentations.

    python -m experiments.train --data DIR --model rt --augment mixup_weight_matching --views 1 --epochs 300 --seed 0

Selects the epoch with the best validation accuracy (the paper's early stopping) and reports the test
accuracy there. Rerunning the same command after an interruption resumes from the last checkpoint;
a finished run just reports its stored result.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import logging
import time
import warnings
from pathlib import Path

import lightning as L
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from .cli import (PRECISIONS, Parser, batches, json_object, non_negative_float, non_negative_int, positive_float,
                  positive_int, run)
from .cpu import keep_freed_memory
from .data_module import INRDataModule
from .lit_module import MODELS, WeightSpaceClassifier
from .presets import PRESETS, model_kwargs

RESULT = "result.json"


def parser() -> argparse.ArgumentParser:
    ap = Parser(description=__doc__)
    ap.add_argument("--data", required=True, help="INR dataset directory written by experiments.fit_inrs")
    ap.add_argument("--model", choices=sorted(MODELS), default="rt")
    ap.add_argument("--augment", default="none", help="augmentation name(s), e.g. 'mixup_weight_matching' or 'siren_negation+translate'")
    ap.add_argument("--augment-options", type=json_object, default={},
                    help='JSON keyword overrides per augmentation, e.g. \'{"mixup": {"lam_range": [0.8, 1.0]}}\'')
    ap.add_argument("--augment-on", choices=("device", "loader"), default="device",
                    help="augment whole batches on the training device, or samples in the loader")
    ap.add_argument("--views", type=positive_int, default=1)
    ap.add_argument("--epochs", type=positive_int, default=300)
    ap.add_argument("--batch-size", type=positive_int, default=128)
    ap.add_argument("--lr", type=positive_float, default=None, help="default: 1e-3 for rt, 5e-3 for dws (Appendix C)")
    ap.add_argument("--weight-decay", type=non_negative_float, default=5e-4)
    ap.add_argument("--no-amsgrad", dest="amsgrad", action="store_false", help="plain AdamW (default: amsgrad, as the reference)")
    ap.add_argument("--gradient-clip", type=positive_float, default=None, help="clip the gradient norm (default: none, as the reference)")
    ap.add_argument("--warmup-steps", type=non_negative_int, default=None, help="default: 1000 for rt, 0 for dws")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="paper", help="model size: the paper's or a small CPU one")
    ap.add_argument("--model-kwargs", type=json_object, default={}, help='JSON overrides, e.g. \'{"node_dim": 32}\'')
    ap.add_argument("--precision", choices=PRECISIONS, default="32-true",
                    help="bf16-mixed: layers in bfloat16 under autocast (the RT's attention and edge-input functions "
                         "stay float32); default: float32")
    ap.add_argument("--seed", type=non_negative_int, default=0)
    ap.add_argument("--out", default=None, help="run directory (default runs/<model>-<augment>-v<views>-s<seed>-<hash of the settings>)")
    ap.add_argument("--accelerator", default="auto")
    ap.add_argument("--devices", default="auto", help="e.g. 1, 4, or auto; several GPUs train with DDP")
    ap.add_argument("--num-nodes", type=positive_int, default=1)
    ap.add_argument("--strategy", default="auto")
    ap.add_argument("--num-workers", type=non_negative_int, default=0)
    ap.add_argument("--limit-train-batches", type=batches, default=1.0)
    ap.add_argument("--threads", type=positive_int, default=None, help="CPU threads (default: torch's choice)")
    ap.add_argument("--quiet", action="store_true", help="no progress bar or model summary")
    ap.add_argument("--epoch-lines", action="store_true", help="print one line per epoch (loss, validation accuracy)")
    return ap


def command(args) -> list[str]:
    """The ``python -m experiments.train`` command line that reproduces ``args``: every argument that
    differs from its default (and the required ``--data``)."""
    argv = [sys.executable, "-m", "experiments.train"]
    for action in parser()._actions:
        if not action.option_strings or action.dest == "help":
            continue
        value, flag = getattr(args, action.dest), action.option_strings[0]
        if isinstance(action, argparse._StoreTrueAction):
            argv += [flag] if value else []
        elif isinstance(action, argparse._StoreFalseAction):
            argv += [flag] if not value else []
        elif value != action.default or action.required:
            argv += [flag, json.dumps(value) if isinstance(value, dict) else str(value)]
    return argv


class EpochLine(L.Callback):
    """One line per finished epoch: training loss, validation loss and accuracy."""

    def __init__(self, name: str):
        self.name = name

    def on_train_epoch_end(self, trainer, module):  # after this epoch's validation
        if not trainer.is_global_zero or "val_acc" not in trainer.callback_metrics:
            return
        m = trainer.callback_metrics
        print(f"  {self.name}: epoch {trainer.current_epoch + 1}/{trainer.max_epochs}  train loss "
              f"{float(m['train_loss']):.3f}  val loss {float(m['val_loss']):.3f}  val acc "
              f"{100 * float(m['val_acc']):.1f}%", flush=True)


# The settings that change a run's result: a run folder belongs to one combination of them.
IDENTITY = ("data", "model", "augment", "augment_options", "augment_on", "views", "epochs", "batch_size", "lr",
            "weight_decay", "amsgrad", "gradient_clip", "warmup_steps", "preset", "model_kwargs", "seed",
            "limit_train_batches", "devices", "num_nodes", "strategy", "precision")
# Settings added after runs were recorded, at the value those runs had: left out of a run's identity
# at that value, so earlier run folders keep their names and are still recognised.
ADDED = {"precision": "32-true"}
RUN = "run.json"


def identity(args) -> dict:
    return _settings({k: getattr(args, k) for k in IDENTITY})


def _settings(values: dict) -> dict:
    """The identity settings among ``values``, the data path in one spelling."""
    settings = {k: v for k, v in values.items() if k in IDENTITY and not (k in ADDED and ADDED[k] == v)}
    settings["data"] = os.path.normpath(str(settings.get("data")))
    return settings


def run_dir(args) -> Path:
    if args.out:
        return Path(args.out)
    digest = hashlib.sha256(json.dumps(identity(args), sort_keys=True).encode()).hexdigest()[:8]
    return Path(f"runs/{args.model}-{args.augment}-v{args.views}-s{args.seed}-{digest}")


def _setting(settings: dict, k: str):
    """Setting ``k`` of a run's identity; one added later reads as the value earlier runs had."""
    return settings.get(k, ADDED.get(k, "<missing>"))


def _check_folder(out: Path, settings: dict) -> None:
    """Refuse a run folder that holds a run of other settings, naming them."""
    recorded = None
    if (out / RUN).is_file():
        recorded = json.loads((out / RUN).read_text())
    elif (out / RESULT).is_file():  # a run finished before run.json existed
        recorded = _settings(json.loads((out / RESULT).read_text())["config"])
    if recorded is None:
        return
    differ = [k for k in IDENTITY if _setting(recorded, k) != _setting(settings, k)]
    if differ:
        what = ", ".join(f"{k} ({_setting(recorded, k)!r} there, {_setting(settings, k)!r} now)" for k in differ)
        raise ValueError(f"out: {out} holds a run with other settings: {what}; use another --out")


def train(args) -> dict:
    """Run (or resume, or just read back) one training run; returns its result record."""
    out = run_dir(args)
    settings = identity(args)
    _check_folder(out, settings)
    if (out / RESULT).is_file():
        return json.loads((out / RESULT).read_text())
    last = out / "checkpoints" / "last.ckpt"
    if last.is_file() and last.stat().st_size == 0:
        raise ValueError(f"{last}: empty checkpoint (a run killed while saving it); delete the run folder {out} "
                         "to start the run over")
    start = time.time()
    if args.quiet:  # progress-bar-free runs (grids, the main job): keep the output to results
        logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
        for module in ("lightning", "pytorch_lightning", "torch_geometric"):
            warnings.filterwarnings("ignore", module=module)
    if args.threads:
        torch.set_num_threads(args.threads)
    L.seed_everything(args.seed, workers=True, verbose=False)
    dm = INRDataModule(args.data, views=args.views, batch_size=args.batch_size, augmentation=args.augment,
                       augment_options=args.augment_options, augment_on=args.augment_on, num_workers=args.num_workers)
    dm.setup("fit")
    module = WeightSpaceClassifier(dm.spec, dm.num_classes, model=args.model, lr=args.lr,
                                   weight_decay=args.weight_decay, warmup_steps=args.warmup_steps,
                                   model_kwargs=model_kwargs(args.preset, args.model, args.model_kwargs),
                                   batch_transform=dm.batch_transform, normalize=dm.normalize, amsgrad=args.amsgrad)
    ckpt = ModelCheckpoint(dirpath=out / "checkpoints", monitor="val_acc", mode="max", filename="best-{epoch}")
    # Every epoch's end, for resuming (ModelCheckpoint's save_last only follows the best epochs'
    # saves, so a resumed run would repeat the epochs since its last improvement).
    last_epoch = ModelCheckpoint(dirpath=out / "checkpoints", filename="last", monitor=None, save_top_k=1,
                                 enable_version_counter=False)
    callbacks = [ckpt, last_epoch] + ([EpochLine(f"{args.model} {args.augment}")] if args.epoch_lines else [])
    loggers = [CSVLogger(out, name="csv"), TensorBoardLogger(out, name="tb")]  # a new version per (re)start
    trainer = L.Trainer(max_epochs=args.epochs, accelerator=args.accelerator, devices=args.devices,
                        num_nodes=args.num_nodes, strategy=args.strategy, callbacks=callbacks, logger=loggers,
                        gradient_clip_val=args.gradient_clip, limit_train_batches=args.limit_train_batches,
                        enable_progress_bar=not args.quiet, enable_model_summary=not args.quiet,
                        log_every_n_steps=1, deterministic=False, precision=args.precision)
    if trainer.is_global_zero:
        out.mkdir(parents=True, exist_ok=True)
        (out / RUN).write_text(json.dumps(settings, indent=1, sort_keys=True))  # the folder is now this run's
    trainer.fit(module, datamodule=dm, ckpt_path=last if last.is_file() else None)
    tested = trainer.test(module, datamodule=dm, ckpt_path="best", verbose=False)[0]
    result = {
        "test_acc": tested["test_acc"], "test_loss": tested["test_loss"],
        "best_val_acc": float(ckpt.best_model_score), "best_checkpoint": Path(ckpt.best_model_path).name,
        "epochs": trainer.current_epoch, "seconds": round(time.time() - start, 1),
        "config": {k: v for k, v in vars(args).items()},
        "num_train": len(dm.train), "device": str(module.device),
    }
    if not trainer.is_global_zero:  # under DDP, one process reports
        return {**result, "rank": trainer.global_rank}
    tmp = out / (RESULT + ".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    tmp.replace(out / RESULT)
    return result


def main(argv=None):
    args = parser().parse_args(argv)
    result = train(args)
    if result.get("rank", 0):
        return
    print(f"test accuracy {100 * result['test_acc']:.2f}% at the best validation epoch "
          f"(val {100 * result['best_val_acc']:.2f}%), {result['seconds']:.0f} s -> {run_dir(args) / RESULT}")


if __name__ == "__main__":
    torch.set_float32_matmul_precision("high")
    keep_freed_memory()
    run(main)
