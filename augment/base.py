"""The shape shared by every random weight-space augmentation: a draw (random numbers with a
leading batch dimension, independent per graph) kept apart from its application, so that one
code path serves a single `Data` (``B = 1``) and a whole one-spec `Batch`, and tests can replay a
draw exactly."""
from __future__ import annotations

import math
from typing import Union

import torch
from torch_geometric.data import Data
from torch_geometric.transforms import BaseTransform

from nngraph import NetworkSpec, num_graphs, spec_of
from nngraph.normalize import check_raw

Draw = Union[torch.Tensor, list[torch.Tensor]]  # one tensor, or one per hidden layer; leading dim B


class WeightSpaceTransform(BaseTransform):
    """Base class: ``forward(g) = apply(g, sample(g))``.

    Subclasses set ``activation`` when they only hold for one activation (function-preserving
    symmetries), and ``_args``, the names of the constructor arguments ``__repr__`` prints.
    """

    activation: str | None = None
    raw_weights = True  # acts on the network's own weights: refuses a normalised graph
    _args: tuple[str, ...] = ()

    def forward(self, data: Data) -> Data:
        return self.apply(data, self.sample(data))

    def sample(self, g: Data, generator: torch.Generator | None = None) -> Draw:
        """Random numbers for every graph of ``g`` (leading dim ``B``; ``B = 1`` for a `Data`)."""
        raise NotImplementedError

    def apply(self, g: Data, draw: Draw) -> Data:
        """A new graph (or batch) with ``draw`` applied; the input's tensors are left untouched."""
        raise NotImplementedError

    def check(self, g: Data) -> tuple[NetworkSpec, int]:
        """The graph's spec and number of graphs; ValueError on a spec this transform cannot take."""
        spec = spec_of(g)
        if self.raw_weights:
            check_raw(g, type(self).__name__)
        if self.activation is not None and spec.activation != self.activation:
            raise ValueError(f"{type(self).__name__}: expected a network with {self.activation} activations "
                             f"(the symmetry it uses holds only there), got {spec}")
        return spec, num_graphs(g)

    def __repr__(self) -> str:
        args = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._args)
        return f"{type(self).__name__}({args})"


# Random draws on the graph's device, or on the generator's when one is given ----------------------
def uniform(shape, low: float, high: float, like: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    dev = generator.device if generator is not None else like.device
    u = torch.rand(shape, generator=generator, device=dev, dtype=like.dtype)
    return (u * (high - low) + low).to(like.device)


def normal(shape, like: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    dev = generator.device if generator is not None else like.device
    return torch.randn(shape, generator=generator, device=dev, dtype=like.dtype).to(like.device)


def integers(low: int, high: int, shape, like: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Integers in ``[low, high]`` (both included)."""
    dev = generator.device if generator is not None else like.device
    return torch.randint(low, high + 1, shape, generator=generator, device=dev).to(like.device)


def check_draw(name: str, t: torch.Tensor, shape: tuple[int, ...]) -> None:
    if tuple(t.shape) != tuple(shape):
        raise ValueError(f"{name}: expected shape {tuple(shape)}, got {tuple(t.shape)}")


def check_layer_draws(name: str, draws, B: int, hidden: tuple[int, ...]) -> None:
    if len(draws) != len(hidden):
        raise ValueError(f"{name}: expected {len(hidden)} tensors (one per hidden layer), got {len(draws)}")
    for h, (d, n) in enumerate(zip(draws, hidden)):
        check_draw(f"{name}[{h}]", d, (B, n))


def check_number(name: str, value, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False) -> float:
    """A finite float within bounds, else a ValueError naming the argument."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
    if ok and low is not None:
        ok = value > low if low_open else value >= low
    if ok and high is not None:
        ok = value < high if high_open else value <= high
    if not ok:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low}"
        hi = "" if high is None else f"{'<' if high_open else '<='} {high}"
        raise ValueError(f"{name}: expected a finite number {' and '.join(s for s in (lo, hi) if s)}, got {value!r}")
    return float(value)
