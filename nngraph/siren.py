"""The INR itself: a SIREN (or ReLU) MLP as a module, and the same network evaluated for a whole
stack of parameter sets at once (used for fitting, rendering and tests)."""
from __future__ import annotations

import math

import torch
from torch import nn

from .spec import NetworkSpec


class SirenLayer(nn.Linear):
    """``act(W x + b)``; keeps ``weight``/``bias`` at the top level so state_dict keys read
    ``seq.0.weight`` like the public INR datasets."""

    def __init__(self, in_features: int, out_features: int, activation: str | None, w0: float):
        super().__init__(in_features, out_features)
        self.activation, self.w0 = activation, w0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return activate(super().forward(x), self.activation, self.w0)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, activation={self.activation}"


class Siren(nn.Module):
    """The MLP a `NetworkSpec` describes: ``net(coords[..., d_in]) -> values[..., d_out]`` (plus the
    spec's ``output_offset``).

    Sine specs are initialised by `init_params` with ``init`` (default: SIREN's, Sitzmann et al.,
    2020); ReLU specs keep PyTorch's.
    """

    def __init__(self, spec: NetworkSpec, generator: torch.Generator | None = None, init: str = "siren"):
        super().__init__()
        self.spec = spec
        layers = []
        for l, (o, i) in enumerate(spec.weight_shapes):
            act = spec.activation if l < spec.num_layers - 1 else None
            layers.append(SirenLayer(i, o, act, spec.w0))
        self.seq = nn.Sequential(*layers)
        if spec.activation == "sine":
            w, b = init_params(spec, 1, generator=generator, init=init)
            with torch.no_grad():
                for layer, wl, bl in zip(self.seq, w, b):
                    layer.weight.copy_(wl[0])
                    layer.bias.copy_(bl[0])

    def forward(self, coords: torch.Tensor) -> torch.Tensor:
        out = self.seq(coords)
        return out + self.spec.output_offset if self.spec.output_offset else out


_ELEMENTWISE = {"relu": torch.relu, "tanh": torch.tanh, "gelu": nn.functional.gelu, "silu": nn.functional.silu}


def activate(z: torch.Tensor, activation: str | None, w0: float) -> torch.Tensor:
    """One of `nngraph.spec.ACTIVATIONS` (None: the identity, after the last layer)."""
    if activation == "sine":
        return torch.sin(w0 * z)
    return z if activation is None else _ELEMENTWISE[activation](z)


# Initialisations of sine networks by name (`init_params`).
INITS = ("reference", "zero_bias", "siren")


def init_params(spec: NetworkSpec, batch_size: int, generator: torch.Generator | None = None,
                device=None, init: str = "siren") -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Fresh random parameters for ``batch_size`` networks: weights ``[B, out, in]``, biases ``[B, out]``.

    Sine specs, by ``init``:

    - ``"siren"`` (the SIREN paper): first layer ``U(-1/in, 1/in)``, later layers
      ``U(-sqrt(6/in)/w0, sqrt(6/in)/w0)``, every bias ``U(-1/sqrt(in), 1/sqrt(in))``;
    - ``"zero_bias"``: the same weights, the sine layers' biases zero;
    - ``"reference"`` (the public INR datasets' INRs): every sine layer, the first included,
      ``U(-sqrt(6/in)/w0, sqrt(6/in)/w0)`` with zero biases; the output layer ``nn.Linear``'s
      default, ``U(-1/sqrt(in), 1/sqrt(in))`` for weights and biases.

    With zero biases at the start, whatever a fitted bias holds is signal, not its random draw.
    All three draw the same uniforms, so with one generator seed they differ only as described.
    ReLU specs: PyTorch's ``nn.Linear`` default, whatever ``init``.
    """
    if init not in INITS:
        raise ValueError(f"init: expected one of {INITS}, got {init!r}")
    weights, biases = [], []
    sine, last = spec.activation == "sine", spec.num_layers - 1
    for l, (o, i) in enumerate(spec.weight_shapes):
        if not sine or init == "reference" and l == last:
            bound = 1.0 / math.sqrt(i)
        elif l == 0 and init != "reference":
            bound = 1.0 / i
        else:
            bound = math.sqrt(6.0 / i) / spec.w0
        u = torch.rand(batch_size, o, i + 1, generator=generator, device=device) * 2 - 1
        weights.append(u[..., :i] * bound)
        b = u[..., i] / math.sqrt(i)
        biases.append(torch.zeros_like(b) if sine and init != "siren" and l < last else b)
    return weights, biases


def forward_batched(spec: NetworkSpec, weights: list[torch.Tensor], biases: list[torch.Tensor],
                    coords: torch.Tensor) -> torch.Tensor:
    """Evaluate ``B`` networks at once: weights ``[B, out, in]``, biases ``[B, out]``, coords
    ``[P, d_in]`` (shared) or ``[B, P, d_in]``; returns ``[B, P, d_out]`` (with the spec's output offset)."""
    B = weights[0].shape[0]
    h = coords.expand(B, *coords.shape[-2:]) if coords.dim() == 2 else coords
    for l, (w, b) in enumerate(zip(weights, biases)):
        h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
        if l < spec.num_layers - 1:
            h = activate(h, spec.activation, spec.w0)
    return h + spec.output_offset if spec.output_offset else h
