"""The directed edges a relation transformer passes messages along, shared by every graph of a spec,
and the sum that feeds its edge update."""
from __future__ import annotations

import torch
from torch import nn

import nngraph

from .float32 import apply_float32, float32_backward


class MessageGraph(nn.Module):
    """Directed edges ``senders[m] -> receivers[m]`` of one spec's graph (node ids ``0..N-1``).

    ``all_pairs=False``: the network's ``E`` edges forward then the same ``E`` reversed, so that
    edge ``m`` and its opposite are ``E`` apart. ``all_pairs=True``: every ordered pair of neurons
    (``N^2``, self pairs included), ``m = receiver * N + sender``, so that opposites are transposes.
    Values live on edges as ``[M, B, F]``.
    """

    def __init__(self, spec: nngraph.NetworkSpec, all_pairs: bool = False):
        super().__init__()
        N, E = spec.num_nodes, spec.num_edges
        src, dst = spec.edge_index
        if all_pairs:
            receivers, senders = torch.arange(N).repeat_interleave(N), torch.arange(N).repeat(N)
            network_edges = torch.cat([dst * N + src, src * N + dst])  # where the network's edges sit
        else:
            receivers, senders = torch.cat([dst, src]), torch.cat([src, dst])
            network_edges = None
        self.num_nodes, self.num_network_edges, self.all_pairs = N, E, all_pairs
        self.register_buffer("receivers", receivers, persistent=False)
        self.register_buffer("senders", senders, persistent=False)
        self.register_buffer("network_edges", network_edges, persistent=False)

    @property
    def num_directed_edges(self) -> int:
        return self.senders.numel()

    def edge_states(self, forward: torch.Tensor, backward: torch.Tensor, no_edge: torch.Tensor | None) -> torch.Tensor:
        """Initial edge states ``[M, B, d]`` from the states of the network's edges ``[E, B, d]`` in
        each direction (and, for all pairs, the state of pairs that are not edges, ``[d]``)."""
        states = torch.cat([forward, backward])
        if not self.all_pairs:
            return states
        M, (_, B, d) = self.num_directed_edges, forward.shape
        return no_edge.expand(M, B, d).index_copy(0, self.network_edges, states)

    def copy_reversed(self, out: torch.Tensor, values: torch.Tensor, add: bool = False) -> torch.Tensor:
        """``out[m] = values[opposite of m]`` (``+=`` if ``add``), in place, without a temporary."""
        op = torch.Tensor.add_ if add else torch.Tensor.copy_
        if self.all_pairs:
            N = self.num_nodes
            op(out.unflatten(0, (N, N)), values.unflatten(0, (N, N)).transpose(0, 1))
        else:
            E = self.num_network_edges
            op(out[:E], values[E:])
            op(out[E:], values[:E])
        return out

    def edge_input(self, pair: torch.Tensor, nodes: torch.Tensor) -> torch.Tensor:
        """``z_m = pair[m, :d] + pair[opposite of m, d:] + nodes[receiver, :d] + nodes[sender, d:]``.

        With ``pair = A e`` and ``nodes = C x``, this is a linear layer of ``(e_ij, e_ji, x_i, x_j)``.
        ``pair [M, B, 2d]``, ``nodes [N, B, 2d]`` -> ``[M, B, d]``."""
        return apply_float32(_EdgeInput, pair, nodes, self)


class _EdgeInput(torch.autograd.Function):
    """`MessageGraph.edge_input` with one edge-sized result and one edge-sized gradient (autograd
    would keep every gathered term and concatenate the two halves' gradients)."""

    @staticmethod
    def forward(ctx, pair, nodes, graph):
        d = pair.shape[-1] // 2
        z = nodes[..., :d].index_select(0, graph.receivers)
        z += pair[..., :d]
        graph.copy_reversed(z, pair[..., d:], add=True)
        z += nodes[..., d:].index_select(0, graph.senders)
        ctx.graph, ctx.num_nodes = graph, nodes.shape[0]
        return z

    @float32_backward
    def backward(ctx, grad):
        graph = ctx.graph
        M, B, d = grad.shape
        grad = grad.contiguous()
        grad_pair = grad.new_empty(M, B, 2 * d)
        grad_pair[..., :d] = grad
        graph.copy_reversed(grad_pair[..., d:], grad)
        at_receivers = grad.new_zeros(ctx.num_nodes, B, d).index_add_(0, graph.receivers, grad)
        at_senders = grad.new_zeros(ctx.num_nodes, B, d).index_add_(0, graph.senders, grad)
        return grad_pair, torch.cat([at_receivers, at_senders], dim=-1), None
