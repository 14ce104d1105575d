"""Export an INR dataset of this library in the public layout (``splits.json`` plus one torch-saved
state dict per INR, ``seq.<k>.weight``, ``seq.<k>.bias``, ``label``), for the other public codebases.

    python -m experiments.export_inrs --data runs/inrs/fmnist --out exports/fmnist
"""
from __future__ import annotations

from pathlib import Path

from nngraph.datasets.public import export_splits

from .cli import Parser, run


def main(argv=None) -> Path:
    ap = Parser(description=__doc__)
    ap.add_argument("--data", type=Path, required=True, help="an INR dataset folder (experiments.fit_inrs)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args(argv)
    path = export_splits(args.data, args.out)
    print(f"wrote {path}")
    return path


def cli():
    """``nngraph-export``, the same as ``python -m nngraph.experiments.export_inrs``."""
    run(main)


if __name__ == "__main__":
    cli()
