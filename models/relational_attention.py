"""Relational attention over a list of directed edges, as one autograd function.

For receiver ``i``, sender ``j``, edge ``m = (j -> i)`` with state ``e_m`` and, per head,

    q_m = q_i + Q e_m,   k_m = k_j + K e_m,   v_m = v_j * (V_1 e_m) + V_2 e_m,
    out_i = sum over the edges m into i of softmax(scale * q_m . k_m) v_m,

with ``scale = 1/sqrt(d_head)`` by default.

Written out by hand because the edge-sized tensors are the whole cost: autograd would keep the
projections of the edge states, ``q_m``, ``k_m``, ``v_m`` and the messages for the backward pass
and allocate as many gradients. Here the forward pass keeps only the attention weights
``[M, B, heads]``, the backward pass recomputes the rest in four reused buffers, and each edge
projection is added in place by a matmul (``addmm_``) rather than materialised. States are
node-major (``[N, B, F]``, ``[M, B, F]``), so gathers and scatters move contiguous ``B * F`` rows.
"""
from __future__ import annotations

import torch

from .float32 import apply_float32, float32_backward


def segment_softmax(logits: torch.Tensor, index: torch.Tensor, num_segments: int) -> torch.Tensor:
    """Softmax of ``logits [M, ...]`` over the entries that share ``index[m]`` (in place where it can:
    for use without autograd)."""
    M = logits.shape[0]
    flat = logits.reshape(M, -1)
    # Shift by each segment's maximum for stability; the shift cancels out of the result.
    top = flat.new_full((num_segments, flat.shape[1]), float("-inf"))
    top.scatter_reduce_(0, index.unsqueeze(1).expand_as(flat), flat, "amax")
    ex = (flat - top.index_select(0, index)).exp_()
    total = flat.new_zeros(num_segments, flat.shape[1]).index_add_(0, index, ex)
    return ex.div_(total.index_select(0, index)).view_as(logits)


def _add_projection(out: torch.Tensor, e: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """``out += e @ weight.T`` in place, for ``out [M, B, d]``, ``e [M, B, c]``, ``weight [d, c]``."""
    out.view(-1, out.shape[-1]).addmm_(e.view(-1, e.shape[-1]), weight.t())
    return out


class _RelationalAttention(torch.autograd.Function):
    @staticmethod
    def forward(ctx, node_qkv, e, edge_weight, receivers, senders, num_heads: int, scale: float):
        N, B, _ = node_qkv.shape
        M = e.shape[0]
        da = edge_weight.shape[0] // 4
        shape = (M, B, num_heads, da // num_heads)
        q_node, k_node, v_node = node_qkv.split(da, dim=-1)
        w_q, w_k, w_gate, w_v = edge_weight.split(da)
        q = _add_projection(q_node.index_select(0, receivers), e, w_q)
        k = _add_projection(k_node.index_select(0, senders), e, w_k)
        logits = q.mul_(k).view(shape).sum(-1).mul_(scale)
        attention = segment_softmax(logits, receivers, N)
        v = torch.index_select(v_node, 0, senders, out=k)
        v.view(-1, da).mul_(torch.mm(e.view(-1, e.shape[-1]), w_gate.t(), out=q.view(-1, da)))
        _add_projection(v, e, w_v).view(shape).mul_(attention.unsqueeze(-1))
        out = v.new_zeros(N, B, da).index_add_(0, receivers, v)
        ctx.save_for_backward(node_qkv, e, edge_weight, attention, receivers, senders)
        ctx.scale = scale
        return out

    @float32_backward
    def backward(ctx, grad_out):
        node_qkv, e, edge_weight, attention, receivers, senders = ctx.saved_tensors
        N, B, _ = node_qkv.shape
        M, c = e.shape[0], e.shape[-1]
        da, H = edge_weight.shape[0] // 4, attention.shape[-1]
        shape = (M, B, H, da // H)
        q_node, k_node, v_node = node_qkv.split(da, dim=-1)
        w_q, w_k, w_gate, w_v = edge_weight.split(da)
        e2 = e.view(-1, c)
        grad_out = grad_out.contiguous()
        grad_weight = torch.empty_like(edge_weight)
        gw_q, gw_k, gw_gate, gw_v = grad_weight.split(da)

        def flat(t):
            return t.view(-1, da)

        # Values: v = v_j * gate + V_2 e, messages = attention * v.
        g_msg = grad_out.index_select(0, receivers)                               # buffer a
        gate = torch.mm(e2, w_gate.t()).view(M, B, da)                          # buffer b
        v_sender = v_node.index_select(0, senders)                               # buffer c
        v = _add_projection(v_sender * gate, e, w_v)                             # buffer d
        g_attention = v.mul_(g_msg).view(shape).sum(-1)
        g_v = torch.mul(g_msg.view(shape), attention.unsqueeze(-1), out=v.view(shape)).view(M, B, da)
        torch.mm(flat(g_v).t(), e2, out=gw_v)
        grad_e = torch.mm(flat(g_v), w_v).view(M, B, c)
        g_gate = torch.mul(g_v, v_sender, out=g_msg)
        torch.mm(flat(g_gate).t(), e2, out=gw_gate)
        _add_projection(grad_e, g_gate, w_gate.t())
        g_v_sender = torch.mul(g_v, gate, out=v_sender)
        g_v_node = grad_out.new_zeros(N, B, da).index_add_(0, senders, g_v_sender)

        # Softmax, then the logits scale * q . k.
        weighted = attention * g_attention
        total = weighted.new_zeros(N, B, H).index_add_(0, receivers, weighted)
        g_logits = (g_attention - total.index_select(0, receivers)).mul_(attention).mul_(ctx.scale)
        q = _add_projection(torch.index_select(q_node, 0, receivers, out=g_msg), e, w_q)
        k = _add_projection(torch.index_select(k_node, 0, senders, out=gate), e, w_k)
        g_q = k.view(shape).mul_(g_logits.unsqueeze(-1)).view(M, B, da)  # dq = dlogits * k, in k's buffer
        g_k = q.view(shape).mul_(g_logits.unsqueeze(-1)).view(M, B, da)
        torch.mm(flat(g_q).t(), e2, out=gw_q)
        torch.mm(flat(g_k).t(), e2, out=gw_k)
        _add_projection(grad_e, g_q, w_q.t())
        _add_projection(grad_e, g_k, w_k.t())
        g_q_node = grad_out.new_zeros(N, B, da).index_add_(0, receivers, g_q)
        g_k_node = grad_out.new_zeros(N, B, da).index_add_(0, senders, g_k)
        grad_node = torch.cat([g_q_node, g_k_node, g_v_node], dim=-1)
        return grad_node, grad_e, grad_weight, None, None, None, None


def relational_attention(node_qkv: torch.Tensor, e: torch.Tensor, edge_weight: torch.Tensor,
                         receivers: torch.Tensor, senders: torch.Tensor, num_heads: int,
                         scale: float | None = None) -> torch.Tensor:
    """Multi-head relational attention along directed edges ``senders[m] -> receivers[m]``.

    Args:
        node_qkv: ``[N, B, 3 d]``, the node terms of queries, keys and values (``W_q x``, ``W_k x``, ``W_v x``).
        e: ``[M, B, c]``, edge states.
        edge_weight: ``[4 d, c]``, the edge projections ``Q``, ``K``, ``V_1``, ``V_2`` stacked.
        receivers, senders: ``[M]`` node indices; every node must receive at least one edge.
        num_heads: attention heads; ``d`` must be a multiple of it.
        scale: the factor of the logits ``q . k`` (default ``1/sqrt(d / num_heads)``).

    Returns ``[N, B, d]``: each node's attention-weighted sum of the values of its incoming edges.
    """
    d = edge_weight.shape[0] // 4
    if node_qkv.dim() != 3 or e.dim() != 3 or edge_weight.dim() != 2 or e.shape[1] != node_qkv.shape[1] \
            or node_qkv.shape[-1] != 3 * d or edge_weight.shape != (4 * d, e.shape[-1]) or d % num_heads:
        raise ValueError(f"expected node_qkv [N, B, 3d], e [M, B, c] and edge_weight [4d, c] with d a multiple "
                         f"of num_heads={num_heads}, got {tuple(node_qkv.shape)}, {tuple(e.shape)} and "
                         f"{tuple(edge_weight.shape)}")
    if receivers.shape != (e.shape[0],) or senders.shape != (e.shape[0],):
        raise ValueError(f"receivers, senders: expected shape ({e.shape[0]},), got {tuple(receivers.shape)} "
                         f"and {tuple(senders.shape)}")
    scale = (d // num_heads) ** -0.5 if scale is None else float(scale)
    return apply_float32(_RelationalAttention, node_qkv, e.contiguous(), edge_weight, receivers, senders, num_heads,
                         scale)
