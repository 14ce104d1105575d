"""The hand-written attention pass equals the textbook one built from PyG's scatter softmax, values
and gradients (and passes a float64 gradient check)."""
import pytest
import torch
from torch_geometric.utils import softmax as scatter_softmax

import nngraph
from nngraph.models import MessageGraph, relational_attention
from nngraph.models.relational_attention import segment_softmax


def reference_attention(node_qkv, e, edge_weight, receivers, senders, num_heads, scale=None):
    N, B, d = node_qkv.shape[0], node_qkv.shape[1], node_qkv.shape[-1] // 3
    M = e.shape[0]
    q_node, k_node, v_node = node_qkv.split(d, dim=-1)
    q_edge, k_edge, gate, v_edge = (e @ edge_weight.t()).split(d, dim=-1)
    q, k = q_node[receivers] + q_edge, k_node[senders] + k_edge
    v = v_node[senders] * gate + v_edge
    scale = (d // num_heads) ** -0.5 if scale is None else scale
    logits = (q * k).view(M, B, num_heads, -1).sum(-1) * scale
    attention = scatter_softmax(logits, receivers, num_nodes=N, dim=0)
    messages = (attention.unsqueeze(-1) * v.view(M, B, num_heads, -1)).view(M, B, d)
    return torch.zeros(N, B, d, dtype=e.dtype).index_add(0, receivers, messages)


def inputs(M, N, B, d, c, gen, dtype=torch.float64):
    return [torch.randn(*shape, generator=gen, dtype=dtype, requires_grad=True)
            for shape in ((N, B, 3 * d), (M, B, c), (4 * d, c))]


@pytest.mark.parametrize("scale", [None, 8 ** -0.5])
@pytest.mark.parametrize("all_pairs", [False, True])
def test_matches_scatter_softmax_attention_on_network_graphs(all_pairs, scale):
    gen = torch.Generator().manual_seed(0)
    graph = MessageGraph(nngraph.NetworkSpec((2, 5, 4, 3)), all_pairs=all_pairs)
    node_qkv, e, weight = inputs(graph.num_directed_edges, graph.num_nodes, 3, 8, 6, gen)
    out = relational_attention(node_qkv, e, weight, graph.receivers, graph.senders, 2, scale)
    ref = reference_attention(node_qkv, e, weight, graph.receivers, graph.senders, 2, scale)
    assert torch.allclose(out, ref, atol=1e-12)
    grad = torch.randn(out.shape, generator=gen, dtype=out.dtype)
    ours = torch.autograd.grad(out, (node_qkv, e, weight), grad)
    theirs = torch.autograd.grad(ref, (node_qkv, e, weight), grad)
    for a, b in zip(ours, theirs):
        assert torch.allclose(a, b, atol=1e-10)


def test_gradcheck_on_an_irregular_graph():
    gen = torch.Generator().manual_seed(1)
    N, M = 5, 13
    receivers = torch.cat([torch.arange(N), torch.randint(0, N, (M - N,), generator=gen)])
    senders = torch.randint(0, N, (M,), generator=gen)
    args = inputs(M, N, 2, 4, 3, gen)
    assert torch.autograd.gradcheck(lambda *a: relational_attention(*a, receivers, senders, 2), args)


def test_float32_large_logits_stay_finite():
    gen = torch.Generator().manual_seed(2)
    graph = MessageGraph(nngraph.NetworkSpec((2, 6, 1)))
    args = inputs(graph.num_directed_edges, graph.num_nodes, 2, 4, 3, gen)
    node_qkv, e, weight = (t.detach().float() * 30 for t in args)
    out = relational_attention(node_qkv, e, weight, graph.receivers, graph.senders, 1)
    assert torch.isfinite(out).all()


def test_segment_softmax_sums_to_one_per_segment():
    logits = torch.randn(10, 3) * 50
    index = torch.tensor([0, 0, 1, 2, 2, 2, 3, 1, 0, 3])
    p = segment_softmax(logits, index, 4)
    assert torch.allclose(torch.zeros(4, 3).index_add(0, index, p), torch.ones(4, 3), atol=1e-6)
    assert torch.allclose(p, scatter_softmax(logits, index, num_nodes=4, dim=0), atol=1e-6)


def test_rejects_mismatched_shapes():
    graph = MessageGraph(nngraph.NetworkSpec((2, 3, 1)))
    M, N = graph.num_directed_edges, graph.num_nodes
    with pytest.raises(ValueError, match="edge_weight"):
        relational_attention(torch.randn(N, 2, 12), torch.randn(M, 2, 5), torch.randn(16, 4), graph.receivers,
                             graph.senders, 2)
    with pytest.raises(ValueError, match="num_heads"):
        relational_attention(torch.randn(N, 2, 12), torch.randn(M, 2, 5), torch.randn(16, 5), graph.receivers,
                             graph.senders, 3)
    with pytest.raises(ValueError, match="receivers"):
        relational_attention(torch.randn(N, 2, 12), torch.randn(M, 2, 5), torch.randn(16, 5), graph.receivers[1:],
                             graph.senders, 2)
