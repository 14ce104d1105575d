"""Weight-space classifiers by name, for command lines and `WeightSpaceClassifier`: the library's
two, and any a user registers (``register("mine", factory)``; ``factory(spec, num_classes, **kwargs)``
returns a module that maps a one-spec graph batch to logits ``[B, num_classes]``)."""
from __future__ import annotations

from collections.abc import Callable

from torch import nn

from .dwsnet import DWSNet
from .relation_transformer import RelationTransformer

MODELS: dict[str, Callable[..., nn.Module]] = {"rt": RelationTransformer, "dws": DWSNet}


# The library's own, as shipped: a run whose plugins replace one of them says so in its identity.
BUILTIN = dict(MODELS)


def register(name: str, factory: Callable[..., nn.Module], replace: bool = False) -> None:
    """Make ``factory`` available as model ``name`` (``--model name`` once the module that registers it
    is imported, e.g. with ``--import``)."""
    if not isinstance(name, str) or not name.isidentifier():
        raise ValueError(f"name: expected an identifier such as 'my_model', got {name!r}")
    if not callable(factory):
        raise ValueError(f"factory: expected a callable (spec, num_classes, **kwargs) -> nn.Module, got {factory!r}")
    if name in MODELS and not replace:
        raise ValueError(f"name: model {name!r} is already registered; pass replace=True to replace it")
    MODELS[name] = factory
