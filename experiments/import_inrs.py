"""Import a public INR dataset (a ``splits.json`` of torch-saved SIREN state dicts: DWSNets' form with
labels in the JSON, which neural-graphs trains on too, or the list form with labels in the files)
into this library's shards, so that `train` and `table1` run on it.

    python -m experiments.import_inrs --splits data/mnist-inrs/splits.json --out runs/inrs/mnist-public

Files are read with ``torch.load(weights_only=True)``; paths from another machine are resolved
relative to the JSON's folder (`nngraph.datasets.public`). An export of this library carries
``inrs.json`` (spec, class names, view level), which import follows; without one it says what it assumed.
"""
from __future__ import annotations

from pathlib import Path

from nngraph.datasets.public import import_splits

from .cli import Parser, finite_float, positive_int, run


def main(argv=None) -> dict:
    ap = Parser(description=__doc__)
    ap.add_argument("--splits", type=Path, required=True, help="the dataset's splits.json")
    ap.add_argument("--out", type=Path, required=True, help="folder for the shards and manifest")
    ap.add_argument("--view-level", type=positive_int, default=None,
                    help="path component holding the view: 1 = the file's folder, 2 = the one above (default: as "
                         "inrs.json beside splits.json says, else one view per object)")
    ap.add_argument("--output-offset", type=finite_float, default=None,
                    help="constant the INRs add to their output (default: as inrs.json says, else 0.5)")
    ap.add_argument("--w0", type=finite_float, default=None, help="the sine's frequency (default: as inrs.json says, else 30)")
    ap.add_argument("--num-classes", type=positive_int, default=None, help="default: the largest label + 1")
    ap.add_argument("--statistics", type=Path, default=None,
                    help="DWSNets' statistics.pth to normalise with (default: computed from the training INRs)")
    ap.add_argument("--shard-size", type=positive_int, default=4096)
    args = ap.parse_args(argv)
    manifest = import_splits(args.splits, args.out, output_offset=args.output_offset, w0=args.w0,
                             num_classes=args.num_classes, view_level=args.view_level, shard_size=args.shard_size,
                             statistics=args.statistics)
    counts = ", ".join(f"{s} {sum(e['rows'] for e in manifest['shards'] if e['split'] == s)}" for s in manifest["views"])
    print(f"imported {args.splits} -> {args.out}: {counts} INRs of {manifest['spec']['layer_sizes']}, "
          f"views {manifest['views']}")
    return manifest


def cli():
    """``nngraph-import``, the same as ``python -m nngraph.experiments.import_inrs``."""
    run(main)


if __name__ == "__main__":
    cli()
