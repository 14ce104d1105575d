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
    def make(num_classes, dataset, **options):
        if num_classes is None:
            raise ValueError("num_classes: required by the mixup augmentations (soft labels), got None")
        return Mixup(dataset, alignment=alignment, num_classes=num_classes, **options)
    return make


def _plain(cls: type[BaseTransform]) -> Callable[..., BaseTransform]:
    return lambda num_classes, dataset, **options: cls(**options)


# name -> factory(num_classes, dataset, **options), with the paper's defaults
AUGMENTATIONS: dict[str, Callable[..., BaseTransform]] = {
    "none": _plain(Identity),
    "translate": _plain(Translate),
    "rotate": _plain(Rotate),
    "scale": _plain(Scale),
    "noise": _plain(GaussianNoise),
    "dropout": _plain(Dropout),
    "quantile_dropout": _plain(QuantileDropout),
    "siren_negation": _plain(SirenNegation),
    "siren_bias": _plain(SirenBias),
    "relu_scale": _plain(ReLUScale),
    "permutation": _plain(RandomPermutation),
    "mixup": _mixup("none"),
    "mixup_permutation": _mixup("permutation"),
    "mixup_weight_matching": _mixup("weight_matching"),
    "mixup_signed_weight_matching": _mixup("signed_weight_matching"),
}


# The library's own, as shipped: a run whose plugins replace one of them says so in its identity.
BUILTIN = dict(AUGMENTATIONS)


def register(name: str, transform: type[BaseTransform] | Callable[..., BaseTransform], replace: bool = False) -> None:
    """Make an augmentation available by ``name`` to `build` and the command lines (``--augment name``,
    combined with ``+`` like the library's; ``--import`` the module that registers it). ``transform``:
    a transform class, built with the run's ``--augment-options`` for ``name`` as keyword arguments,
    or a factory ``(num_classes, dataset, **options) -> transform``."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name: expected an identifier such as 'my_flip' (no '+'), got {name!r}")
    if name in AUGMENTATIONS and not replace:
        raise ValueError(f"name: augmentation {name!r} is already registered; pass replace=True to replace it")
    if isinstance(transform, type):
        AUGMENTATIONS[name] = _plain(transform)
    elif callable(transform):
        AUGMENTATIONS[name] = transform
    else:
        raise ValueError(f"transform: expected a transform class or a factory, got {transform!r}")


def split_names(names: str) -> list[str]:
    """``"siren_negation + translate"`` -> ``["siren_negation", "translate"]``."""
    return [n.strip() for n in names.split("+")]


def build(names: str, num_classes: int | None = None, dataset=None, options: dict | None = None) -> BaseTransform:
    """The transform for ``names``: one name of `AUGMENTATIONS`, or several joined by ``"+"``, applied in
    the given order (``Compose``). Mixup names draw partners from ``dataset``, or within the batch
    when ``dataset`` is None (apply that form to Batches); they need ``num_classes``. ``options`` maps
    a name to keyword arguments of its transform, overriding the paper's defaults, e.g.
    ``{"noise": {"scale": 0.1}, "mixup": {"lam_range": (0.8, 1.0)}}``."""
    if not isinstance(names, str) or not names.strip():
        raise ValueError(f"names: expected augmentation names joined by '+', got {names!r}")
    parts = split_names(names)
    unknown = [n for n in parts if n not in AUGMENTATIONS]
    if unknown:
        raise ValueError(f"names: unknown augmentation(s) {unknown}; expected names among {sorted(AUGMENTATIONS)}, "
                         "joined by '+'")
    options = dict(options or {})
    stray = sorted(set(options) - set(parts))
    if stray:
        raise ValueError(f"options: given for {stray}, which are not among the augmentations {parts}")
    transforms = []
    for name in parts:
        if name == "none":
            continue
        kwargs = options.get(name, {})
        if not isinstance(kwargs, dict):
            raise ValueError(f"options[{name!r}]: expected a dict of keyword arguments, got {kwargs!r}")
        try:
            transforms.append(AUGMENTATIONS[name](num_classes, dataset, **kwargs))
        except TypeError as e:  # an unknown keyword: name the augmentation it was meant for
            if not kwargs:
                raise
            raise ValueError(f"options[{name!r}]: {e}") from None
    if not transforms:
        return Identity()
    return transforms[0] if len(transforms) == 1 else Compose(transforms)
