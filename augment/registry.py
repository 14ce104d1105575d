"""Augmentations by name, for command lines: ``build("siren_negation+translate", num_classes=10)``."""
from __future__ import annotations

from collections.abc import Callable

from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform, Compose

from .dropout import Dropout, QuantileDropout
from .input_space import Rotate, Scale, Translate
from .mixup import Mixup
from .noise import GaussianNoise
from .permutation import RandomPermutation
from .symmetries import ReLUScale, SirenBias, SirenNegation


class Identity(BaseTransform):
    """Returns the graph unchanged (the ``"none"`` augmentation)."""

    def forward(self, data: Data) -> Data:
        return data


def _mixup(alignment: str) -> Callable[..., BaseTransform]:
    def make(num_classes, dataset):
        if num_classes is None:
            raise ValueError("num_classes: required by the mixup augmentations (soft labels), got None")
        return Mixup(dataset, alignment=alignment, num_classes=num_classes)
    return make


# name -> factory(num_classes, dataset), with the paper's defaults
AUGMENTATIONS: dict[str, Callable[..., BaseTransform]] = {
    "none": lambda num_classes, dataset: Identity(),
    "translate": lambda num_classes, dataset: Translate(),
    "rotate": lambda num_classes, dataset: Rotate(),
    "scale": lambda num_classes, dataset: Scale(),
    "noise": lambda num_classes, dataset: GaussianNoise(),
    "dropout": lambda num_classes, dataset: Dropout(),
    "quantile_dropout": lambda num_classes, dataset: QuantileDropout(),
    "siren_negation": lambda num_classes, dataset: SirenNegation(),
    "siren_bias": lambda num_classes, dataset: SirenBias(),
    "relu_scale": lambda num_classes, dataset: ReLUScale(),
    "permutation": lambda num_classes, dataset: RandomPermutation(),
    "mixup": _mixup("none"),
    "mixup_permutation": _mixup("permutation"),
    "mixup_weight_matching": _mixup("weight_matching"),
    "mixup_signed_weight_matching": _mixup("signed_weight_matching"),
}


def build(names: str, num_classes: int | None = None, dataset=None) -> BaseTransform:
    """The transform for ``names``: one name of `AUGMENTATIONS`, or several joined by ``"+"``, applied in
    the given order (``Compose``). Mixup names draw partners from ``dataset``, or within the batch
    when ``dataset`` is None (apply that form to Batches); they need ``num_classes``."""
    if not isinstance(names, str) or not names.strip():
        raise ValueError(f"names: expected augmentation names joined by '+', got {names!r}")
    parts = [n.strip() for n in names.split("+")]
    unknown = [n for n in parts if n not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"names: unknown augmentation(s) {unknown}; expected names among {sorted(AUGMENTATIONS)}, "
                         "joined by '+'")
    transforms = [AUGMENTATIONS[n](num_classes, dataset) for n in parts if n != "none"]
    if not transforms:
        return Identity()
    return transforms[0] if len(transforms) == 1 else Compose(transforms)
