"""Linear assignment on the GPU, one problem per Triton program (optional).

The tensor program of `augment.assignment` runs its problems in lockstep, a few kernel launches per
step of each search, several hundred steps per batch: on a GPU that is launch latency, not work.
Here each program solves one ``n x n`` problem with the same method (column reduction, then a
shortest augmenting path for each row left free), its duals, assignment and search state held in
registers as vectors of ``BLOCK >= n`` lanes, so a whole batch is one launch.

Used by `augment.linear_assignment` on CUDA when Triton is installed and ``n <= MAX_N``.
"""
from __future__ import annotations

import warnings

import torch

try:
    import triton
    import triton.language as tl
except ImportError:  # Triton is optional: CPU installs and other GPUs use the tensor program
    triton = None

MAX_N = 128  # lanes per program; wider layers use the tensor program
_failure: str | None = None  # why the kernel could not run here, once it could not


def available() -> bool:
    return triton is not None and _failure is None


def disable(error: Exception) -> None:
    """Stop using the kernel in this process, saying why once (e.g. a Triton that cannot compile it
    for this GPU): callers fall back to the tensor program or scipy."""
    global _failure
    lines = str(error).strip().splitlines()
    _failure = f"{type(error).__name__}: {lines[0] if lines else ''}"
    warnings.warn(f"augment.assignment_triton: the kernel failed ({_failure}); solving without it", RuntimeWarning,
                  stacklevel=3)


def solve(cost: torch.Tensor) -> torch.Tensor:
    """``cols [B, n]`` (int64) minimising ``cost [B, n, n]`` (float64, contiguous) per problem."""
    B, n, _ = cost.shape
    col4row = torch.empty(B, n, dtype=torch.int32, device=cost.device)
    block = max(16, triton.next_power_of_2(n))
    _lap[(B,)](cost, col4row, n, BLOCK=block, num_warps=1 if block <= 32 else 2)
    return col4row.long()


if triton is not None:

    @triton.jit
    def _lap(cost_ptr, out_ptr, n, BLOCK: tl.constexpr):
        b = tl.program_id(0).to(tl.int64)
        base = cost_ptr + b * n * n
        lane = tl.arange(0, BLOCK)
        valid = lane < n
        inf = float("inf")
        # column reduction: v_j = min_i c_ij, and each row takes the cheapest column it is the
        # cheapest row of (u = 0 keeps every reduced cost non-negative, assigned entries tight)
        v = tl.full([BLOCK], inf, tl.float64)
        best_row = tl.full([BLOCK], -1, tl.int32)
        for r in range(n):
            c = tl.load(base + r * n + lane, mask=valid, other=inf)
            take = c < v
            v = tl.where(take, c, v)
            best_row = tl.where(take, r, best_row)
        v = tl.where(valid, v, 0.0)
        u = tl.zeros([BLOCK], tl.float64)
        col4row = tl.full([BLOCK], -1, tl.int32)
        row4col = tl.full([BLOCK], -1, tl.int32)
        for r in range(n):
            c = tl.load(base + r * n + lane, mask=valid, other=inf)
            claimed = tl.where((best_row == r) & valid, c, inf)
            j = tl.argmin(claimed, 0).to(tl.int32)
            if tl.min(claimed, 0) < inf:
                col4row = tl.where(lane == r, j, col4row)
                row4col = tl.where(lane == j, r, row4col)
        for cur in range(n):
            if tl.sum(tl.where(lane == cur, col4row, 0), 0) < 0:
                # Dijkstra over reduced costs from row cur until a free column (the sink) is popped
                shortest = tl.full([BLOCK], inf, tl.float64)
                path = tl.zeros([BLOCK], tl.int32)
                popped = ~valid  # SC: columns out of the search (padding lanes from the start)
                in_tree = lane < 0  # SR minus cur: rows reached through a popped column
                reached = tl.zeros([BLOCK], tl.float64)  # each such row's distance when reached
                i = cur
                min_val = tl.sum(tl.zeros([BLOCK], tl.float64), 0)
                sink = -1
                while sink < 0:
                    c = tl.load(base + i * n + lane, mask=valid, other=inf)
                    ui = tl.sum(tl.where(lane == i, u, 0.0), 0)
                    reduced = min_val + c - ui - v
                    better = (reduced < shortest) & ~popped
                    path = tl.where(better, i, path)
                    shortest = tl.where(better, reduced, shortest)
                    open_cost = tl.where(popped, inf, shortest)
                    j = tl.argmin(open_cost, 0).to(tl.int32)
                    min_val = tl.min(open_cost, 0)
                    popped = popped | (lane == j)
                    owner = tl.sum(tl.where(lane == j, row4col, 0), 0)
                    if owner < 0:
                        sink = j
                    else:
                        in_tree = in_tree | (lane == owner)
                        reached = tl.where(lane == owner, min_val, reached)
                        i = owner
                # duals: the tree moves by how far short of the sink each part was
                u = tl.where(in_tree, u + min_val - reached, u)
                u = tl.where(lane == cur, u + min_val, u)
                v = tl.where(popped & valid, v - (min_val - shortest), v)
                # flip the path from the sink back to cur
                j = sink
                i = -1
                while i != cur:
                    i = tl.sum(tl.where(lane == j, path, 0), 0)
                    row4col = tl.where(lane == j, i, row4col)
                    previous = tl.sum(tl.where(lane == i, col4row, 0), 0)
                    col4row = tl.where(lane == i, j, col4row)
                    j = previous
        tl.store(out_ptr + b * n + lane, col4row, mask=valid)
