"""Weight Matching (Ainsworth et al., 2022, "Git Re-Basin"): permute the hidden neurons of network
``b`` so that its weights come close to network ``a`` without changing what ``b`` computes.

Coordinate descent over the hidden layers in random order: for layer ``h`` (the others held fixed)
the best permutation maximises ``<a, p . b>`` restricted to the weights touching layer ``h``, a
linear assignment on the similarity of neurons built from incoming weights, bias and outgoing
weights. Sweeps repeat until one improves nothing: a coordinate-wise optimum, possibly a local one
(on layers of a few neurons even a planted permutation is not always found; on INR-sized layers
it is).

All pairs of a batch run together: similarities are batched torch products (on the graphs'
device); only the assignment itself runs per pair and layer in
``scipy.optimize.linear_sum_assignment``, and not even that when each row's best column already
forms a permutation (then it is the optimum).

The signed variant also lets a neuron be negated (a symmetry of odd activations such as sine):
the assignment maximises ``|similarity|`` and each matched neuron takes the sign of its similarity.
"""
from __future__ import annotations

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch_geometric.data import Data

from nngraph import NetworkSpec, flat_params, layer_views, num_graphs, permute, spec_of, to_batch, to_graph

_RTOL = 1e-10  # an assignment must beat the current one by more than rounding to count as progress


def match_neurons(weights_a: list[torch.Tensor], biases_a: list[torch.Tensor],
                  weights_b: list[torch.Tensor], biases_b: list[torch.Tensor], signed: bool = False,
                  max_iter: int = 100, generator: torch.Generator | None = None
                  ) -> tuple[list[torch.Tensor], list[torch.Tensor] | None]:
    """Permutations (and signs when ``signed``) aligning each network ``b`` to network ``a``.

    Layers are ``[B, out, in]`` weights and ``[B, out]`` biases (``a`` may have ``B = 1``, shared by all
    pairs). Returns ``perms`` ``[B, n_h]`` per hidden layer, in `nngraph.permute`'s convention (new
    neuron ``i`` is old neuron ``perms[h][:, i]``), and ``signs`` ``[B, n_h]`` (+-1) or ``None``.
    ``generator`` (CPU) draws the order in which layers are visited (one order per sweep, shared by
    the pairs of a batch).
    """
    if not isinstance(max_iter, int) or max_iter < 1:
        raise ValueError(f"max_iter: expected a positive integer, got {max_iter!r}")
    B, device, dtype = weights_b[0].shape[0], weights_b[0].device, weights_b[0].dtype
    if weights_a[0].shape[0] not in (1, B):
        raise ValueError(f"weights_a: expected 1 or {B} networks (one per network b), got {weights_a[0].shape[0]}")
    wa = [w.to(device, dtype).expand(B, -1, -1) for w in weights_a]
    ba = [b.to(device, dtype).expand(B, -1) for b in biases_a]
    hidden = [w.shape[1] for w in weights_b[:-1]]
    H = len(hidden)
    perms = [np.tile(np.arange(n), (B, 1)) for n in hidden]
    signs = [np.ones((B, n)) for n in hidden]
    # A layer's similarity depends only on its neighbours' alignment: until one of them changes, a
    # new assignment for it would find nothing better, so only such "stale" layers are solved. A
    # pair with none left has gone through a sweep that improves nothing: it has converged.
    stale = np.ones((H, B), dtype=bool)
    for _ in range(max_iter):
        if not stale.any():
            break
        for h in torch.randperm(H, generator=generator).tolist():
            idx = np.flatnonzero(stale[h])
            if len(idx) == 0:
                continue
            sim = _similarity(h, idx, wa, ba, weights_b, biases_b, perms, signs if signed else None)
            better, cols, col_signs = _assign(sim, perms[h][idx], signs[h][idx], signed)
            stale[h, idx] = False
            changed = idx[better]
            perms[h][changed], signs[h][changed] = cols[better], col_signs[better]
            for neighbour in (h - 1, h + 1):
                if 0 <= neighbour < H:
                    stale[neighbour, changed] = True
    out_perms = [torch.from_numpy(p).to(device) for p in perms]
    out_signs = [torch.from_numpy(s).to(device, dtype) for s in signs] if signed else None
    return out_perms, out_signs


def _similarity(h: int, idx: np.ndarray, wa, ba, wb, bb, perms, signs) -> np.ndarray:
    """``sim[k, i, j]``: inner product of neuron ``i`` of ``a`` with neuron ``j`` of ``b`` (pair
    ``idx[k]``) over incoming weights, bias and outgoing weights, with ``b``'s neighbouring layers
    already permuted (and signed) by their current alignment. Float64 numpy ``[k, n_h, n_h]``."""
    H = len(perms)
    sel = torch.from_numpy(idx).to(wb[0].device)
    w_in, b_mid, w_out = wb[h][sel], bb[h][sel], wb[h + 1][sel]
    if h > 0:  # columns of the incoming weights are the previous hidden layer's neurons
        p = torch.from_numpy(perms[h - 1][idx]).to(w_in.device)
        w_in = w_in.gather(2, p.unsqueeze(1).expand_as(w_in))
        if signs is not None:
            w_in = w_in * torch.from_numpy(signs[h - 1][idx]).to(w_in).unsqueeze(1)
    if h + 1 < H:  # rows of the outgoing weights are the next hidden layer's neurons
        p = torch.from_numpy(perms[h + 1][idx]).to(w_out.device)
        w_out = w_out.gather(1, p.unsqueeze(2).expand_as(w_out))
        if signs is not None:
            w_out = w_out * torch.from_numpy(signs[h + 1][idx]).to(w_out).unsqueeze(2)
    sim = (torch.bmm(wa[h][sel], w_in.transpose(1, 2)) + ba[h][sel].unsqueeze(2) * b_mid.unsqueeze(1)
           + torch.bmm(wa[h + 1][sel].transpose(1, 2), w_out))
    return sim.detach().to("cpu", torch.float64).numpy()


def _assign(sim: np.ndarray, cur: np.ndarray, cur_signs: np.ndarray, signed: bool):
    """Best assignment per pair; which pairs it strictly improves, and its columns and signs."""
    score = np.abs(sim) if signed else sim
    old = (np.take_along_axis(sim, cur[:, :, None], 2)[..., 0] * cur_signs).sum(1)
    cols = score.argmax(2)
    n = sim.shape[1]
    # where each row's best column is distinct, that assignment is optimal: skip the solver
    for k in np.flatnonzero(~(np.sort(cols, axis=1) == np.arange(n)).all(1)):
        cols[k] = linear_sum_assignment(score[k], maximize=True)[1]
    picked = np.take_along_axis(sim, cols[:, :, None], 2)[..., 0]
    new_signs = np.where(picked < 0, -1.0, 1.0) if signed else np.ones_like(picked)
    new = (picked * new_signs).sum(1)
    return new > old + _RTOL * np.abs(new), cols, new_signs


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
                    generator: torch.Generator | None = None) -> Data:
    """``g_b`` with its hidden neurons permuted (and, if ``signed``, negated) to come close to ``g_a``;
    it computes the same function as ``g_b``.

    Both may be Batches of one spec: graph ``i`` of ``g_b`` is aligned to graph ``i`` of ``g_a`` (or to
    ``g_a`` itself when it is a single graph). ``signed=True`` (sine networks only) also matches over
    neuron negations. See `match_neurons`.
    """
    _check_pair(g_a, g_b, signed)
    wa, ba = layer_views(g_a)
    wb, bb = layer_views(g_b)
    perms, signs = match_neurons(wa, ba, wb, bb, signed, max_iter, generator)
    return permute(g_b, perms, signs)


def align_to_reference(params: torch.Tensor, spec: NetworkSpec, reference: torch.Tensor, signed: bool = False,
                       max_iter: int = 100, chunk_size: int = 1024) -> torch.Tensor:
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
    out = [flat_params(weight_matching(ref, to_batch(chunk, spec), signed, max_iter))
           for chunk in params.split(chunk_size)]
    return torch.cat(out) if out else params.clone()
