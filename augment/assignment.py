"""Linear assignment for a batch of square problems at once, on the problems' device.

``linear_assignment(score)`` solves ``B`` problems ``[B, n, n]`` together: the shortest augmenting
path method (Jonker-Volgenant, in the form of Crouse 2016 that ``scipy.optimize.linear_sum_assignment``
uses) run in lockstep. Rows are added one at a time, the same row in every problem; each step of
the Dijkstra search and of the augmentation is a handful of tensor operations over the whole batch,
problems that have finished a row waiting masked. It is exact: the assignment reaches the optimum
(up to the rounding of the dual updates), like scipy's.

A column reduction first makes every column's cheapest row tight (``v_j = min_i c_ij``) and gives
each row the cheapest column it is the only claimant of, so most rows start assigned and the
search runs only for the rest (the rows still free are handled in order of index, up to the most
any problem has). On CUDA with Triton, `augment.assignment_triton` runs the same method one problem per
program instead, a whole batch in one launch.
"""
from __future__ import annotations

import torch

from . import assignment_triton


def linear_assignment(score: torch.Tensor, maximize: bool = False) -> torch.Tensor:
    """``cols [B, n]``: row ``i`` of problem ``b`` takes column ``cols[b, i]`` in an assignment of
    least (``maximize``: greatest) total ``score[b, i, cols[b, i]]``. ``score``: ``[B, n, n]`` finite,
    floating point; computed in float64 on ``score``'s device."""
    if score.dim() != 3 or score.shape[1] != score.shape[2]:
        raise ValueError(f"score: expected square problems [B, n, n], got shape {tuple(score.shape)}")
    if not score.is_floating_point():
        raise ValueError(f"score: expected a floating-point tensor, got {score.dtype}")
    if not torch.isfinite(score).all():
        raise ValueError("score: expected finite entries, got inf or nan")
    B, n, _ = score.shape
    if B == 0 or n == 0:
        return torch.zeros(B, n, dtype=torch.long, device=score.device)
    cost = (-score if maximize else score).to(torch.float64)
    cost = cost - cost.amin(dim=(1, 2), keepdim=True)  # a shift per problem: same optimum, tidier duals
    if cost.is_cuda and assignment_triton.available() and n <= assignment_triton.MAX_N:
        try:
            return assignment_triton.solve(cost.contiguous())
        except Exception as error:  # noqa: BLE001 - a kernel that cannot run here must not stop training
            assignment_triton.disable(error)
    u, v, col4row, row4col = _column_reduction(cost)
    free = col4row < 0
    # the k-th free row of each problem, k = 0, 1, ...: rows in index order, -1 where none is left
    order = torch.where(free, torch.arange(n, device=cost.device), n).sort(1).values
    for k in range(int(free.sum(1).max())):
        row = order[:, k]
        todo = row < n
        _augment(cost, u, v, col4row, row4col, row.clamp(max=n - 1), todo)
    return col4row


def _column_reduction(cost: torch.Tensor):
    """Feasible duals (``u = 0``, ``v_j = min_i c_ij``) and a partial assignment on tight entries:
    each row that is the cheapest of some columns takes the cheapest of those columns."""
    B, n, _ = cost.shape
    v, best_row = cost.min(1)  # [B, n]: per column
    # row i's candidate columns: those whose cheapest row is i; keep its cheapest candidate
    claims = torch.where(best_row.unsqueeze(1) == torch.arange(n, device=cost.device).view(1, n, 1), cost, torch.inf)
    value, col = claims.min(2)  # [B, n]: per row
    has = torch.isfinite(value)
    col4row = torch.where(has, col, -1)
    row4col = torch.full_like(col4row, -1)
    b, i = has.nonzero(as_tuple=True)
    row4col[b, col[b, i]] = i
    return torch.zeros_like(v), v, col4row, row4col


def _augment(cost, u, v, col4row, row4col, cur_row, todo):
    """Assign ``cur_row`` ``[B]`` (where ``todo``) along a shortest augmenting path, updating the
    duals and the assignment in place. A problem whose search has ended keeps stepping, harmlessly:
    its popped columns (``SC``), their distances and predecessors no longer change."""
    B, n, _ = cost.shape
    rows = cost.reshape(B * n, n)
    base = torch.arange(B, device=cost.device) * n
    shortest = torch.full((B, n), torch.inf, dtype=cost.dtype, device=cost.device)
    path = torch.zeros(B, n, dtype=torch.long, device=cost.device)
    SC = torch.zeros(B, n, dtype=torch.bool, device=cost.device)
    i, sink = cur_row.clone(), torch.zeros_like(cur_row)
    min_val = torch.zeros(B, dtype=cost.dtype, device=cost.device)
    active = todo.clone()
    while bool(active.any()):
        reduced = rows.index_select(0, base + i) - v + (min_val - u.view(-1).index_select(0, base + i)).unsqueeze(1)
        better = (reduced < shortest) & ~SC
        path = torch.where(better, i.unsqueeze(1), path)
        shortest = torch.where(better, reduced, shortest)
        value, j = shortest.masked_fill(SC, torch.inf).min(1)
        j = torch.where(active, j, sink)
        min_val = torch.where(active, value, min_val)
        SC.scatter_(1, j.unsqueeze(1), True)
        owner = row4col.gather(1, j.unsqueeze(1)).squeeze(1)
        sink = torch.where(active, j, sink)
        i = torch.where(owner >= 0, owner, i)
        active &= owner >= 0
    # duals: the tree's columns, and the rows that own them, move by how far short of the sink they were
    SC &= todo.unsqueeze(1)
    owner = row4col.clamp(min=0)
    short = torch.where(SC, min_val.unsqueeze(1) - shortest, 0.0)
    u.scatter_add_(1, owner, torch.where(row4col >= 0, short, 0.0))
    u.scatter_add_(1, cur_row.unsqueeze(1), torch.where(todo, min_val, 0.0).unsqueeze(1))
    v -= short
    # flip the path from the sink back to cur_row
    j, active = sink, todo.clone()
    while bool(active.any()):
        i = path.gather(1, j.unsqueeze(1))
        row4col.scatter_(1, j.unsqueeze(1), torch.where(active.unsqueeze(1), i, row4col.gather(1, j.unsqueeze(1))))
        previous = col4row.gather(1, i)
        col4row.scatter_(1, i, torch.where(active.unsqueeze(1), j.unsqueeze(1), previous))
        i = i.squeeze(1)
        active &= i != cur_row
        j = torch.where(active, previous.squeeze(1), j)
