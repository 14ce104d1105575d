"""Relation Transformer over neural graphs (Zhang et al., 2023; Kofinas, Zhang et al., 2024, NG-T).

Neurons are nodes (state from the bias), weights are edges (state from the weight), and attention
reads both: node ``i`` attends to its neighbours ``j`` with

    q_ij = W_q x_i + Q_e e_ij,   k_ij = W_k x_j + K_e e_ij,   v_ij = (W_v x_j) * V_1 e_ij + V_2 e_ij,

after which nodes and edges are updated by residual MLPs. Messages flow along every edge in both
directions: edge ``j -> i`` of the network and its reverse ``i -> j`` carry the same weight, and
each keeps its own state (``e_ji`` is the reverse direction's state).

Layout: every graph of a batch has one spec, so states are stored node-major, ``[N, B, dim]`` for
nodes and ``[M, B, dim]`` for directed edges; gathers and scatters then index the spec's own
``[2, E]`` edge index once for the whole batch and move contiguous ``B * dim`` rows.
"""
from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F
from torch_geometric.data import Data

import nngraph

from .encoding import FourierFeatures, check_batch
from .message_graph import MessageGraph
from .relational_attention import relational_attention

ATTENTION = ("edges", "all")
READOUT = ("output", "roles")
ATTENTION_SCALE = ("total", "head")


# One layer ------------------------------------------------------------------------------------
class RelationTransformerLayer(nn.Module):
    """Relational attention, node update and (optionally) edge update, each residual + LayerNorm.

    The edge MLP's first layer reads ``(e_ij, e_ji, x_i, x_j)`` as a sum of four projections (see
    `MessageGraph.edge_input`); the ``e_ji`` term moves the projection of ``e`` to the opposite
    edges, which equals projecting the moved states.
    """

    def __init__(self, node_dim: int, edge_dim: int, attention_dim: int, num_heads: int, node_hidden: int,
                 edge_hidden: int, dropout: float = 0.0, update_edges: bool = True, logit_scale: float | None = None):
        super().__init__()
        self.num_heads, self.update_edges, self.logit_scale = num_heads, update_edges, logit_scale
        self.node_qkv = nn.Linear(node_dim, 3 * attention_dim, bias=False)
        self.edge_qkv = nn.Linear(edge_dim, 4 * attention_dim, bias=False)  # Q_e, K_e, V_1, V_2
        self.attention_out = nn.Linear(attention_dim, node_dim)
        self.node_norm1 = nn.LayerNorm(node_dim)
        self.node_mlp = nn.Sequential(nn.Linear(node_dim, node_hidden), nn.GELU(), nn.Linear(node_hidden, node_dim))
        self.node_norm2 = nn.LayerNorm(node_dim)
        self.dropout = nn.Dropout(dropout)
        if update_edges:
            self.edge_pair = nn.Linear(edge_dim, 2 * edge_hidden, bias=False)  # reads e_ij, and e_ji once moved
            self.node_to_edge = nn.Linear(node_dim, 2 * edge_hidden)  # receiver and sender terms
            self.edge_out = nn.Linear(edge_hidden, edge_dim)
            self.edge_norm1 = nn.LayerNorm(edge_dim)
            self.edge_mlp = nn.Sequential(nn.Linear(edge_dim, edge_hidden), nn.GELU(), nn.Linear(edge_hidden, edge_dim))
            self.edge_norm2 = nn.LayerNorm(edge_dim)

    def forward(self, h: torch.Tensor, e: torch.Tensor, graph: MessageGraph) -> tuple[torch.Tensor, torch.Tensor]:
        """``h [N, B, node_dim]``, ``e [M, B, edge_dim]``."""
        attended = relational_attention(self.node_qkv(h), e, self.edge_qkv.weight, graph.receivers, graph.senders,
                                        self.num_heads, self.logit_scale)
        h = self.node_norm1(h + self.dropout(self.attention_out(attended)))
        h = self.node_norm2(h + self.dropout(self.node_mlp(h)))
        if self.update_edges:
            z = graph.edge_input(self.edge_pair(e), self.node_to_edge(h))
            e = self.edge_norm1(e + self.dropout(self.edge_out(F.gelu(z))))
            e = self.edge_norm2(e + self.dropout(self.edge_mlp(e)))
        return h, e


# The model -----------------------------------------------------------------------------------
class RelationTransformer(nn.Module):
    """Classifier of networks of one `nngraph.NetworkSpec`, reading their graph batches.

    ``model(batch) -> logits [num_graphs, num_classes]``. Invariant to permutations of hidden
    neurons: node positions are ``spec.node_role`` embeddings (one per input neuron, one per output
    neuron, one shared by each hidden layer's neurons), and the readout concatenates the output
    neurons' final states (``readout="output"``) or the final state of every role: each input and
    output neuron's, and the mean over each hidden layer's neurons (``readout="roles"``).

    The defaults are the reference implementation's (all-pairs attention, the output neurons'
    readout, dropout 0.2, logits scaled by ``1/sqrt(attention_dim)``), and accept every spec.
    Attending along edges, a weight reaches a neuron one layer of the network per model layer, so the
    output neurons see the first weight matrix only after ``spec.num_layers`` model layers: with
    fewer, ``readout="output"`` would ignore the first weights, and is refused; ``"roles"`` sees
    every weight after one layer. Attending to all pairs, any neuron reaches any other in one layer,
    so two layers carry every weight to the output neurons.

    Args:
        spec: the spec of the networks the model reads.
        num_classes: number of logits.
        num_layers: relation transformer layers. (default: 4)
        node_dim: node state size. (default: 64)
        edge_dim: edge state size. (default: 32)
        num_heads: attention heads. (default: 8)
        attention_dim: size of queries, keys and values (all heads). (default: 128)
        node_hidden: hidden size of the node MLP. (default: 128)
        edge_hidden: hidden size of the edge MLPs. (default: 64)
        readout_hidden: hidden size of the classifier MLP. (default: 128)
        num_frequencies: Fourier frequencies encoding each weight and bias. (default: 128)
        fourier_sigma: their standard deviation; about 1 suits inputs normalised per layer. (default: 1.0)
        attention: ``"edges"`` (each neuron attends to the neurons it is connected to) or ``"all"``
            (to every neuron of its network, non-edges reading a learned "no edge" state). (default: "all")
        readout: ``"output"`` (the output neurons' states) or ``"roles"`` (every role's, hidden layers
            averaged). (default: "output")
        dropout: dropout in the residual branches of nodes and edges. (default: 0.2)
        attention_scale: attention logits scaled by ``1/sqrt(attention_dim)`` (``"total"``, the
            reference's) or by ``1/sqrt(attention_dim / num_heads)`` (``"head"``, the usual
            transformer's: sharper by ``sqrt(num_heads)``). (default: "total")
        max_hidden_layers: the deepest networks a batch may hold besides ``spec``'s own (default:
            ``spec``'s depth). A batch may mix architectures: graphs of any widths and up to this many
            hidden layers, with ``spec``'s inputs, outputs and activation, each reading the same role
            embeddings (input neuron i, hidden layer h, output neuron j). One-spec batches of ``spec``
            take the fast path.
    """

    def __init__(self, spec: nngraph.NetworkSpec, num_classes: int, num_layers: int = 4, node_dim: int = 64,
                 edge_dim: int = 32, num_heads: int = 8, attention_dim: int = 128, node_hidden: int = 128,
                 edge_hidden: int = 64, readout_hidden: int = 128, num_frequencies: int = 128,
                 fourier_sigma: float = 1.0, attention: str = "all", readout: str = "output",
                 dropout: float = 0.2, attention_scale: str = "total", max_hidden_layers: int | None = None):
        super().__init__()
        if not isinstance(spec, nngraph.NetworkSpec):
            raise ValueError(f"spec: expected an nngraph.NetworkSpec, got {type(spec).__name__}")
        if attention not in ATTENTION:
            raise ValueError(f"attention: expected one of {ATTENTION}, got {attention!r}")
        if readout not in READOUT:
            raise ValueError(f"readout: expected one of {READOUT}, got {readout!r}")
        if attention_scale not in ATTENTION_SCALE:
            raise ValueError(f"attention_scale: expected one of {ATTENTION_SCALE}, got {attention_scale!r}")
        sizes = dict(num_classes=num_classes, num_layers=num_layers, node_dim=node_dim, edge_dim=edge_dim,
                     num_heads=num_heads, attention_dim=attention_dim, node_hidden=node_hidden,
                     edge_hidden=edge_hidden, readout_hidden=readout_hidden)
        for name, value in sizes.items():
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout: expected a probability in [0, 1), got {dropout!r}")
        if max_hidden_layers is not None and not (isinstance(max_hidden_layers, int)
                                                  and max_hidden_layers >= len(spec.hidden_sizes)):
            raise ValueError(f"max_hidden_layers: expected an integer >= {len(spec.hidden_sizes)} (the spec's), "
                             f"got {max_hidden_layers!r}")
        if attention_dim % num_heads:
            raise ValueError(f"attention_dim: expected a multiple of num_heads={num_heads}, got {attention_dim}")
        reach = spec.num_layers if attention == "edges" else min(2, spec.num_layers)
        if readout == "output" and num_layers < reach:
            raise ValueError(f"num_layers: {num_layers} layer(s) of attention ({attention!r}) cannot carry the first "
                             f"weights of a {spec.num_layers}-layer network to its output neurons; use "
                             f"num_layers >= {reach} or readout='roles'")
        self.spec, self.num_classes, self.attention, self.readout_from = spec, num_classes, attention, readout
        self.attention_scale = attention_scale
        logit_scale = attention_dim ** -0.5 if attention_scale == "total" else None
        self.graph = MessageGraph(spec, all_pairs=attention == "all")
        self.encode_bias = FourierFeatures(node_dim, num_frequencies, fourier_sigma)
        self.encode_weight = FourierFeatures(edge_dim, num_frequencies, fourier_sigma)
        self.max_hidden_layers = len(spec.hidden_sizes) if max_hidden_layers is None else max_hidden_layers
        self.num_roles = spec.layer_sizes[0] + self.max_hidden_layers + spec.layer_sizes[-1]
        self.role = nn.Embedding(self.num_roles, node_dim)
        self.direction = nn.Parameter(torch.randn(2, edge_dim) * 0.02)  # forward / reverse edge
        self.no_edge = nn.Parameter(torch.randn(edge_dim) * 0.02) if attention == "all" else None
        self.register_buffer("node_role", self._node_role(spec), persistent=False)
        self.layers = nn.ModuleList([
            # The readout reads nodes only, so the last layer's edge update would be unused.
            RelationTransformerLayer(node_dim, edge_dim, attention_dim, num_heads, node_hidden, edge_hidden,
                                     dropout, update_edges=l < num_layers - 1, logit_scale=logit_scale)
            for l in range(num_layers)])
        num_read = spec.layer_sizes[-1] if readout == "output" else self.num_roles
        self.readout = nn.Sequential(nn.Linear(num_read * node_dim, readout_hidden), nn.ReLU(),
                                     nn.Linear(readout_hidden, num_classes))
        self._other_specs: dict = {}  # spec -> (MessageGraph, node roles), for mixed batches

    def _node_role(self, spec: nngraph.NetworkSpec) -> torch.Tensor:
        """Each node's role id: input neuron i, hidden layer h (counted from the input), output
        neuron j; the same ids for every spec the model reads."""
        n_in, hidden = spec.layer_sizes[0], spec.hidden_sizes
        return torch.cat([torch.arange(n_in)] + [torch.full((n,), n_in + h) for h, n in enumerate(hidden)]
                         + [torch.arange(spec.layer_sizes[-1]) + n_in + self.max_hidden_layers])

    def forward(self, batch: Data) -> torch.Tensor:
        specs = getattr(batch, "spec", None)
        if not isinstance(specs, list) or all(s == self.spec for s in specs):
            B = check_batch(batch, self.spec, type(self).__name__)
            N, E = self.spec.num_nodes, self.spec.num_edges
            return self._logits(self.spec, self.graph, self.node_role, batch.x.reshape(B, N).t(),
                                batch.edge_attr.reshape(B, E).t())
        return self._mixed(batch, specs)

    def _mixed(self, batch: Data, specs: list) -> torch.Tensor:
        """Graphs of several specs: each spec's graphs go through the layers together, as a one-spec
        batch would; the logits come back in the batch's order."""
        for s in dict.fromkeys(specs):
            self._check_spec(s)
        device = batch.x.device
        nodes = torch.tensor([0] + [s.num_nodes for s in specs], device=device).cumsum(0)
        edges = torch.tensor([0] + [s.num_edges for s in specs], device=device).cumsum(0)
        if batch.x.numel() != int(nodes[-1]) or batch.edge_attr.numel() != int(edges[-1]):
            raise ValueError(f"batch: its graphs' specs need {int(nodes[-1])} nodes and {int(edges[-1])} edges, got "
                             f"x {tuple(batch.x.shape)} and edge_attr {tuple(batch.edge_attr.shape)}")
        x, edge_attr = batch.x.reshape(-1), batch.edge_attr.reshape(-1)
        logits = x.new_empty(len(specs), self.num_classes)
        for spec in dict.fromkeys(specs):  # one pass per distinct spec, never per graph
            idx = torch.tensor([i for i, s in enumerate(specs) if s == spec], device=device)
            if spec not in self._other_specs:
                self._other_specs[spec] = (MessageGraph(spec, all_pairs=self.attention == "all"), self._node_role(spec))
            graph, role = (t.to(device) for t in self._other_specs[spec])
            node_rows = nodes[idx].unsqueeze(0) + torch.arange(spec.num_nodes, device=device).unsqueeze(1)
            edge_rows = edges[idx].unsqueeze(0) + torch.arange(spec.num_edges, device=device).unsqueeze(1)
            logits[idx] = self._logits(spec, graph, role, x[node_rows], edge_attr[edge_rows])
        return logits

    def _check_spec(self, spec) -> None:
        base = self.spec
        if not isinstance(spec, nngraph.NetworkSpec) or spec.activation != base.activation or spec.w0 != base.w0 \
                or spec.layer_sizes[0] != base.layer_sizes[0] or spec.layer_sizes[-1] != base.layer_sizes[-1] \
                or len(spec.hidden_sizes) > self.max_hidden_layers:
            raise ValueError(f"batch: {type(self).__name__} built for {base} with up to {self.max_hidden_layers} hidden "
                             f"layers reads {base.layer_sizes[0]}-input, {base.layer_sizes[-1]}-output "
                             f"{base.activation} networks of any widths; got {spec!r}")
        reach = spec.num_layers if self.attention == "edges" else min(2, spec.num_layers)
        if self.readout_from == "output" and len(self.layers) < reach:
            raise ValueError(f"batch: {spec} needs {reach} layers of attention to carry its first weights to its "
                             f"output neurons, the model has {len(self.layers)}")

    def states(self, batch: Data) -> tuple[torch.Tensor, torch.Tensor, MessageGraph]:
        """What the layers read, for a one-spec batch: node states ``h [N, B, node_dim]`` (node-major),
        edge states ``e [M, B, edge_dim]`` on the directed edges of ``graph`` (``self.graph``); each
        `RelationTransformerLayer` maps ``(h, e, graph)`` to new ``(h, e)``."""
        B = check_batch(batch, self.spec, type(self).__name__)
        N, E = self.spec.num_nodes, self.spec.num_edges
        h, e = self._embed(self.graph, self.node_role, batch.x.reshape(B, N).t(), batch.edge_attr.reshape(B, E).t())
        return h, e, self.graph

    def node_embeddings(self, batch: Data) -> torch.Tensor:
        """Every neuron's state after all layers, ``[B * N, node_dim]`` in the batch's node order (a PyG
        node feature matrix: equivariant to hidden-neuron permutations, for heads of your own)."""
        h, e, graph = self.states(batch)
        for layer in self.layers:
            h, e = layer(h, e, graph)
        return h.transpose(0, 1).reshape(-1, h.shape[-1])

    def _embed(self, graph: MessageGraph, node_role: torch.Tensor, biases: torch.Tensor, weights: torch.Tensor):
        h = self.encode_bias(biases) + self.role(node_role).unsqueeze(1)
        w = self.encode_weight(weights)
        return h, graph.edge_states(w + self.direction[0], w + self.direction[1], self.no_edge)

    def invariants(self, batch: Data) -> torch.Tensor:
        """The features ``[num_graphs, F]`` the head reads (one-spec batch): the output neurons' states,
        or each role's mean state; invariant to hidden-neuron permutations."""
        B = check_batch(batch, self.spec, type(self).__name__)
        N, E = self.spec.num_nodes, self.spec.num_edges
        return self._features(self.spec, self.graph, self.node_role, batch.x.reshape(B, N).t(),
                              batch.edge_attr.reshape(B, E).t())

    def _logits(self, spec, graph: MessageGraph, node_role: torch.Tensor, biases: torch.Tensor,
                weights: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, classes]`` of ``B`` networks of one spec: biases ``[N, B]``, weights ``[E, B]``."""
        return self.readout(self._features(spec, graph, node_role, biases, weights))

    def _features(self, spec, graph: MessageGraph, node_role: torch.Tensor, biases: torch.Tensor,
                  weights: torch.Tensor) -> torch.Tensor:
        B, N = biases.shape[1], spec.num_nodes
        h, e = self._embed(graph, node_role, biases, weights)
        for layer in self.layers:
            h, e = layer(h, e, graph)
        if self.readout_from == "output":
            out = h[N - spec.layer_sizes[-1]:]
        else:  # mean state per role: single neurons keep theirs, hidden layers are averaged (absent ones: 0)
            out = h.new_zeros(self.num_roles, *h.shape[1:]).index_add_(0, node_role, h)
            size = torch.bincount(node_role, minlength=self.num_roles).clamp_min(1)
            out = out / size.to(h.dtype).view(-1, 1, 1)
        return out.transpose(0, 1).reshape(B, -1)

    def extra_repr(self) -> str:
        return (f"spec={self.spec}, attention={self.attention!r}, readout={self.readout_from!r}, "
                f"attention_scale={self.attention_scale!r}")
