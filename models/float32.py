"""The models' hand-written autograd functions compute in float32, under autocast too."""
from __future__ import annotations

import functools

import torch


def apply_float32(function: type[torch.autograd.Function], *args):
    """``function.apply(*args)``; under autocast, with autocast off and floating-point tensors in float32."""
    device = next(a for a in args if isinstance(a, torch.Tensor)).device.type
    if not torch.is_autocast_enabled(device):
        return function.apply(*args)
    with torch.autocast(device, enabled=False):
        return function.apply(*(a.float() if isinstance(a, torch.Tensor) and a.is_floating_point() else a
                                for a in args))


def float32_backward(backward):
    """Decorates an autograd function's ``backward``: it runs with autocast off, as its forward did."""
    @functools.wraps(backward)
    def run(ctx, *grads):
        with torch.autocast(grads[0].device.type, enabled=False):
            return backward(ctx, *grads)
    return staticmethod(run)
