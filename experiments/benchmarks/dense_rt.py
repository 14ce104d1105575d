"""The baseline of the model benchmark: a dense relation transformer in plain autograd, laid out as
the public neural-graphs NG-T is (every state ``[B, N, ...]`` or ``[B, N, N, ...]``, attention over all
node pairs, the edge update reading ``(e_ij, e_ji, x_i, x_j)``), at its sizes: node 64, edge 32,
attention 128 in 8 heads, node MLP 128, edge MLP 64, 4 layers, dropout 0.2, readout from the
output neurons. It is timed beside the library's models in the same run, so their ratio does not
depend on how loaded the machine is.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

import nngraph


class DenseLayer(nn.Module):
    def __init__(self, node_dim: int, edge_dim: int, attention_dim: int, heads: int, node_hidden: int,
                 edge_hidden: int, dropout: float):
        super().__init__()
        self.heads = heads
        self.node_qkv = nn.Linear(node_dim, 3 * attention_dim)
        self.edge_qkv = nn.Linear(edge_dim, 4 * attention_dim)  # Q_e, K_e, V_1 (gate), V_2
        self.out = nn.Linear(attention_dim, node_dim)
        self.node_mlp = nn.Sequential(nn.Linear(node_dim, node_hidden), nn.GELU(), nn.Linear(node_hidden, node_dim))
        self.edge_in = nn.Linear(2 * edge_dim + 2 * node_dim, edge_hidden)
        self.edge_out = nn.Linear(edge_hidden, edge_dim)
        self.edge_mlp = nn.Sequential(nn.Linear(edge_dim, edge_hidden), nn.GELU(), nn.Linear(edge_hidden, edge_dim))
        self.norms = nn.ModuleList([nn.LayerNorm(d) for d in
                                    (node_dim, node_dim, edge_dim, edge_dim)])
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor, e: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x [B, N, node_dim]``, ``e [B, N, N, edge_dim]`` (receiver, sender)."""
        B, N, _ = x.shape
        q_x, k_x, v_x = self.node_qkv(x).chunk(3, -1)
        q_e, k_e, gate, v_e = self.edge_qkv(e).chunk(4, -1)
        heads = lambda t: t.unflatten(-1, (self.heads, -1))  # noqa: E731
        q = heads(q_x.unsqueeze(2) + q_e)
        k = heads(k_x.unsqueeze(1) + k_e)
        v = heads(v_x.unsqueeze(1) * gate + v_e)
        attention = torch.softmax((q * k).sum(-1) / q_x.shape[-1] ** 0.5, dim=2)  # over senders
        attended = (attention.unsqueeze(-1) * v).sum(2).flatten(-2)
        x = self.norms[0](x + self.dropout(self.out(attended)))
        x = self.norms[1](x + self.dropout(self.node_mlp(x)))
        pair = torch.cat([e, e.transpose(1, 2), x.unsqueeze(2).expand(B, N, N, -1),
                          x.unsqueeze(1).expand(B, N, N, -1)], dim=-1)
        e = self.norms[2](e + self.dropout(self.edge_out(F.gelu(self.edge_in(pair)))))
        e = self.norms[3](e + self.dropout(self.edge_mlp(e)))
        return x, e


class DenseRelationTransformer(nn.Module):
    def __init__(self, spec: nngraph.NetworkSpec, num_classes: int, node_dim: int = 64, edge_dim: int = 32,
                 attention_dim: int = 128, heads: int = 8, node_hidden: int = 128, edge_hidden: int = 64,
                 num_layers: int = 4, dropout: float = 0.2):
        super().__init__()
        self.spec = spec
        N = spec.num_nodes
        self.node_in = nn.Linear(1, node_dim)
        self.position = nn.Parameter(torch.randn(N, node_dim) * 0.02)  # each neuron's own embedding
        self.edge_in = nn.Linear(1, edge_dim)
        self.no_edge = nn.Parameter(torch.zeros(edge_dim))
        self.layers = nn.ModuleList(DenseLayer(node_dim, edge_dim, attention_dim, heads, node_hidden, edge_hidden,
                                               dropout) for _ in range(num_layers))
        self.head = nn.Sequential(nn.Linear(spec.layer_sizes[-1] * node_dim, node_hidden), nn.GELU(),
                                  nn.Linear(node_hidden, num_classes))
        src, dst = spec.edge_index
        self.register_buffer("src", src, persistent=False)
        self.register_buffer("dst", dst, persistent=False)

    def forward(self, batch) -> torch.Tensor:
        spec, B, N = self.spec, nngraph.num_graphs(batch), self.spec.num_nodes
        x = self.node_in(batch.x.view(B, N, -1)[..., :1]) + self.position
        w = self.edge_in(batch.edge_attr.view(B, -1, batch.edge_attr.shape[-1])[..., :1])  # [B, E, edge_dim]
        e = self.no_edge.to(w.dtype).expand(B, N, N, -1).clone()  # w is bfloat16 under autocast
        e[:, self.dst, self.src] = w
        e[:, self.src, self.dst] = w
        for layer in self.layers:
            x, e = layer(x, e)
        return self.head(x[:, N - spec.layer_sizes[-1]:].flatten(1))
