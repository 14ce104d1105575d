"""Weight-space mixup (paper, Section 4): interpolate a network with a partner, optionally aligned
first, and mix their labels the same way."""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch_geometric.data import Batch, Data
from torch_geometric.transforms import BaseTransform

from nngraph.normalize import check_raw
from nngraph import collate, flat_params, num_graphs, permute, spec_of, with_flat_params

from .base import uniform
from .permutation import RandomPermutation
from .weight_matching import check_solver, weight_matching

ALIGNMENTS = ("none", "permutation", "weight_matching", "signed_weight_matching")


class Mixup(BaseTransform):
    r"""Mixes each network with a random partner: parameters
    :math:`\lambda \theta_1 + (1 - \lambda) \theta_2` and soft label
    :math:`\lambda\, \mathrm{onehot}(y_1) + (1 - \lambda)\, \mathrm{onehot}(y_2)`, with
    :math:`\lambda \sim U(0, 1)` per sample (or over ``lam_range``). The label becomes a float
    ``[1, C]`` for a `Data`, ``[B, C]`` for a `Batch`; an incoming soft label ``[., C]`` (an earlier
    mixup) is mixed as is.

    Partners come from ``dataset`` (drawn uniformly, one per sample; items are graphs of the same
    spec with an integer ``y``), or, with ``dataset=None``, from the batch itself: the batch-level,
    fully vectorised form, for a `Batch` only (e.g. after the loader, on the GPU), where a random
    cyclic pairing gives every graph a partner other than itself.

    The partner is first aligned to the sample according to ``alignment``:

    - ``"none"``: interpolate as is;
    - ``"permutation"``: a random hidden-neuron permutation of the partner (more diversity);
    - ``"weight_matching"``: `weight_matching` of the partner to the sample;
    - ``"signed_weight_matching"``: the same over signed permutations (sine networks only).

    To pay for alignment once instead of per sample, align the dataset to a common reference with
    `align_to_reference` and use ``alignment="none"``.

    Args:
        dataset (sequence of Data, optional): where partners come from; pass the dataset without
            this transform (a partner drawn while this transform runs is not mixed again).
        alignment (str): one of ``"none"``, ``"permutation"``, ``"weight_matching"``,
            ``"signed_weight_matching"`` (default ``"none"``).
        num_classes (int): number of classes ``C`` of the soft labels.
        max_iter (int): sweep limit of weight matching (default ``100``).
        solver (str): weight matching's assignment solver, ``"auto"``, ``"scipy"`` or ``"batched"``
            (default ``"auto"``: batched on a GPU with Triton; see `match_neurons`).
        lam_range (tuple of float): the interval ``(a, b)`` within ``[0, 1]`` that :math:`\lambda`
            is drawn from (default ``(0.0, 1.0)``); ``(0.8, 1.0)`` keeps each sample dominant.
    """

    def __init__(self, dataset=None, alignment: str = "none", num_classes: int | None = None, max_iter: int = 100,
                 lam_range: tuple[float, float] = (0.0, 1.0), solver: str = "auto"):
        if alignment not in ALIGNMENTS:
            raise ValueError(f"alignment: expected one of {ALIGNMENTS}, got {alignment!r}")
        check_solver(solver)
        if not isinstance(num_classes, int) or isinstance(num_classes, bool) or num_classes < 1:
            raise ValueError(f"num_classes: expected a positive integer, got {num_classes!r}")
        if dataset is not None and len(dataset) == 0:
            raise ValueError("dataset: expected at least one graph to draw partners from, got an empty dataset")
        self.dataset, self.alignment, self.num_classes, self.max_iter = dataset, alignment, num_classes, max_iter
        self.lam_range, self.solver = _interval(lam_range), solver
        self._drawing = False

    def __repr__(self) -> str:
        source = "batch" if self.dataset is None else f"{type(self.dataset).__name__}[{len(self.dataset)}]"
        return (f"{type(self).__name__}(partners={source}, alignment={self.alignment!r}, "
                f"num_classes={self.num_classes}, max_iter={self.max_iter}, lam_range={self.lam_range}, "
                f"solver={self.solver!r})")

    def forward(self, data: Data) -> Data:
        if self._drawing:  # the dataset applies this transform to the partner being drawn
            return data
        partner = self.partners(data)
        partner = self.align(data, partner)
        lam = uniform((num_graphs(data),), *self.lam_range, data.x)
        return self.mix(data, partner, lam)

    def partners(self, g: Data) -> Data:
        """One random partner per graph of ``g`` (a graph, or a batch of the same size), with ``y``."""
        B = num_graphs(g)
        if self.dataset is None:
            if not isinstance(g, Batch):
                raise ValueError("Mixup(dataset=None) mixes graphs within a batch: expected a Batch, got a single "
                                 "graph; pass a dataset to draw partners from")
            if getattr(g, "y", None) is None:
                raise ValueError("Mixup: expected graphs with labels y, got none")
            order = torch.randperm(B, device=g.x.device)
            idx = torch.empty_like(order)
            idx[order] = order.roll(1)  # a random cycle: graph order[i] takes order[i - 1]
            partner = with_flat_params(g, flat_params(g)[idx])
            partner.y = g.y[idx]
            return partner
        picks = torch.randint(len(self.dataset), (B,)).tolist()
        self._drawing = True
        try:
            graphs = [self.dataset[i] for i in picks]
        finally:
            self._drawing = False
        if any(getattr(p, "y", None) is None for p in graphs):
            raise ValueError("dataset: expected graphs with labels y, got one without")
        partner = copy.copy(graphs[0]) if not isinstance(g, Batch) else collate(graphs)
        return partner.to(g.x.device)  # PyG's .to moves in place: never the dataset's own item

    def align(self, g: Data, partner: Data) -> Data:
        """``partner`` prepared for interpolation with ``g`` according to ``self.alignment``."""
        if self.alignment == "permutation":
            return permute(partner, RandomPermutation().sample(partner))
        if self.alignment == "signed_weight_matching":  # sign flips do not commute with a mean shift
            check_raw(g, "Mixup(alignment='signed_weight_matching')")
        if self.alignment in ("weight_matching", "signed_weight_matching"):
            return weight_matching(g, partner, signed=self.alignment == "signed_weight_matching", max_iter=self.max_iter,
                                   solver=self.solver)
        return partner

    def mix(self, g: Data, partner: Data, lam: torch.Tensor) -> Data:
        """``lam * g + (1 - lam) * partner`` in parameters and soft labels; ``lam`` ``[B]``."""
        spec, B = spec_of(g), num_graphs(g)
        if spec_of(partner) != spec or num_graphs(partner) != B:
            raise ValueError(f"partner: expected {B} graph(s) of {spec}, got {num_graphs(partner)} of {spec_of(partner)}")
        if tuple(lam.shape) != (B,):
            raise ValueError(f"lam: expected shape ({B},), got {tuple(lam.shape)}")
        a, b = flat_params(g), flat_params(partner)
        lam = lam.to(a).unsqueeze(1)
        out = with_flat_params(g, lam * a + (1 - lam) * b)
        ya, yb = self._soft_labels(g, "data", B, a), self._soft_labels(partner, "partner", B, a)
        out.y = lam * ya + (1 - lam) * yb
        return out

    def _soft_labels(self, g: Data, name: str, B: int, like: torch.Tensor) -> torch.Tensor:
        y, C = getattr(g, "y", None), self.num_classes
        if y is None:
            raise ValueError(f"{name}: expected labels y, got none")
        y = y.to(like.device)
        if y.is_floating_point() and y.dim() == 2 and tuple(y.shape) == (B, C):
            return y.to(like.dtype)
        if y.is_floating_point() or y.numel() != B:
            raise ValueError(f"{name}.y: expected {B} integer label(s) or soft labels [{B}, {C}], "
                             f"got {y.dtype} of shape {tuple(y.shape)}")
        y = y.reshape(B).long()
        if ((y < 0) | (y >= C)).any():
            raise ValueError(f"{name}.y: expected class indices in [0, {C}), got {y.tolist()}")
        return F.one_hot(y, C).to(like.dtype)


def _interval(lam_range) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in lam_range)
    except (TypeError, ValueError):
        raise ValueError(f"lam_range: expected two numbers (low, high), got {lam_range!r}") from None
    if not 0.0 <= low <= high <= 1.0:
        raise ValueError(f"lam_range: expected 0 <= low <= high <= 1, got {lam_range!r}")
    return low, high
