"""DWSNet (Navon et al., 2023): a network of linear layers equivariant to permutations of the hidden
neurons of the input network (the neurons of the first and last layer are not permuted).

Each layer holds, for every weight matrix ``W_l [B, n_l, n_{l-1}, C]`` and bias ``b_l [B, n_l, C]``,
``C`` feature channels per entry. A layer's output is the sum of every linear map that commutes with
the hidden-neuron permutations, the full space of the DWS layer (weight->weight, weight->bias,
bias->weight and bias->bias blocks; also NFN's HNP layer, Zhou et al., 2023). For one hidden layer
``a`` acting on an input axis and an output axis, the equivariant maps are the identity and
"average over the input axis, broadcast over the output axis"; for an axis in only one of them,
the average or the broadcast. The average may be replaced by the maximum (``pooling="max"``, the
reference implementation's choice): any symmetric pooling keeps the layer equivariant. Grouping
these by what they read gives one matmul per kind of term:

* ``W_l -> W_l``: a channel map of every entry;
* everything indexed by the neurons of hidden layer ``a`` (the biases ``b_a``, the row means of
  ``W_a``, the column means of ``W_{a+1}``) -> broadcast along the other axis of each output
  indexed by ``a``;
* every full mean over the hidden axes -> broadcast to every output.

Neurons of the first and last layer are fixed, so their axes are folded into the channels: ``W_1``
is a ``[B, n_1, n_0 * C]`` set of hidden-layer-1 neurons, ``W_L`` a ``[B, n_{L-1}, n_L * C]`` set of
hidden-layer-(L-1) neurons, ``b_L`` a ``[B, n_L * C]`` vector. Networks are kept in this form from
input to readout.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch_geometric.data import Data

import nngraph

from .encoding import check_batch


@dataclass(frozen=True)
class Piece:
    """One weight matrix or bias vector of the input network, as a tensor ``[B, *axes, channels]``:
    ``axes`` are the hidden layers its permuted axes index (rows first) and ``fixed`` the number of
    unpermuted neurons folded into each entry's channels."""

    name: str
    axes: tuple[int, ...]
    fixed: int


def pieces_of(spec: nngraph.NetworkSpec) -> list[Piece]:
    """Every weight matrix, then every bias, of ``spec`` (layers numbered 1..L, neuron layers 0..L)."""
    L, sizes = spec.num_layers, spec.layer_sizes

    def hidden(layer):
        return 0 < layer < L

    out = []
    for l in range(1, L + 1):
        axes = tuple(a for a in (l, l - 1) if hidden(a))
        fixed = (1 if hidden(l) else sizes[l]) * (1 if hidden(l - 1) else sizes[l - 1])
        out.append(Piece(f"weight {l}", axes, fixed))
    for l in range(1, L + 1):
        out.append(Piece(f"bias {l}", (l,) if hidden(l) else (), 1 if hidden(l) else sizes[l]))
    return out


def to_pieces(spec: nngraph.NetworkSpec, weights: list[torch.Tensor], biases: list[torch.Tensor]) -> list[torch.Tensor]:
    """Weights ``[B, out, in]`` and biases ``[B, out]`` as the pieces of `pieces_of` with one channel."""
    L, B = spec.num_layers, weights[0].shape[0]
    out = []
    for l, w in enumerate(weights, start=1):
        if 1 < l < L:
            out.append(w.unsqueeze(-1))
        elif l == 1 and L > 1:
            out.append(w)  # [B, n_1, n_0]: the input neurons are channels
        elif l == L and L > 1:
            out.append(w.transpose(1, 2))  # [B, n_{L-1}, n_L]
        else:
            out.append(w.reshape(B, -1))
    out += [b.unsqueeze(-1) if l < L else b for l, b in enumerate(biases, start=1)]
    return out


def from_pieces(spec: nngraph.NetworkSpec, xs: list[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """The inverse of `to_pieces`, for pieces of ``C`` channels (a `DWSLayer`'s output): weights
    ``[B, out, in, C]`` and biases ``[B, out, C]``, every entry at its place in the input network.
    A fixed neuron folded into the channels comes first: ``W_1``'s piece ``[B, n_1, n_0 * C]`` holds
    input neuron ``i``, channel ``c`` at ``i * C + c``."""
    L, sizes, B = spec.num_layers, spec.layer_sizes, xs[0].shape[0]
    if len(xs) != 2 * L:
        raise ValueError(f"xs: expected {2 * L} pieces for {spec}, got {len(xs)}")
    weights, biases = [], []
    for l in range(1, L + 1):
        x, (o, i) = xs[l - 1], (sizes[l], sizes[l - 1])
        if 1 < l < L:
            weights.append(x)
        elif l == 1 and L > 1:
            weights.append(x.reshape(B, o, i, -1))
        elif l == L and L > 1:
            weights.append(x.reshape(B, i, o, -1).transpose(1, 2))
        else:
            weights.append(x.reshape(B, o, i, -1))
    for l in range(1, L + 1):
        x = xs[L + l - 1]
        biases.append(x if l < L else x.reshape(B, sizes[l], -1))
    return weights, biases


POOLING = ("max", "mean")
BATCH_NORM = ("pooled", "equivariant", "none")
HEAD = ("mlp", "linear")


def pool(pieces: list[Piece], xs: list[torch.Tensor], pooling: str = "mean") -> tuple[dict[int, list[torch.Tensor]], list[torch.Tensor]]:
    """For each hidden layer, every feature indexed by its neurons ``[B, n_a, c]``; and every piece's
    mean (or maximum, ``pooling="max"``) over all its hidden axes ``[B, c]``."""
    reduce = _max if pooling == "max" else _mean
    per_layer: dict[int, list[torch.Tensor]] = {}
    invariant = []
    for p, x in zip(pieces, xs):
        if len(p.axes) == 2:
            rows, cols = reduce(x, 2), reduce(x, 1)
            per_layer.setdefault(p.axes[0], []).append(rows)
            per_layer.setdefault(p.axes[1], []).append(cols)
            invariant.append(reduce(rows, 1))
        elif len(p.axes) == 1:
            per_layer.setdefault(p.axes[0], []).append(x)
            invariant.append(reduce(x, 1))
        else:
            invariant.append(x)
    return per_layer, invariant


def _mean(x: torch.Tensor, dim: int) -> torch.Tensor:
    # A sum scaled afterwards: the gradient of a sum is a broadcast view, while that of a mean
    # is a full-size tensor, which for the weight matrices is the largest tensor in the model.
    return x.sum(dim).mul_(1.0 / x.shape[dim])


def _max(x: torch.Tensor, dim: int) -> torch.Tensor:
    return x.amax(dim)


class DWSLayer(nn.Module):
    """All linear maps between weight spaces of one spec that commute with hidden-neuron
    permutations, from ``in_channels`` to ``out_channels`` per entry (see the module docstring)."""

    def __init__(self, spec: nngraph.NetworkSpec, in_channels: int, out_channels: int, pooling: str = "mean"):
        super().__init__()
        if pooling not in POOLING:
            raise ValueError(f"pooling: expected one of {POOLING}, got {pooling!r}")
        self.pieces = pieces_of(spec)
        self.in_channels, self.out_channels, self.pooling = in_channels, out_channels, pooling
        hidden = range(1, spec.num_layers)
        # What each hidden layer's features are read into: (piece, role) in a fixed order.
        self.readers = {a: [] for a in hidden}
        in_sizes = {a: 0 for a in hidden}
        for i, p in enumerate(self.pieces):
            if len(p.axes) == 2:
                self.readers[p.axes[0]].append((i, "rows"))
                self.readers[p.axes[1]].append((i, "cols"))
                in_sizes[p.axes[0]] += in_channels
                in_sizes[p.axes[1]] += in_channels
            elif len(p.axes) == 1:
                self.readers[p.axes[0]].append((i, "self"))
                in_sizes[p.axes[0]] += p.fixed * in_channels
        self.from_layer = nn.ModuleDict({
            str(a): nn.Linear(in_sizes[a], sum(self._width(i, r, out_channels) for i, r in self.readers[a]), bias=False)
            for a in hidden})
        self.out_sizes = [p.fixed * out_channels for p in self.pieces]
        self.from_invariants = nn.Linear(sum(p.fixed * in_channels for p in self.pieces), sum(self.out_sizes))
        self.matrices = [i for i, p in enumerate(self.pieces) if len(p.axes) == 2]
        self.from_self = nn.ModuleList(nn.Linear(in_channels, out_channels, bias=False) for _ in self.matrices)

    def _width(self, i: int, role: str, channels: int) -> int:
        return self.pieces[i].fixed * channels if role == "self" else channels

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        per_layer, invariant = pool(self.pieces, xs, self.pooling)
        g = self.from_invariants(torch.cat(invariant, dim=-1)).split(self.out_sizes, dim=-1)
        terms: dict[tuple[int, str], torch.Tensor] = {}
        for a, readers in self.readers.items():
            widths = [self._width(i, r, self.out_channels) for i, r in readers]
            out = self.from_layer[str(a)](torch.cat(per_layer[a], dim=-1)).split(widths, dim=-1)
            terms.update(zip(readers, out))
        outs = []
        for i, (p, x) in enumerate(zip(self.pieces, xs)):
            if len(p.axes) == 2:
                y = self.from_self[self.matrices.index(i)](x)
                # In place: the sum's inputs are not needed for its gradient, and this is the big tensor.
                y += (terms[i, "rows"] + g[i].unsqueeze(1)).unsqueeze(2)
                y += terms[i, "cols"].unsqueeze(1)
            elif len(p.axes) == 1:
                y = terms[i, "self"] + g[i].unsqueeze(1)
            else:
                y = g[i]
            outs.append(y)
        return outs

    def extra_repr(self) -> str:
        return (f"in_channels={self.in_channels}, out_channels={self.out_channels}, pieces={len(self.pieces)}, "
                f"pooling={self.pooling!r}")


class PieceNorm(nn.Module):
    """Batch norm of each piece's channels, statistics over the batch and every entry of the piece:
    shared by all neurons of a layer, so the map stays equivariant."""

    def __init__(self, spec: nngraph.NetworkSpec, channels: int):
        super().__init__()
        self.norms = nn.ModuleList(nn.BatchNorm1d(p.fixed * channels) for p in pieces_of(spec))

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        return [norm(x.reshape(-1, x.shape[-1])).view_as(x) for norm, x in zip(self.norms, xs)]


class DWSNet(nn.Module):
    """Invariant classifier of networks of one `nngraph.NetworkSpec`: an equivariant DWS layer lifts
    every weight and bias to ``hidden_dim`` channels, ``num_layers`` more follow (ReLU and dropout
    between), then every piece is pooled over its hidden-neuron axes and a head maps the result to
    the classes. Reads graph batches through `nngraph.layer_views`.

    Args:
        spec: the spec of the networks the model reads.
        num_classes: number of logits.
        hidden_dim: channels per weight and bias. (default: 128)
        num_layers: equivariant hidden-to-hidden layers after the lifting layer. (default: 4)
        readout_hidden: hidden size of the head's MLP (``head="mlp"``). (default: 128)
        dropout: dropout after each nonlinearity. (default: 0.0)
        pooling: ``"mean"`` or ``"max"`` (the reference's), in every layer and before the head. On
            reference-recipe INRs the mean reads them better (README, "Model settings"). (default: "mean")
        batch_norm: ``"pooled"``: standardise the pooled features over the batch before the head.
            Each pooled feature moves between networks by a small fraction of its common value, and
            without the standardisation training on Fashion-MNIST INRs stalls at chance for epochs.
            ``"equivariant"``: the reference's option, batch norm of every piece's channels before
            each ReLU (`PieceNorm`). ``"none"``. (default: "pooled")
        head: ``"mlp"`` (Linear, ReLU, Linear) or ``"linear"`` (the reference's). (default: "mlp")
    """

    def __init__(self, spec: nngraph.NetworkSpec, num_classes: int, hidden_dim: int = 128, num_layers: int = 4,
                 readout_hidden: int = 128, dropout: float = 0.0, pooling: str = "mean", batch_norm: str = "pooled",
                 head: str = "mlp"):
        super().__init__()
        if not isinstance(spec, nngraph.NetworkSpec):
            raise ValueError(f"spec: expected an nngraph.NetworkSpec, got {type(spec).__name__}")
        sizes = dict(num_classes=num_classes, hidden_dim=hidden_dim, readout_hidden=readout_hidden)
        for name, value in sizes.items():
            if not (isinstance(value, int) and value >= 1):
                raise ValueError(f"{name}: expected a positive integer, got {value!r}")
        if not (isinstance(num_layers, int) and num_layers >= 0):
            raise ValueError(f"num_layers: expected a non-negative integer, got {num_layers!r}")
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout: expected a probability in [0, 1), got {dropout!r}")
        for name, value, allowed in (("pooling", pooling, POOLING), ("batch_norm", batch_norm, BATCH_NORM),
                                     ("head", head, HEAD)):
            if value not in allowed:
                raise ValueError(f"{name}: expected one of {allowed}, got {value!r}")
        self.spec, self.num_classes, self.pooling, self.batch_norm = spec, num_classes, pooling, batch_norm
        _check_size(spec, hidden_dim, num_layers, pooling)
        self.layers = nn.ModuleList([DWSLayer(spec, 1, hidden_dim, pooling)]
                                    + [DWSLayer(spec, hidden_dim, hidden_dim, pooling) for _ in range(num_layers)])
        self.norms = nn.ModuleList(PieceNorm(spec, hidden_dim) for _ in self.layers) if batch_norm == "equivariant" \
            else None
        self.dropout = nn.Dropout(dropout)
        pooled = sum(p.fixed for p in pieces_of(spec)) * hidden_dim
        # Momentum 0.5: the pooled features drift fast next to their spread, and a long running
        # average lags them enough to throw evaluation-mode logits off (spikes of validation loss).
        norm = nn.BatchNorm1d(pooled, momentum=0.5) if batch_norm == "pooled" else nn.Identity()
        classify = nn.Sequential(nn.Linear(pooled, readout_hidden), nn.ReLU(), nn.Linear(readout_hidden, num_classes)) \
            if head == "mlp" else nn.Linear(pooled, num_classes)
        self.readout = nn.Sequential(norm, classify)

    def forward(self, batch: Data) -> torch.Tensor:
        features = self.invariants(batch)
        if self.training and self.batch_norm != "none" and features.shape[0] == 1:
            raise ValueError("DWSNet: a training batch of one network, which batch norm cannot standardise; drop "
                             "the last partial batch (drop_last=True), or call .eval() to classify one network")
        return self.readout(features)

    def invariants(self, batch: Data) -> torch.Tensor:
        """The pooled invariant features ``[num_graphs, F]`` that the head reads."""
        check_batch(batch, self.spec, type(self).__name__)
        xs = to_pieces(self.spec, *nngraph.layer_views(batch))
        for k, layer in enumerate(self.layers):
            xs = layer(xs)
            if self.norms is not None:
                xs = self.norms[k](xs)
            # In place for the big weight tensors, which nothing else reads.
            xs = [self.dropout(y.relu_() if y.dim() == 4 else y.relu()) for y in xs]
        _, invariant = pool(self.layers[0].pieces, xs, self.pooling)
        return torch.cat(invariant, dim=-1)

    def extra_repr(self) -> str:
        return f"spec={self.spec}, pooling={self.pooling!r}, batch_norm={self.batch_norm!r}"


def _check_size(spec: nngraph.NetworkSpec, hidden_dim: int, num_layers: int, pooling: str) -> None:
    """Refuse, before allocating, layers whose weights would not fit in this machine's memory: the
    maps between weight spaces grow with products of the network's widths (a 784-32-32-10 MLP at
    hidden width 32 needs tens of gigabytes). Sized on the meta device, on a copy of the spec (its
    cached structure tensors stay real)."""
    import os
    copy = nngraph.NetworkSpec.from_dict(spec.to_dict())
    with torch.device("meta"):
        first = sum(p.numel() for p in DWSLayer(copy, 1, hidden_dim, pooling).parameters())
        later = sum(p.numel() for p in DWSLayer(copy, hidden_dim, hidden_dim, pooling).parameters()) if num_layers else 0
    total = first + num_layers * later
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    if 4 * total > memory:
        biggest = "each hidden DWSLayer" if later > first else "the first DWSLayer"
        raise ValueError(f"DWSNet: {spec} at hidden_dim {hidden_dim} needs {total:,} weights in its DWS layers "
                         f"({4 * total / 2**30:,.0f} GiB in float32, {biggest} {max(first, later):,}; this machine has "
                         f"{memory / 2**30:,.0f} GiB): a smaller hidden_dim, or a smaller network")
