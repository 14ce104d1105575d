"""Network <-> graph conversion.

A network of spec ``s`` becomes a `torch_geometric.data.Data` with
``x [N, 1]`` (biases, 0 for input neurons), ``edge_index [2, E]`` (``s.edge_index``, shared by every
graph of the spec), ``edge_attr [E, 1]`` (weights), ``layer [N]`` (each node's layer), ``spec`` and
optionally ``y``. Its flat parameter vector is ``[W_1.flatten(), ..., W_L.flatten(), b_1, ..., b_L]``,
so that ``edge_attr`` and the non-input part of ``x`` are two slices of it.
"""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import torch
from torch import nn
from torch_geometric.data import Batch, Data

from .spec import NetworkSpec
from .modules import read_module
from .siren import Siren
from .normalize import check_raw
from .views import layer_views, spec_of

Params = tuple[list[torch.Tensor], list[torch.Tensor]]


# Input checks ------------------------------------------------------------------------------------
def check_params(weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor]) -> None:
    """Raise ValueError unless the layers chain (torch layout ``[out, in]``) and all values are finite."""
    if len(weights) == 0 or len(weights) != len(biases):
        raise ValueError(f"expected the same positive number of weights and biases, got {len(weights)} and {len(biases)}")
    for l, (w, b) in enumerate(zip(weights, biases)):
        if w.dim() != 2 or b.dim() != 1 or b.shape[0] != w.shape[0]:
            raise ValueError(f"layer {l}: expected weight [out, in] and bias [out], got {tuple(w.shape)} and {tuple(b.shape)}")
        if l > 0 and w.shape[1] != weights[l - 1].shape[0]:
            raise ValueError(f"layer {l}: weight takes {w.shape[1]} inputs but layer {l - 1} has {weights[l - 1].shape[0]} outputs")
        for name, t in (("weight", w), ("bias", b)):
            if not torch.isfinite(t).all():
                raise ValueError(f"layer {l}: {name} has NaN or Inf values")


def check_flat(params: torch.Tensor, spec: NetworkSpec) -> None:
    if params.shape[-1] != spec.num_params:
        raise ValueError(f"params: expected last dimension {spec.num_params} for {spec}, got shape {tuple(params.shape)}")
    if not torch.isfinite(params).all():
        raise ValueError("params: NaN or Inf values")


# Reading networks in their many forms -----------------------------------------------------------
def _natural_key(name: str):
    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", name)]


def params_from_state_dict(state: Mapping[str, torch.Tensor]) -> Params:
    """Weights and biases of an MLP state_dict (``seq.0.weight``, ``0.bias``, ``layers.3.weight``...),
    in the natural order of their key prefixes."""
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for key, value in state.items():
        prefix, _, kind = key.rpartition(".")
        if kind not in ("weight", "bias"):
            raise ValueError(f"state_dict: unexpected key {key!r}; expected only '<layer>.weight' and '<layer>.bias'")
        if not isinstance(value, torch.Tensor):
            raise ValueError(f"state_dict: {key!r} is a {type(value).__name__}, not a tensor")
        groups.setdefault(prefix, {})[kind] = value
    if not groups:
        raise ValueError("state_dict: no layers found")
    weights, biases = [], []
    for prefix in sorted(groups, key=_natural_key):
        g = groups[prefix]
        if set(g) != {"weight", "bias"}:
            raise ValueError(f"state_dict: layer {prefix!r} needs both weight and bias, got {sorted(g)}")
        weights.append(g["weight"].detach())
        biases.append(g["bias"].detach())
    return weights, biases


def load_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state_dict from ``.safetensors`` or ``.pt``/``.pth`` (tensors only: never unpickles code)."""
    path = Path(path)
    if not path.is_file():
        raise ValueError(f"{path}: no such file")
    try:
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file
            return load_file(str(path))
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # corrupt, truncated or not a weights file
        raise ValueError(f"{path}: cannot read a state_dict ({type(e).__name__}: {e})") from e
    if isinstance(state, Mapping) and "state_dict" in state and isinstance(state["state_dict"], Mapping):
        state = state["state_dict"]
    if not isinstance(state, Mapping):
        raise ValueError(f"{path}: expected a state_dict, got {type(state).__name__}")
    return dict(state)


def _weights_of_file(path) -> tuple[dict, object]:
    """A saved network's ``<layer>.weight`` / ``<layer>.bias`` entries and its ``label`` entry (the
    public INR datasets' files and the library's export hold one; None if absent). Other entries are
    skipped with a warning naming them."""
    state = load_state_dict(path)
    label = state.pop("label", None)
    other = [k for k, v in state.items() if k.rpartition(".")[2] not in ("weight", "bias")]
    if other:
        import warnings
        warnings.warn(f"{path}: skipped entries that are not layer weights or biases: {', '.join(map(str, other))}",
                      stacklevel=3)
    if isinstance(label, torch.Tensor):
        label = label.item() if label.numel() == 1 else label
    return {k: v for k, v in state.items() if k not in other}, label


def _label(y) -> torch.Tensor | None:
    if y is None or isinstance(y, torch.Tensor) and y.dim() > 0:
        return y
    return torch.as_tensor([y])


# Network -> graph --------------------------------------------------------------------------------
def to_graph(obj, spec: NetworkSpec | None = None, y=None) -> Data:
    """Turn a network into its computational graph.

    ``obj`` is a module (an `nngraph.Siren`, or any MLP module `nngraph.modules` reads: your own
    ``Sine``, nested ``Sequential``s, ``Dropout``...; the reading is checked against the module's
    own output), a state_dict, a path to one, a pair ``(weights, biases)`` of lists in torch layout,
    or a flat parameter vector ``[P]``. The spec comes from the module, else it must be given: a
    state dict does not say its activation, ``w0`` or output offset.
    """
    if isinstance(obj, torch.Tensor):
        if spec is None:
            raise ValueError("spec: required to read a flat parameter vector")
        if obj.dim() != 1:
            raise ValueError(f"params: expected a vector [P], got shape {tuple(obj.shape)}; use nngraph.to_batch for [B, P]")
        check_flat(obj, spec)
        return _graph_from_flat(obj, spec, _label(y))
    if isinstance(obj, (str, Path)):
        obj, file_label = _weights_of_file(obj)
        y = file_label if y is None else y
    if isinstance(obj, nn.Module):
        weights, biases, spec, _ = read_module(obj, spec)
    elif isinstance(obj, (Mapping, tuple, list)):
        if isinstance(obj, Mapping):
            weights, biases = params_from_state_dict(obj)
        elif len(obj) == 2:
            weights, biases = list(obj[0]), list(obj[1])
        else:
            raise ValueError(f"network: expected a (weights, biases) pair, got a sequence of {len(obj)}")
        check_params(weights, biases)
        if spec is None:
            raise ValueError("spec: required for a state dict or (weights, biases): they do not say the activation, "
                             "w0 or output offset; pass spec=nngraph.NetworkSpec(sizes, activation, w0, output_offset)")
    else:
        raise ValueError(f"unsupported network {type(obj).__name__}: expected a module, state_dict, path, "
                         "(weights, biases) or flat tensor")
    check_params(weights, biases)
    sizes = (weights[0].shape[1],) + tuple(w.shape[0] for w in weights)
    if tuple(spec.layer_sizes) != sizes:
        raise ValueError(f"spec: {spec} does not match the network's layer sizes {sizes}")
    flat = torch.cat([w.reshape(-1) for w in weights] + [b.reshape(-1) for b in biases]).float()
    return _graph_from_flat(flat, spec, _label(y))


def _graph_from_flat(flat: torch.Tensor, spec: NetworkSpec, y) -> Data:
    E, n_in = spec.num_edges, spec.layer_sizes[0]
    x = torch.cat([flat.new_zeros(n_in), flat[E:]]).unsqueeze(1)
    g = Data(x=x, edge_index=spec.edge_index.to(flat.device), edge_attr=flat[:E].unsqueeze(1),
             layer=spec.node_layer.to(flat.device), spec=spec)
    if y is not None:
        g.y = y
    return g


def to_batch(params: torch.Tensor, spec: NetworkSpec, y: torch.Tensor | None = None) -> Batch:
    """The fast path from a ``[B, P]`` parameter tensor (one spec) straight to a PyG `Batch`, equal to
    ``Batch.from_data_list([to_graph(p, spec, y_i) ...])``."""
    if params.dim() != 2:
        raise ValueError(f"params: expected [B, P], got shape {tuple(params.shape)}")
    check_flat(params, spec)
    B, E, n_in = params.shape[0], spec.num_edges, spec.layer_sizes[0]
    x = torch.cat([params.new_zeros(B, n_in), params[:, E:]], dim=1).reshape(-1, 1)
    fields = {"x": x, "edge_attr": params[:, :E].reshape(-1, 1)}
    if y is not None:
        fields["y"] = y if y.dim() > 0 else y.reshape(1)
    return _assemble(spec, B, fields)


@lru_cache(maxsize=16)
def _structure(spec: NetworkSpec, B: int, device: torch.device) -> dict:
    """Batch structure shared by every batch of ``B`` graphs of one spec (cached; never written into)."""
    N, E = spec.num_nodes, spec.num_edges
    steps = torch.arange(B + 1, device=device)
    zeros = torch.zeros(B, dtype=torch.long, device=device)
    return {
        "edge_index": spec.edge_index.to(device).repeat(1, B) + (steps[:-1] * N).repeat_interleave(E).unsqueeze(0),
        "layer": spec.node_layer.to(device).repeat(B),
        "batch": torch.arange(B, device=device).repeat_interleave(N),
        "ptr": steps * N, "steps": steps, "node_slices": steps * N, "edge_slices": steps * E,
        "edge_inc": steps[:-1] * N, "zeros": zeros,
    }


def _assemble(spec: NetworkSpec, B: int, fields: dict) -> Batch:
    """The `Batch` PyG's collate would build for ``B`` graphs of one spec, from concatenated fields
    (``x``, ``edge_attr`` and any per-graph extras such as ``y``)."""
    s = _structure(spec, B, fields["x"].device)
    values = {"x": fields["x"], "edge_index": s["edge_index"], "edge_attr": fields["edge_attr"],
              "layer": s["layer"], "spec": [spec] * B}
    slices = {"x": s["node_slices"], "edge_index": s["edge_slices"], "edge_attr": s["edge_slices"],
              "layer": s["node_slices"], "spec": s["steps"]}
    incs = {"x": s["zeros"], "edge_index": s["edge_inc"], "edge_attr": s["zeros"], "layer": s["zeros"], "spec": None}
    for key, value in fields.items():
        if key not in values:
            values[key] = value
            slices[key] = s["steps"] * (value.shape[0] // B)
            incs[key] = s["zeros"]
    batch = Batch(_base_cls=Data)
    for key, value in values.items():
        batch[key] = value
    batch.batch, batch.ptr = s["batch"], s["ptr"]
    batch._num_graphs, batch._slice_dict, batch._inc_dict = B, slices, incs
    return batch


# Graph -> network --------------------------------------------------------------------------------
def to_params(g: Data) -> Params:
    """Weights ``[out, in]`` and biases ``[out]`` of a single graph, in torch layout."""
    if isinstance(g, Batch):
        raise ValueError("to_params: expected a single graph, got a Batch; use nngraph.layer_views")
    check_raw(g, "to_params")
    weights, biases = layer_views(g)
    return [w[0] for w in weights], [b[0] for b in biases]


def to_state_dict(g: Data, like: nn.Module | Mapping | None = None) -> dict[str, torch.Tensor]:
    """The graph's parameters as a state dict: in the keys, shapes and dtypes of ``like`` (your own
    module, or a state dict of the same architecture; every other entry of it is kept as it is), or
    by default the public INR datasets' ``seq.<k>.weight`` / ``seq.<k>.bias``."""
    weights, biases = to_params(g)
    if like is None:
        return {f"seq.{l}.{kind}": t.clone() for l, (w, b) in enumerate(zip(weights, biases))
                for kind, t in (("weight", w), ("bias", b))}
    if isinstance(like, nn.Module):
        names = read_module(like, _as_spec(like, spec_of(g)))[3]
        state = dict(like.state_dict())
        keys = [(f"{n}.weight" if n else "weight", f"{n}.bias" if n else "bias") for n in names]
    elif isinstance(like, Mapping):
        state = dict(like)
        prefixes = sorted({k.rpartition(".")[0] for k in state if k.rpartition(".")[2] in ("weight", "bias")},
                          key=_natural_key)
        keys = [(f"{p}.weight" if p else "weight", f"{p}.bias" if p else "bias") for p in prefixes]
    else:
        raise ValueError(f"like: expected a module or a state dict, got {type(like).__name__}")
    if len(keys) != len(weights):
        raise ValueError(f"like: has {len(keys)} layers, the graph's {spec_of(g)} has {len(weights)}")
    for (wk, bk), w, b in zip(keys, weights, biases):
        for key, t in ((wk, w), (bk, b)):
            if key not in state or state[key].numel() != t.numel():
                raise ValueError(f"like: {key!r} {'is missing' if key not in state else f'holds {state[key].numel()} values'}"
                                 f", the graph's layer has {t.numel()}")
            state[key] = t.detach().reshape(state[key].shape).to(state[key].dtype).clone()
    if isinstance(like, nn.Module):
        _check_loaded(like, state, g)
    return state


def _as_spec(like: nn.Module, spec: NetworkSpec) -> NetworkSpec:
    """The graph's ``spec``, after checking that ``like`` computes a network of its kind: the same
    activation, ``w0`` and output offset (a state dict in its keys would compute another function)."""
    theirs = read_module(like)[2]
    for what, a, b in (("activation", theirs.activation, spec.activation), ("output offset", theirs.output_offset,
                       spec.output_offset)) + ((("w0", theirs.w0, spec.w0),) if spec.activation == "sine" else ()):
        if not (a == b or isinstance(a, float) and abs(a - b) <= 1e-6 * (1 + abs(b))):
            raise ValueError(f"like: {type(like).__name__} has {what} {a}, the graph's network {b}; its keys would "
                             "hold weights of another function")
    return spec


def _check_loaded(like: nn.Module, state: dict, g: Data) -> None:
    """Load ``state`` into a copy of ``like`` and check on random inputs that it computes the graph's
    function (tied or shared weights, say, would not)."""
    import copy
    mine = copy.deepcopy(like)
    mine.load_state_dict(state)
    weights, biases = read_module(mine, spec_of(g))[:2]  # checked to compute the function of what it holds
    ours = to_params(g)
    for w, t in zip(weights + biases, ours[0] + ours[1]):
        if not torch.allclose(w.float(), t.float().to(w.device), atol=1e-6):
            raise ValueError(f"like: {type(like).__name__} loaded with the graph's parameters holds other weights "
                             "than the graph: tied or shared weights?")


def to_module(g: Data) -> Siren:
    """A runnable `nngraph.Siren` computing the graph's function."""
    check_raw(g, "to_module")
    spec = spec_of(g)
    weights, biases = to_params(g)
    net = Siren(spec).to(g.x.device)
    with torch.no_grad():
        for layer, w, b in zip(net.seq, weights, biases):
            layer.weight.copy_(w)
            layer.bias.copy_(b)
    return net
