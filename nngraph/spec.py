"""`NetworkSpec`: the one description of an MLP's shape used everywhere in the library."""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import torch

ACTIVATIONS = ("sine", "relu", "tanh", "gelu", "silu")  # elementwise; sine is sin(w0 x)


# An edge per weight, with int64 indices and float features: 2**28 weights are about 6 GiB of edge
# structure for one graph; wider networks are an input mistake rather than a network to read.
MAX_WEIGHTS = 2 ** 28


@dataclass(frozen=True)
class NetworkSpec:
    """Layer sizes and activation of an MLP, e.g. ``NetworkSpec((2, 32, 32, 1))`` for a 2D SIREN.

    The activation follows every layer but the last; a sine layer computes ``sin(w0 * (W x + b))``
    (all layers share ``w0``, as in SIREN and the public INR datasets). ``output_offset`` is a
    constant added to the last layer's output (the public INR datasets' images use 0.5, so that
    their output biases hold only the deviation from mid-grey).
    """

    layer_sizes: tuple[int, ...]
    activation: str = "sine"
    w0: float = 30.0
    output_offset: float = 0.0

    def __post_init__(self):
        sizes = tuple(self.layer_sizes)
        if len(sizes) < 2:
            raise ValueError(f"layer_sizes: expected at least two layers (input and output), got {sizes}")
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in sizes):
            raise ValueError(f"layer_sizes: expected positive integers, got {sizes}")
        weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
        if weights > MAX_WEIGHTS:  # checked before any structure is allocated
            raise ValueError(f"layer_sizes: {'-'.join(map(str, sizes))} has {weights:,} weights, more than the "
                             f"{MAX_WEIGHTS:,} a graph of this library holds (an edge per weight)")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation: expected one of {ACTIVATIONS}, got {self.activation!r}")
        if not (isinstance(self.w0, (int, float)) and math.isfinite(self.w0) and self.w0 > 0):
            raise ValueError(f"w0: expected a positive finite number, got {self.w0!r}")
        if not (isinstance(self.output_offset, (int, float)) and math.isfinite(self.output_offset)):
            raise ValueError(f"output_offset: expected a finite number, got {self.output_offset!r}")
        object.__setattr__(self, "layer_sizes", sizes)
        object.__setattr__(self, "w0", float(self.w0))
        object.__setattr__(self, "output_offset", float(self.output_offset))

    def __repr__(self) -> str:
        sizes = "-".join(map(str, self.layer_sizes))
        w0 = f", w0={self.w0:g}" if self.activation == "sine" else ""
        offset = f", output_offset={self.output_offset:g}" if self.output_offset else ""
        return f"NetworkSpec({sizes}, {self.activation}{w0}{offset})"

    # Shapes -------------------------------------------------------------------------------------
    @property
    def num_layers(self) -> int:
        """Number of linear layers (weight matrices)."""
        return len(self.layer_sizes) - 1

    @property
    def weight_shapes(self) -> list[tuple[int, int]]:
        """Torch layout ``[out, in]`` of each weight matrix."""
        s = self.layer_sizes
        return [(s[i + 1], s[i]) for i in range(self.num_layers)]

    @property
    def hidden_sizes(self) -> tuple[int, ...]:
        return self.layer_sizes[1:-1]

    @property
    def num_nodes(self) -> int:
        return sum(self.layer_sizes)

    @property
    def num_edges(self) -> int:
        return sum(o * i for o, i in self.weight_shapes)

    @property
    def num_params(self) -> int:
        return self.num_edges + self.num_nodes - self.layer_sizes[0]

    @cached_property
    def node_offsets(self) -> tuple[int, ...]:
        """Index of the first node of each layer, plus the total."""
        out = [0]
        for n in self.layer_sizes:
            out.append(out[-1] + n)
        return tuple(out)

    @cached_property
    def edge_offsets(self) -> tuple[int, ...]:
        """Index of the first edge of each weight matrix, plus the total."""
        out = [0]
        for o, i in self.weight_shapes:
            out.append(out[-1] + o * i)
        return tuple(out)

    # Canonical structure shared by every graph of this spec (cached, never written into) ---------
    @cached_property
    def edge_index(self) -> torch.Tensor:
        """``[2, E]``: edge ``k`` of layer ``l`` is ``W_l[i, j]`` in row-major order, from node ``j``
        of layer ``l`` to node ``i`` of layer ``l + 1``."""
        parts = []
        off = self.node_offsets
        for l, (o, i) in enumerate(self.weight_shapes):
            dst = torch.arange(o).repeat_interleave(i) + off[l + 1]
            src = torch.arange(i).repeat(o) + off[l]
            parts.append(torch.stack([src, dst]))
        return torch.cat(parts, dim=1)

    @cached_property
    def node_layer(self) -> torch.Tensor:
        """``[N]``: layer index of each node, 0 for inputs, ``num_layers`` for outputs."""
        return torch.arange(len(self.layer_sizes)).repeat_interleave(torch.tensor(self.layer_sizes))

    @cached_property
    def edge_layer(self) -> torch.Tensor:
        """``[E]``: index of the weight matrix each edge belongs to."""
        sizes = torch.tensor([o * i for o, i in self.weight_shapes])
        return torch.arange(self.num_layers).repeat_interleave(sizes)

    @cached_property
    def node_role(self) -> torch.Tensor:
        """``[N]``: a position label that breaks no neuron symmetry: each input neuron and each output
        neuron has its own id, all neurons of one hidden layer share one id."""
        s = self.layer_sizes
        n_in, n_hidden = s[0], len(s) - 2
        parts = [torch.arange(n_in)]
        parts += [torch.full((n,), n_in + h) for h, n in enumerate(s[1:-1])]
        parts.append(torch.arange(s[-1]) + n_in + n_hidden)
        return torch.cat(parts)

    @property
    def num_roles(self) -> int:
        return self.layer_sizes[0] + len(self.layer_sizes) - 2 + self.layer_sizes[-1]

    def to_dict(self) -> dict:
        return {"layer_sizes": list(self.layer_sizes), "activation": self.activation, "w0": self.w0,
                "output_offset": self.output_offset}

    @classmethod
    def from_dict(cls, d: dict) -> "NetworkSpec":
        return cls(tuple(d["layer_sizes"]), d.get("activation", "sine"), d.get("w0", 30.0), d.get("output_offset", 0.0))
