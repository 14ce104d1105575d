"""Pre-train a weight-space encoder without labels: two augmented views of every INR, NT-Xent
(`nngraph.lightning.ContrastivePretrainer`).

    python -m experiments.pretrain --data DIR --model dws --preset small --view siren_negation+noise --epochs 50

A run folder belongs to its settings and its data's content id, as with `experiments.train`:
rerunning the command resumes from the last checkpoint (every epoch's end) and a finished run
reports its stored result. The encoder of ``checkpoints/last.ckpt`` goes into a classifier with
``WeightSpaceClassifier.from_pretrained(path, num_classes)``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import time
from pathlib import Path

import torch

from nngraph import augment
from nngraph.augment.registry import split_names
from nngraph.datasets.shards import atomic_write_bytes
from nngraph.lightning import LOGGERS, make_loggers
from nngraph.models import MODELS

from .cli import Parser, json_object, non_negative_float, non_negative_int, positive_float, positive_int, run
from .config import add_arguments as add_config_arguments, dump, parse, plugin_identity
from .cpu import keep_freed_memory
from .presets import PRESETS, model_kwargs
from .records import lock_folder, write_record
from .train import RESULT, RUN, data_id, finished, provenance, start_training

# The settings that change a pre-training run's result, with its data's content id.
IDENTITY = ("data_id", "model", "preset", "model_kwargs", "view", "second_view", "view_options", "views",
            "views_as_positives", "epochs", "batch_size", "lr", "weight_decay", "warmup_steps", "temperature",
            "projection_dim", "seed", "limit_train_batches", "train_objects", "plugins")


def parser() -> argparse.ArgumentParser:
    ap = Parser(description=__doc__)
    ap.add_argument("--data", required=True, help="INR dataset directory (labels are not read)")
    ap.add_argument("--model", choices=sorted(MODELS), default="dws", help="the encoder")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="small")
    ap.add_argument("--model-kwargs", type=json_object, default={})
    ap.add_argument("--view", default="siren_negation", help="the first view's augmentations, e.g. 'siren_negation+noise'")
    ap.add_argument("--second-view", default=None, help="the second view's (default: as --view)")
    ap.add_argument("--view-options", type=json_object, default={},
                    help='options by name, e.g. \'{"mixup": {"lam_range": [0.5, 1.0]}}\'')
    ap.add_argument("--views", type=positive_int, default=1, help="fitted INRs per training object to read")
    ap.add_argument("--views-as-positives", action="store_true",
                    help="pair two different fitted INRs of each object (needs --views >= 2)")
    ap.add_argument("--train-objects", type=positive_int, default=None, help="the first N training objects only")
    ap.add_argument("--epochs", type=positive_int, default=50)
    ap.add_argument("--batch-size", type=positive_int, default=128)
    ap.add_argument("--lr", type=positive_float, default=1e-3)
    ap.add_argument("--weight-decay", type=non_negative_float, default=5e-4)
    ap.add_argument("--warmup-steps", type=non_negative_int, default=0)
    ap.add_argument("--temperature", type=positive_float, default=0.1)
    ap.add_argument("--projection-dim", type=positive_int, default=64)
    ap.add_argument("--limit-train-batches", type=positive_int, default=None, help="batches per epoch (default: all)")
    ap.add_argument("--seed", type=non_negative_int, default=0)
    ap.add_argument("--out", default=None, help="run folder (default runs/pretrain/<model>-<view>-s<seed>-<hash>)")
    ap.add_argument("--threads", type=positive_int, default=None)
    ap.add_argument("--quiet", action="store_true")
    ap.add_argument("--epoch-lines", action="store_true")
    ap.add_argument("--loggers", nargs="+", choices=LOGGERS, default=["csv"])
    add_config_arguments(ap)
    return ap


def identity(args, data: str | None = None) -> dict:
    values = {k: getattr(args, k) for k in IDENTITY if k not in ("data_id", "plugins")}
    values["second_view"] = args.second_view or args.view
    values["plugins"] = plugin_identity(getattr(args, "imports", None) or [])
    values["data_id"] = data or data_id(args.data)
    return {k: v for k, v in values.items() if not (k == "plugins" and v is None)}


def run_dir(args, settings: dict) -> Path:
    if args.out:
        return Path(args.out)
    digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]
    return Path(f"runs/pretrain/{args.model}-{args.view}-s{args.seed}-{digest}")


def pretrain(args) -> dict:
    """Run (or resume, or read back) one pre-training run; returns its result record."""
    for v in (args.view, args.second_view or args.view):
        augment.build(v, num_classes=1, options={k: o for k, o in args.view_options.items() if k in split_names(v)})
    settings = identity(args)
    out = run_dir(args, settings)
    with lock_folder(out):  # the open lock file: one process per run folder
        return _pretrain(args, out, settings)


def _pretrain(args, out: Path, settings: dict) -> dict:
    import lightning as L
    from lightning.pytorch.callbacks import ModelCheckpoint
    from nngraph.lightning import (AtomicCheckpointIO, ContrastivePretrainer, EpochLine, INRDataModule, RandomState,
                                   Sessions, Stopwatch, resume_point)
    result = finished(out, settings, IDENTITY)
    if result is not None:
        return result
    resume = resume_point(out / "checkpoints")
    if resume is not None:
        print(f"{out}: resuming from {resume.name}", flush=True)
    start_training(args.threads, args.seed)
    dm = INRDataModule(args.data, views=args.views, batch_size=args.batch_size, train_objects=args.train_objects,
                       views_as_positives=args.views_as_positives)
    dm.setup("fit")
    if dm.train.content_id != settings["data_id"]:
        raise ValueError(f"data: {args.data} changed while the run started; rerun the command")
    module = ContrastivePretrainer(dm.spec, args.model, model_kwargs(args.preset, args.model, args.model_kwargs),
                                   view=args.view, second_view=args.second_view, view_options=args.view_options,
                                   temperature=args.temperature, projection_dim=args.projection_dim, lr=args.lr,
                                   weight_decay=args.weight_decay, warmup_steps=args.warmup_steps,
                                   normalize=dm.normalize)
    last = ModelCheckpoint(dirpath=out / "checkpoints", filename="last", monitor=None, save_top_k=1,
                           enable_version_counter=False)
    stopwatch, sessions = Stopwatch(), Sessions(provenance(args))
    callbacks = [last, stopwatch, sessions, RandomState()]
    callbacks += [EpochLine(f"pretrain {args.view}")] if args.epoch_lines else []
    trainer = L.Trainer(max_epochs=args.epochs, accelerator="cpu", devices=1, callbacks=callbacks,
                        logger=make_loggers(args.loggers, out), limit_train_batches=args.limit_train_batches,
                        enable_progress_bar=not args.quiet, enable_model_summary=not args.quiet, log_every_n_steps=1,
                        plugins=[AtomicCheckpointIO()])
    write_record(out / RUN, {**settings, "data": os.path.normpath(str(args.data))})
    atomic_write_bytes(out / "config.yaml", dump(args).encode())
    start = time.time()
    trainer.fit(module, datamodule=dm, ckpt_path=resume)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    result = {"train_loss": metrics.get("train_loss"), "val_loss": metrics.get("val_loss"),
              "checkpoint": "last.ckpt", "epochs": trainer.current_epoch, "seconds": round(stopwatch.seconds, 1),
              "config": vars(args), "identity": settings, "data_id": settings["data_id"], "num_train": len(dm.train),
              "provenance": {**sessions.about, "sessions": sessions.sessions}}
    write_record(out / RESULT, result)
    if not args.quiet:
        print(f"pre-trained in {time.time() - start:.0f} s -> {out / 'checkpoints' / 'last.ckpt'}", flush=True)
    return result


def main(argv=None) -> dict:
    args = parse(parser, argv)
    result = pretrain(args)
    loss = lambda k: "n/a" if result.get(k) is None else f"{result[k]:.4f}"  # noqa: E731
    print(f"contrastive loss {loss('train_loss')} (train), {loss('val_loss')} (val), "
          f"{result['seconds']:.0f} s -> {run_dir(args, result['identity'])}")
    return result


def cli():
    """``nngraph-pretrain``, the same as ``python -m nngraph.experiments.pretrain``."""
    keep_freed_memory()
    run(main)


if __name__ == "__main__":
    cli()
