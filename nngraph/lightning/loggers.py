"""Loggers by name, for command lines and configs: every run's folder gets the ones named."""
from __future__ import annotations

from pathlib import Path

LOGGERS = ("csv", "tensorboard", "wandb")


def make_loggers(names, out: str | Path, run_name: str | None = None) -> list:
    """Lightning loggers writing under ``out``: ``csv`` (``out/csv``), ``tensorboard`` (``out/tb``),
    ``wandb`` (offline, ``out/wandb``: synced later with ``wandb sync`` if wanted; needs the wandb
    package). Each (re)start of a run writes a new version."""
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
    unknown = [n for n in names if n not in LOGGERS]
    if unknown:
        raise ValueError(f"loggers: unknown {unknown}; expected some of {LOGGERS}")
    out, made = Path(out), []
    for name in dict.fromkeys(names):
        if name == "csv":
            made.append(CSVLogger(out, name="csv"))
        elif name == "tensorboard":
            made.append(TensorBoardLogger(out, name="tb"))
        else:
            try:
                import wandb  # noqa: F401
            except ImportError:
                raise ValueError("loggers: wandb needs the wandb package (pip install wandb)") from None
            from lightning.pytorch.loggers import WandbLogger
            (out / "wandb").mkdir(parents=True, exist_ok=True)
            made.append(WandbLogger(name=run_name or out.name, save_dir=str(out), offline=True))
    return made
