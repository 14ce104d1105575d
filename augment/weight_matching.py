"""Weight Matching (Ainsworth et al., 2022, "Git Re-Basin"): permute the hidden neurons of network
``b`` so that its weights come close to network ``a`` without changing what ``b`` computes.

Coordinate descent over the hidden layers in random order: for layer ``h`` (the others held fixed)
the best permutation maximises ``<a, p . b>`` restricted to the weights touching layer ``h``, a
linear assignment on the similarity of neurons built from incoming weights, bias and outgoing
weights. Sweeps repeat until one improves nothing: a coordinate-wise optimum, possibly a local one
(on layers of a few neurons even a planted permutation is not always found; on INR-sized layers
it is).

All pairs of a batch run together: similarities are batched torch products on the graphs' device,
and the assignments of all pairs for one layer are solved together by `augment.linear_assignment`
on that device (by default on a GPU with Triton), or one by one by
``scipy.optimize.linear_sum_assignment`` (by default elsewhere: on a CPU scipy's compiled solver is
about 10x the lockstep tensor program); neither runs where each row's best column already forms a
permutation (then it is the optimum).

The signed variant also lets a neuron be negated (a symmetry of odd activations such as sine):
the assignment maximises ``|similarity|`` and each matched neuron takes the sign of its similarity.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch_geometric.data import Data

from nngraph import NetworkSpec, flat_params, layer_views, num_graphs, permute, spec_of, to_batch, to_graph

from . import assignment_triton
from .assignment import linear_assignment

_RTOL = 1e-10  # an assignment must beat the current one by more than rounding to count as progress


SOLVERS = ("auto", "scipy", "batched")


def check_solver(solver) -> None:
    if solver not in SOLVERS:
        raise ValueError(f"solver: expected one of {', '.join(SOLVERS)}, got {solver!r}")


def match_neurons(weights_a: list[torch.Tensor], biases_a: list[torch.Tensor],
                  weights_b: list[torch.Tensor], biases_b: list[torch.Tensor], signed: bool = False,
                  max_iter: int = 100, generator: torch.Generator | None = None, solver: str = "auto"
                  ) -> tuple[list[torch.Tensor], list[torch.Tensor] | None]:
    """Permutations (and signs when ``signed``) aligning each network ``b`` to network ``a``.

    Layers are ``[B, out, in]`` weights and ``[B, out]`` biases (``a`` may have ``B = 1``, shared by all
    pairs). Returns ``perms`` ``[B, n_h]`` per hidden layer, in `nngraph.permute`'s convention (new
    neuron ``i`` is old neuron ``perms[h][:, i]``), and ``signs`` ``[B, n_h]`` (+-1) or ``None``.
    ``generator`` (CPU) draws the order in which layers are visited (one order per sweep, shared by
    the pairs of a batch). ``solver``: ``"scipy"`` (one problem at a time on the CPU), ``"batched"``
    (`augment.linear_assignment`, all pairs' problems at once on their device) or ``"auto"`` (batched
    on a GPU with Triton and layers of at most 128 neurons, one kernel launch per layer visit;
    otherwise scipy, which beats the lockstep tensor program wherever kernel launches or operator
    calls cost microseconds); both find optimal assignments.
    """
    if not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter: expected a positive integer, got {max_iter!r}")
    check_solver(solver)
    B, device, dtype = weights_b[0].shape[0], weights_b[0].device, weights_b[0].dtype
    if weights_a[0].shape[0] not in (1, B):
        raise ValueError(f"weights_a: expected 1 or {B} networks (one per network b), got {weights_a[0].shape[0]}")
    wa = [w.to(device, dtype).expand(B, -1, -1) for w in weights_a]
    ba = [b.to(device, dtype).expand(B, -1) for b in biases_a]
    hidden = [w.shape[1] for w in weights_b[:-1]]
    batched = solver == "batched" or (solver == "auto" and device.type == "cuda" and assignment_triton.available()
                                      and max(hidden, default=0) <= assignment_triton.MAX_N)
    H = len(hidden)
    perms = [torch.arange(n, device=device).expand(B, n).clone() for n in hidden]
    signs = [torch.ones(B, n, device=device, dtype=torch.float64) for n in hidden]
    # A layer's similarity depends only on its neighbours' alignment: until one of them changes, a
    # new assignment for it would find nothing better, so only such "stale" layers are solved. A
    # pair with none left has gone through a sweep that improves nothing: it has converged.
    stale = torch.ones(H, B, dtype=torch.bool, device=device)
    for _ in range(max_iter):
        if not bool(stale.any()):
            break
        for h in torch.randperm(H, generator=generator).tolist():
            idx = stale[h].nonzero().squeeze(1)
            if len(idx) == 0:
                continue
            sim = _similarity(h, idx, wa, ba, weights_b, biases_b, perms, signs if signed else None)
            better, cols, col_signs = _assign(sim, perms[h][idx], signs[h][idx], signed, batched)
            stale[h, idx] = False
            changed = idx[better]
            perms[h][changed], signs[h][changed] = cols[better], col_signs[better]
            for neighbour in (h - 1, h + 1):
                if 0 <= neighbour < H:
                    stale[neighbour, changed] = True
    return perms, [s.to(dtype) for s in signs] if signed else None


def _similarity(h: int, idx: torch.Tensor, wa, ba, wb, bb, perms, signs) -> torch.Tensor:
    """``sim[k, i, j]``: inner product of neuron ``i`` of ``a`` with neuron ``j`` of ``b`` (pair
    ``idx[k]``) over incoming weights, bias and outgoing weights, with ``b``'s neighbouring layers
    already permuted (and signed) by their current alignment. Float64 ``[k, n_h, n_h]``."""
    H = len(perms)
    w_in, b_mid, w_out = wb[h][idx], bb[h][idx], wb[h + 1][idx]
    if h > 0:  # columns of the incoming weights are the previous hidden layer's neurons
        w_in = w_in.gather(2, perms[h - 1][idx].unsqueeze(1).expand_as(w_in))
        if signs is not None:
            w_in = w_in * signs[h - 1][idx].to(w_in).unsqueeze(1)
    if h + 1 < H:  # rows of the outgoing weights are the next hidden layer's neurons
        w_out = w_out.gather(1, perms[h + 1][idx].unsqueeze(2).expand_as(w_out))
        if signs is not None:
            w_out = w_out * signs[h + 1][idx].to(w_out).unsqueeze(2)
    sim = (torch.bmm(wa[h][idx], w_in.transpose(1, 2)) + ba[h][idx].unsqueeze(2) * b_mid.unsqueeze(1)
           + torch.bmm(wa[h + 1][idx].transpose(1, 2), w_out))
    return sim.detach().to(torch.float64)


def _assign(sim: torch.Tensor, cur: torch.Tensor, cur_signs: torch.Tensor, signed: bool, batched: bool):
    """Best assignment per pair; which pairs it strictly improves, and its columns and signs."""
    score = sim.abs() if signed else sim
    old = (sim.gather(2, cur.unsqueeze(2)).squeeze(2) * cur_signs).sum(1)
    cols = score.argmax(2)
    n = sim.shape[1]
    # where each row's best column is distinct, that assignment is optimal: skip the solver
    hard = (cols.sort(1).values != torch.arange(n, device=cols.device)).any(1).nonzero().squeeze(1)
    if len(hard) and batched:
        cols[hard] = linear_assignment(score[hard], maximize=True)
    elif len(hard):
        hard_score = score[hard].cpu().numpy()
        cols[hard] = torch.from_numpy(np.stack([linear_sum_assignment(s, maximize=True)[1] for s in hard_score])
                                      ).to(cols.device)
    picked = sim.gather(2, cols.unsqueeze(2)).squeeze(2)
    new_signs = torch.where(picked < 0, -1.0, 1.0).to(sim) if signed else torch.ones_like(picked)
    new = (picked * new_signs).sum(1)
    return new > old + _RTOL * new.abs(), cols, new_signs


def _check_pair(g_a: Data, g_b: Data, signed: bool) -> NetworkSpec:
    spec_a, spec_b = spec_of(g_a), spec_of(g_b)
    if spec_a != spec_b:
        raise ValueError(f"g_b: expected networks of g_a's spec {spec_a}, got {spec_b}")
    if signed and spec_b.activation != "sine":
        raise ValueError(f"signed: neuron negation preserves the function only for odd activations (sine), got {spec_b}")
    Ba, Bb = num_graphs(g_a), num_graphs(g_b)
    if Ba not in (1, Bb):
        raise ValueError(f"g_a: expected 1 graph or as many as g_b ({Bb}), got {Ba}")
    return spec_b


def weight_matching(g_a: Data, g_b: Data, signed: bool = False, max_iter: int = 100,
                    generator: torch.Generator | None = None, solver: str = "auto") -> Data:
    """``g_b`` with its hidden neurons permuted (and, if ``signed``, negated) to come close to ``g_a``;
    it computes the same function as ``g_b``.

    Both may be Batches of one spec: graph ``i`` of ``g_b`` is aligned to graph ``i`` of ``g_a`` (or to
    ``g_a`` itself when it is a single graph). ``signed=True`` (sine networks only) also matches over
    neuron negations. See `match_neurons` (and its ``solver``).
    """
    _check_pair(g_a, g_b, signed)
    wa, ba = layer_views(g_a)
    wb, bb = layer_views(g_b)
    perms, signs = match_neurons(wa, ba, wb, bb, signed, max_iter, generator, solver)
    return permute(g_b, perms, signs)


def align_to_reference(params: torch.Tensor, spec: NetworkSpec, reference: torch.Tensor, signed: bool = False,
                       max_iter: int = 100, chunk_size: int = 1024, solver: str = "auto") -> torch.Tensor:
    """Align a whole dataset once: each row of ``params`` ``[n, P]`` weight-matched to ``reference``
    ``[P]`` (e.g. ``params[0]``), returned as ``[n, P]``. Networks aligned to one reference are
    (approximately) aligned to each other, so mixup afterwards needs only the interpolation."""
    if params.dim() != 2 or params.shape[1] != spec.num_params:
        raise ValueError(f"params: expected [n, {spec.num_params}] for {spec}, got shape {tuple(params.shape)}")
    if reference.reshape(-1).shape[0] != spec.num_params:
        raise ValueError(f"reference: expected [{spec.num_params}] for {spec}, got shape {tuple(reference.shape)}")
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size: expected a positive integer, got {chunk_size!r}")
    ref = to_graph(reference.reshape(-1).to(params), spec)
    out = [flat_params(weight_matching(ref, to_batch(chunk, spec), signed, max_iter, solver=solver))
           for chunk in params.split(chunk_size)]
    return torch.cat(out) if out else params.clone()
