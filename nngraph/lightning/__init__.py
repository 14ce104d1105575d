"""Training on INR datasets with Lightning: `WeightSpaceClassifier` (the LightningModule),
`INRDataModule` (the data, its augmentation and normalisation), `ContrastivePretrainer`
(self-supervised pre-training with two augmented views), the callbacks a resumable run needs
(`Stopwatch`, `RandomState`, `EpochLine`), atomic weights-only checkpoints (`AtomicCheckpointIO`,
`resume_point`) and loggers by name (`make_loggers`). Needs the ``train`` extra
(``pip install nngraph[train]``); the graph core does not.

    from lightning.pytorch.cli import LightningCLI
    from nngraph.lightning import INRDataModule, WeightSpaceClassifier, link_data_to_model

    class CLI(LightningCLI):
        def add_arguments_to_parser(self, parser):
            link_data_to_model(parser)

    CLI(WeightSpaceClassifier, INRDataModule)   # fit --data.data_dir DIR --data.augmentation mixup ...
"""
from importlib import import_module

from .loggers import LOGGERS, make_loggers

# Loaded on first use: a command's --help and argument checks need none of Lightning.
_WHERE = {"EpochLine": "callbacks", "RandomState": "callbacks", "Sessions": "callbacks", "Stopwatch": "callbacks",
          "AtomicCheckpointIO": "checkpoints", "loads": "checkpoints", "resume_point": "checkpoints",
          "DEFAULT_LR": "classifier", "DEFAULT_WARMUP": "classifier", "WeightSpaceClassifier": "classifier",
          "INRDataModule": "data", "ContrastivePretrainer": "contrastive", "nt_xent": "contrastive"}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(import_module(f".{_WHERE[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def link_data_to_model(parser) -> None:
    """Link an `INRDataModule`'s spec and class count to the `WeightSpaceClassifier`'s, for a
    ``LightningCLI`` (``add_arguments_to_parser``): both are read from the data's manifest."""
    parser.link_arguments("data.spec", "model.spec", apply_on="instantiate")
    parser.link_arguments("data.num_classes", "model.num_classes", apply_on="instantiate")


# What loads with the package; the names of `_WHERE` load from their submodules on first use (their
# reference pages: nngraph.lightning.classifier, .data, .contrastive, .callbacks, .checkpoints).
__all__ = ["LOGGERS", "make_loggers", "link_data_to_model"]
