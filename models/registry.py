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


def build_checked(name: str, spec, num_classes: int, **kwargs) -> nn.Module:
    """``MODELS[name](spec, num_classes, **kwargs)``, after building it on the meta device (no memory)
    to check that its parameters fit in this machine's memory: a wide input layer (DWSNet's
    layer-to-layer maps grow with the product of the widths) is refused in one line naming the size
    and the largest piece, not a failed allocation of tens of gigabytes."""
    import os
    import torch
    factory = MODELS[name]
    try:  # a copy of the spec: its cached structure tensors would otherwise be made on the meta device
        with torch.device("meta"):
            probe = factory(type(spec).from_dict(spec.to_dict()), num_classes, **kwargs)
    except Exception:  # a factory that cannot build on the meta device is built as it is
        probe = None
    if isinstance(probe, nn.Module):
        count = sum(p.numel() for p in probe.parameters())
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        if 4 * count > memory:
            sizes = {n: sum(p.numel() for p in m.parameters(recurse=False)) for n, m in probe.named_modules()}
            big = max(sizes, key=sizes.get)
            raise ValueError(f"model: {name} on {spec} with {kwargs or 'its defaults'} would hold {count:,} parameters "
                             f"({4 * count / 2**30:,.0f} GiB in float32; this machine has {memory / 2**30:,.0f}), "
                             f"{sizes[big]:,} of them in {big or 'the model itself'}: choose a smaller model or network")
    return factory(spec, num_classes, **kwargs)
