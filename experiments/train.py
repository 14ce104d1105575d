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

import torch

from nngraph import augment
from nngraph.datasets.shards import atomic_write_bytes, check_manifest, content_id, read_manifest, sha256_file
from nngraph.lightning import LOGGERS, make_loggers
from nngraph.models import MODELS

from .cli import (PRECISIONS, Parser, batches, json_object, non_negative_float, non_negative_int, positive_float,
                  positive_int, run)
from .config import add_arguments as add_config_arguments, dump, parse, plugin_identity
from .cpu import keep_freed_memory
from .presets import PRESETS, model_kwargs
from .records import lock_folder, read_record, write_record

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
    ap.add_argument("--train-objects", type=positive_int, default=None,
                    help="train on the first N training objects only (every view of each; default: all)")
    ap.add_argument("--epochs", type=positive_int, default=300)
    ap.add_argument("--batch-size", type=positive_int, default=128)
    ap.add_argument("--lr", type=positive_float, default=None, help="default: 1e-3 for rt, 5e-3 for dws (Appendix C)")
    ap.add_argument("--weight-decay", type=non_negative_float, default=5e-4)
    ap.add_argument("--no-amsgrad", dest="amsgrad", action="store_false", help="plain AdamW (default: amsgrad, as the reference)")
    ap.add_argument("--gradient-clip", type=positive_float, default=None, help="clip the gradient norm (default: none, as the reference)")
    ap.add_argument("--warmup-steps", type=non_negative_int, default=None, help="default: 1000 for rt, 0 for dws")
    ap.add_argument("--preset", choices=sorted(PRESETS), default="paper", help="model size: the paper's or a small CPU one")
    ap.add_argument("--model-kwargs", type=json_object, default={}, help='JSON overrides, e.g. \'{"node_dim": 32}\'')
    ap.add_argument("--pretrained", default=None,
                    help="start the encoder from this nngraph-pretrain checkpoint (its model and sizes)")
    ap.add_argument("--freeze-encoder", action="store_true", help="with --pretrained: train the head alone")
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
    ap.add_argument("--epoch-lines", action="store_true",
                    help="print one line per epoch (losses, validation accuracy, elapsed time, time left)")
    ap.add_argument("--loggers", nargs="+", choices=LOGGERS, default=["csv", "tensorboard"],
                    help="where metrics go, in the run folder (wandb: offline, needs the wandb package)")
    add_config_arguments(ap)
    return ap


def command(args) -> list[str]:
    """The ``python -m experiments.train`` command line that reproduces ``args``: every argument that
    differs from its default (and the required ``--data``)."""
    argv = [sys.executable, "-m", "nngraph.experiments.train"]
    for action in parser()._actions:
        if not action.option_strings or action.dest == "help":
            continue
        value, flag = getattr(args, action.dest), action.option_strings[0]
        if isinstance(action, argparse._StoreTrueAction):
            argv += [flag] if value else []
        elif isinstance(action, argparse._StoreFalseAction):
            argv += [flag] if not value else []
        elif action.dest == "config":  # its values are in the other options already
            continue
        elif isinstance(value, list):
            argv += [flag, *map(str, value)] if value != action.default else []
        elif value != action.default or action.required:
            argv += [flag, json.dumps(value) if isinstance(value, dict) else str(value)]
    return argv


# The settings that change a run's result, with the content id of its data (not the folder it lies
# in): a run folder belongs to one combination of them.
IDENTITY = ("data_id", "model", "augment", "augment_options", "augment_on", "views", "epochs", "batch_size", "lr",
            "weight_decay", "amsgrad", "gradient_clip", "warmup_steps", "preset", "model_kwargs", "seed",
            "limit_train_batches", "devices", "num_nodes", "strategy", "precision", "train_objects", "plugins",
            "pretrained", "freeze_encoder")
# Settings added after runs were recorded, at the value those runs had: left out of a run's identity
# at that value, so earlier run folders keep their names and are still recognised.
ADDED = {"precision": "32-true", "train_objects": None, "plugins": None, "pretrained": None, "freeze_encoder": False}
RUN = "run.json"


def data_id(data) -> str:
    """The content id of the INR dataset folder ``data`` (`nngraph.INRDataset.content_id`), after
    checking that it is complete and that its manifest agrees with its shards."""
    if not Path(data).is_dir():
        raise ValueError(f"data: {data} is not a directory; write one with `python -m experiments.fit_inrs`")
    manifest = read_manifest(data)
    if not manifest.get("complete"):
        raise ValueError(f"data: {data} holds an unfinished build; rerun the build command to complete it")
    check_manifest(data, manifest)
    return content_id(manifest)


def identity(args, data: str | None = None) -> dict:
    """The run's identity: its result-changing settings and its data's content id (``data``, if
    already known)."""
    values = {k: getattr(args, k, ADDED.get(k)) for k in IDENTITY if k not in ("data_id", "plugins", "pretrained")}
    plugins = plugin_identity(getattr(args, "imports", None) or [])  # the code --import brought in
    pretrained = getattr(args, "pretrained", None)  # by content: the checkpoint's bytes, not its path
    pretrained = None if pretrained is None else sha256_file(pretrained)[:16]
    return _settings({**values, "plugins": plugins, "pretrained": pretrained, "data_id": data or data_id(args.data)})


def _settings(values: dict) -> dict:
    """The identity settings among ``values``."""
    return {k: v for k, v in values.items() if k in IDENTITY and not (k in ADDED and ADDED[k] == v)}


def run_dir(args) -> Path:
    if args.out:
        return Path(args.out)
    digest = hashlib.sha256(json.dumps(identity(args), sort_keys=True).encode()).hexdigest()[:8]
    return Path(f"runs/{args.model}-{args.augment}-v{args.views}-s{args.seed}-{digest}")


def _setting(settings: dict, k: str):
    """Setting ``k`` of a run's identity; one added later reads as the value earlier runs had."""
    return settings.get(k, ADDED.get(k, "<missing>"))


def differences(recorded: dict, settings: dict, keys: tuple[str, ...] = IDENTITY) -> str:
    """The identity settings (``keys``) where ``recorded`` and ``settings`` differ, each with both values
    ("" if none)."""
    differ = [k for k in keys if _setting(recorded, k) != _setting(settings, k)]
    return ", ".join(f"{k} ({_setting(recorded, k)!r} there, {_setting(settings, k)!r} now)" for k in differ)


def recorded_identity(out: Path) -> dict | None:
    """The identity a run folder was recorded with: its ``run.json``, else (a run finished before
    ``run.json`` existed) its ``result.json``'s settings, else None. A folder with checkpoints but
    neither record holds a run of unknown settings: refused."""
    if (out / RUN).is_file():
        return read_record(out / RUN)
    if (out / RESULT).is_file():
        return _settings(read_record(out / RESULT).get("config", {}))
    if any((out / "checkpoints").glob("*.ckpt")):
        raise ValueError(f"out: {out} holds checkpoints but no {RUN}: a run of unknown settings, not resumed; "
                         "use another --out or delete its checkpoints")
    return None


def finished(out: Path, settings: dict, keys: tuple[str, ...] = IDENTITY) -> dict | None:
    """The result of the run in ``out`` if it is finished with exactly ``settings``, None if the folder
    holds no finished run; ValueError naming the difference if it holds a run of other settings."""
    recorded = recorded_identity(out)
    if recorded is not None:
        differ = differences(recorded, settings, keys)
        if differ:
            raise ValueError(f"out: {out} holds a run with other settings: {differ}; use another --out")
    if not (out / RESULT).is_file():
        return None
    result = read_record(out / RESULT)
    differ = differences(result.get("identity", recorded), settings, keys)
    if differ:
        raise ValueError(f"{out / RESULT}: a result with other settings: {differ}; delete it to redo the run")
    return result


# Trainings this process has started: a run after others in one long-lived process may draw other
# numbers than one in a fresh process, so each result says which it was.
_STARTED = 0


def start_training(threads: int | None, seed: int) -> None:
    """Start a training run (supervised or pre-training) in this process: its thread count and seed,
    and counted as started, for `provenance`."""
    import lightning as L
    global _STARTED
    if threads:
        torch.set_num_threads(threads)
    _STARTED += 1
    L.seed_everything(seed, workers=True, verbose=False)


def provenance(args) -> dict:
    """What a result was measured with beside its identity: package versions, threads, the processor
    and torch's CPU kernel level (the same run under AVX2 and under the scalar kernels differs from
    its first epoch), and how the run was launched (a fresh process, or after other trainings)."""
    import platform
    from importlib.metadata import PackageNotFoundError, version

    def installed(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None
    packages = {n: installed(n) for n in ("torch", "lightning", "torch-geometric", "torch-scatter", "numpy", "scipy",
                                          "safetensors", "nngraph")}
    return {"python": platform.python_version(), "packages": packages, "threads": torch.get_num_threads(),
            "machine": platform.machine(), "processor": _cpu_name(),
            "cpu_capability": torch.backends.cpu.get_cpu_capability(), "launched": "fresh process" if _STARTED == 1
            else f"in a process after {_STARTED - 1} other trainings", "argv": sys.argv}


def _cpu_name() -> str:
    """The model name with its family and model numbers (a virtual machine's name may say only "AMD EPYC")."""
    try:
        fields = dict(line.split(":", 1) for line in Path("/proc/cpuinfo").read_text().split("\n\n")[0].splitlines()
                      if ":" in line)
        fields = {k.strip(): v.strip() for k, v in fields.items()}
        return f"{fields['model name']} (family {fields.get('cpu family', '?')}, model {fields.get('model', '?')})"
    except (OSError, KeyError):
        import platform
        return platform.processor()


def _rank_zero() -> bool:
    """Whether this process is the first of its run (a DDP launch's other processes share the folder)."""
    return all(os.environ.get(k, "0") == "0" for k in ("LOCAL_RANK", "NODE_RANK"))


def train(args) -> dict:
    """Run (or resume, or just read back) one training run; returns its result record."""
    augment.build(args.augment, num_classes=2, options=args.augment_options)  # a bad name fails first, by name
    settings = identity(args)
    out = run_dir(args)
    if not _rank_zero():
        return _train(args, out, settings)
    with lock_folder(out):  # refuses a second process on this folder, naming the first
        return _train(args, out, settings)


def _train(args, out: Path, settings: dict) -> dict:
    import lightning as L  # here, not at the top: --help and argument errors need none of it
    from lightning.pytorch.callbacks import ModelCheckpoint
    from lightning.pytorch.utilities.exceptions import MisconfigurationException
    from nngraph.lightning import (AtomicCheckpointIO, EpochLine, INRDataModule, RandomState, Sessions, Stopwatch,
                                   WeightSpaceClassifier, resume_point)
    result = finished(out, settings)
    if result is not None:
        return result
    resume = resume_point(out / "checkpoints", set_aside=_rank_zero())  # every process resumes from the same one
    if args.quiet:  # progress-bar-free runs (grids, the main job): keep the output to results
        logging.getLogger("lightning.pytorch").setLevel(logging.ERROR)
        for module in ("lightning", "pytorch_lightning", "torch_geometric"):
            warnings.filterwarnings("ignore", module=module)
    if resume is not None and _rank_zero():
        print(f"{out}: resuming from {resume.name}", flush=True)
    elif _rank_zero() and (out / "csv").is_dir():
        print(f"{out}: no checkpoint to resume from; starting over", flush=True)
    start_training(args.threads, args.seed)
    dm = INRDataModule(args.data, views=args.views, batch_size=args.batch_size, augmentation=args.augment,
                       augment_options=args.augment_options, augment_on=args.augment_on, num_workers=args.num_workers,
                       train_objects=args.train_objects)
    dm.setup("fit")
    if dm.train.content_id != settings["data_id"]:  # replaced between the check and the load
        raise ValueError(f"data: {args.data} changed while the run started; rerun the command")
    if args.pretrained:  # its model, sizes and normalisation; the rest as asked
        module = WeightSpaceClassifier.from_pretrained(args.pretrained, dm.num_classes, args.freeze_encoder,
                                                       lr=args.lr, weight_decay=args.weight_decay,
                                                       warmup_steps=args.warmup_steps,
                                                       batch_transform=dm.batch_transform, amsgrad=args.amsgrad)
        if module.hparams.model != args.model:
            raise ValueError(f"--pretrained {args.pretrained}: a {module.hparams.model} encoder, --model says {args.model}")
    else:
        module = WeightSpaceClassifier(dm.spec, dm.num_classes, model=args.model, lr=args.lr,
                                       weight_decay=args.weight_decay, warmup_steps=args.warmup_steps,
                                       model_kwargs=model_kwargs(args.preset, args.model, args.model_kwargs),
                                       batch_transform=dm.batch_transform, normalize=dm.normalize,
                                       amsgrad=args.amsgrad)
    ckpt = ModelCheckpoint(dirpath=out / "checkpoints", monitor="val_acc", mode="max", filename="best-{epoch}")
    # Every epoch's end, for resuming (ModelCheckpoint's save_last only follows the best epochs'
    # saves, so a resumed run would repeat the epochs since its last improvement).
    last_epoch = ModelCheckpoint(dirpath=out / "checkpoints", filename="last", monitor=None, save_top_k=1,
                                 enable_version_counter=False)
    stopwatch, sessions = Stopwatch(), Sessions(provenance(args))
    callbacks = [ckpt, last_epoch, stopwatch, sessions, RandomState()]
    callbacks += [EpochLine(f"{args.model} {args.augment}")] if args.epoch_lines else []
    loggers = make_loggers(args.loggers, out)  # a new version per (re)start
    for logger in loggers:  # beside the module's and the data module's (augmentation) hyperparameters
        logger.log_hyperparams({"seed": args.seed, "model_name": args.model, "preset": args.preset,
                                "epochs": args.epochs, "data_id": settings["data_id"]})
    try:
        trainer = L.Trainer(max_epochs=args.epochs, accelerator=args.accelerator, devices=args.devices,
                            num_nodes=args.num_nodes, strategy=args.strategy, callbacks=callbacks, logger=loggers,
                            gradient_clip_val=args.gradient_clip, limit_train_batches=args.limit_train_batches,
                            enable_progress_bar=not args.quiet, enable_model_summary=not args.quiet,
                            log_every_n_steps=1, deterministic=False, precision=args.precision,
                            plugins=[AtomicCheckpointIO()])
    except (MisconfigurationException, ImportError, TypeError) as e:  # Lightning's word on the hardware options
        raise ValueError(f"--accelerator {args.accelerator} --devices {args.devices} --strategy {args.strategy}: "
                         f"{str(e).splitlines()[0]}") from None
    if trainer.is_global_zero:
        record = {**settings, "data": os.path.normpath(str(args.data))}  # the path for people, not the identity
        write_record(out / RUN, record)  # the folder is now this run's
        resolved = dump(args)  # every option, as --config reads them back
        atomic_write_bytes(out / "config.yaml", resolved.encode())
        if not args.quiet:
            print(f"configuration ({out / 'config.yaml'}):\n{resolved}", flush=True)
    trainer.fit(module, datamodule=dm, ckpt_path=resume)
    trained, history = stopwatch.seconds, sessions.sessions  # before testing loads the best epoch's checkpoint
    start = time.time()
    tested = trainer.test(module, datamodule=dm, ckpt_path="best", verbose=False)[0]
    result = {
        "test_acc": tested["test_acc"], "test_loss": tested["test_loss"],
        "best_val_acc": float(ckpt.best_model_score), "best_checkpoint": Path(ckpt.best_model_path).name,
        "epochs": trainer.current_epoch, "seconds": round(trained + time.time() - start, 1),
        "config": {k: v for k, v in vars(args).items()}, "identity": settings, "data_id": settings["data_id"],
        "num_train": len(dm.train), "device": str(module.device),
        "provenance": {**sessions.about, "sessions": history},  # this process's, and every session's
    }
    if not trainer.is_global_zero:  # under DDP, one process reports
        return {**result, "rank": trainer.global_rank}
    write_record(out / RESULT, result)
    return result


def main(argv=None):
    args = parse(parser, argv)
    result = train(args)
    if result.get("rank", 0):
        return
    print(f"test accuracy {100 * result['test_acc']:.2f}% at the best validation epoch "
          f"(val {100 * result['best_val_acc']:.2f}%), {result['seconds']:.0f} s -> {run_dir(args) / RESULT}")


def run_training(main) -> None:
    """`cli.run` for a command that trains: TF32 matmuls where the GPU has them, freed memory kept for
    reuse on the CPU (`keep_freed_memory`)."""
    torch.set_float32_matmul_precision("high")
    keep_freed_memory()
    run(main)


def cli():
    """``nngraph-train``, the same as ``python -m nngraph.experiments.train``."""
    run_training(main)


if __name__ == "__main__":
    cli()
