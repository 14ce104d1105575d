"""Reading a user's own torch module as an MLP: its Linear layers and activations in the order they
run, whatever the module calls them.

Accepted: `nngraph.Siren`; ``nn.Linear``; ``nn.ReLU``, ``nn.Tanh``, ``nn.GELU``, ``nn.SiLU``; any
module with a ``w0`` or ``omega_0`` attribute as a sine ``sin(w0 x)`` (alone, or wrapping one Linear
as in the SIREN paper's ``SineLayer``); ``nn.Dropout`` and ``nn.Identity`` (skipped: identities at
evaluation); nested ``nn.Sequential`` and other containers, in registration order. The reading is
then checked: the module and the network read from it must compute the same function on random
inputs, so a module that does something else in its ``forward`` is refused, not misread.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from .siren import Siren, SirenLayer, forward_batched
from .spec import NetworkSpec

ACTIVATION_MODULES = {nn.ReLU: "relu", nn.Tanh: "tanh", nn.GELU: "gelu", nn.SiLU: "silu"}
SKIPPED = (nn.Dropout, nn.Identity)


def _frequency(module: nn.Module) -> float | None:
    for name in ("w0", "omega_0"):
        value = getattr(module, name, None)
        if isinstance(value, (int, float, torch.Tensor)) and not isinstance(value, bool):
            return float(value)
    return None


def layers(module: nn.Module, prefix: str = "") -> list[tuple]:
    """The module's steps in order: ``("linear", name, nn.Linear)`` and ``("act", name, activation, w0)``."""
    if isinstance(module, SirenLayer):  # nngraph's own: a Linear and its activation in one module
        return [("linear", prefix, module)] + ([("act", prefix, module.activation, module.w0)] if module.activation else [])
    if isinstance(module, nn.Linear):
        return [("linear", prefix, module)]
    if isinstance(module, SKIPPED):
        return []
    for cls, name in ACTIVATION_MODULES.items():
        if isinstance(module, cls):
            if cls is nn.GELU and module.approximate != "none":
                raise ValueError(f"module {prefix or type(module).__name__}: GELU(approximate={module.approximate!r}) "
                                 "is not an activation NetworkSpec names; use GELU()")
            return [("act", prefix, name, 30.0)]
    children = list(module.named_children())
    w0 = _frequency(module)
    if w0 is not None and not children and not list(module.parameters(recurse=False)):
        return [("act", prefix, "sine", w0)]  # a Sine module
    if w0 is not None and len(children) == 1 and isinstance(children[0][1], nn.Linear):
        name, linear = children[0]  # a SineLayer: sin(w0 * linear(x))
        return [("linear", _join(prefix, name), linear), ("act", prefix, "sine", w0)]
    if children and not list(module.parameters(recurse=False)):
        return [step for name, child in children for step in layers(child, _join(prefix, name))]
    raise ValueError(f"module {prefix or type(module).__name__}: cannot read a {type(module).__name__} as part of an "
                     "MLP (expected Linear layers, activations, Dropout, Identity and nested Sequentials); convert "
                     "its state_dict instead: nngraph.to_graph(state_dict, spec=nngraph.NetworkSpec(...))")


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def read_module(module: nn.Module, spec: NetworkSpec | None = None):
    """``(weights, biases, spec, linear_names)`` of an MLP module, checked to compute the module's function.

    ``spec``: the spec to read it as (its sizes and activation must match); by default one from the
    module, with the module's constant output shift as ``output_offset`` if it has one.
    """
    if isinstance(module, Siren):
        spec = module.spec if spec is None else spec
    steps = layers(module)
    linears = [s for s in steps if s[0] == "linear"]
    acts = [s for s in steps if s[0] == "act"]
    if not linears:
        raise ValueError(f"module: {type(module).__name__} holds no Linear layer")
    order = [s[0] for s in steps]
    if order != ["linear", "act"] * (len(linears) - 1) + ["linear"]:
        raise ValueError(f"module: expected Linear layers with one activation between consecutive ones and none "
                         f"after the last, got {' -> '.join(order)}")
    kinds = {(a[2], a[3] if a[2] == "sine" else None) for a in acts}
    if len(kinds) > 1:
        raise ValueError(f"module: expected one activation throughout, got {sorted(map(str, kinds))}")
    for _, name, linear in linears:
        if linear.bias is None:
            raise ValueError(f"module {name}: Linear without bias is not supported")
    weights = [l.weight.detach() for _, _, l in linears]
    biases = [l.bias.detach() for _, _, l in linears]
    sizes = (weights[0].shape[1],) + tuple(w.shape[0] for w in weights)
    activation, w0 = next(iter(kinds)) if kinds else ("sine", 30.0)
    read = NetworkSpec(sizes, activation, w0 or 30.0)
    if spec is not None:
        if tuple(spec.layer_sizes) != sizes:
            raise ValueError(f"spec: {spec} does not match the module's layer sizes {sizes}")
        if acts and (spec.activation != activation or activation == "sine" and not math.isclose(spec.w0, w0)):
            raise ValueError(f"spec: {spec}, but the module computes {read}")
        read = spec
    return weights, biases, _checked(module, weights, biases, read, fixed=spec is not None), [n for _, n, _ in linears]


def _checked(module: nn.Module, weights, biases, spec: NetworkSpec, fixed: bool) -> NetworkSpec:
    """``spec``, after checking on random inputs that the network it reads computes the module's
    function (or differs by a constant, which becomes the output offset unless ``fixed``)."""
    x = torch.rand(256, spec.layer_sizes[0], generator=torch.Generator().manual_seed(0)) * 2 - 1
    x = x.to(weights[0].device, weights[0].dtype)
    was_training = module.training
    module.eval()
    try:
        with torch.no_grad():
            theirs = module(x)
            ours = forward_batched(spec, [w.unsqueeze(0) for w in weights], [b.unsqueeze(0) for b in biases], x)[0]
    except Exception as e:  # its forward takes other inputs: the reading cannot be checked
        raise ValueError(f"module: could not run {type(module).__name__} on inputs [n, {spec.layer_sizes[0]}] to check "
                         f"the reading ({type(e).__name__}: {e}); convert its state_dict with spec=...") from None
    finally:
        module.train(was_training)
    if not isinstance(theirs, torch.Tensor) or theirs.shape != ours.shape:
        raise ValueError(f"module: its output is not a [n, {spec.layer_sizes[-1]}] tensor; convert its state_dict "
                         "with spec=...")
    diff = theirs - ours
    scale = 1e-4 * (1 + theirs.abs().max().item())
    if diff.abs().max().item() <= scale:
        return spec
    shift = diff.mean().item()
    if not fixed and (diff - shift).abs().max().item() <= scale:
        return NetworkSpec(spec.layer_sizes, spec.activation, spec.w0, round(spec.output_offset + shift, 6))
    raise ValueError(f"module: read as {spec}, but {type(module).__name__} computes another function (differs by "
                     f"{diff.abs().max().item():.3g} on random inputs); convert its state_dict with spec=...")
