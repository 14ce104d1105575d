import pytest
import torch

import nngraph
from nngraph.models import MessageGraph

SPEC = nngraph.NetworkSpec((2, 3, 4, 2))


def opposite_by_search(graph):
    where = {(int(r), int(s)): m for m, (r, s) in enumerate(zip(graph.receivers, graph.senders))}
    return torch.tensor([where[int(s), int(r)] for r, s in zip(graph.receivers, graph.senders)])


def test_network_edges_in_both_directions():
    graph = MessageGraph(SPEC)
    src, dst = SPEC.edge_index
    E = SPEC.num_edges
    assert graph.num_directed_edges == 2 * E
    pairs = set(zip(graph.senders.tolist(), graph.receivers.tolist()))
    assert pairs == set(zip(src.tolist(), dst.tolist())) | set(zip(dst.tolist(), src.tolist()))
    assert (torch.bincount(graph.receivers, minlength=SPEC.num_nodes) > 0).all()


def test_all_pairs():
    graph = MessageGraph(SPEC, all_pairs=True)
    N = SPEC.num_nodes
    assert graph.num_directed_edges == N * N
    assert len(set(zip(graph.senders.tolist(), graph.receivers.tolist()))) == N * N


@pytest.mark.parametrize("all_pairs", [False, True])
def test_edge_states_put_each_direction_on_its_edge(all_pairs):
    graph = MessageGraph(SPEC, all_pairs=all_pairs)
    E, B = SPEC.num_edges, 2
    forward, backward, no_edge = torch.randn(E, B, 3), torch.randn(E, B, 3), torch.randn(3)
    states = graph.edge_states(forward, backward, no_edge)
    src, dst = SPEC.edge_index
    where = {(int(s), int(r)): m for m, (r, s) in enumerate(zip(graph.receivers, graph.senders))}
    for k in range(E):
        assert torch.equal(states[where[int(src[k]), int(dst[k])]], forward[k])
        assert torch.equal(states[where[int(dst[k]), int(src[k])]], backward[k])
    if all_pairs:
        edges = set(zip(src.tolist(), dst.tolist())) | set(zip(dst.tolist(), src.tolist()))
        others = [m for (s, r), m in where.items() if (s, r) not in edges]
        assert torch.equal(states[others], no_edge.expand(len(others), B, 3))


@pytest.mark.parametrize("all_pairs", [False, True])
def test_copy_reversed_and_edge_input(all_pairs):
    graph = MessageGraph(SPEC, all_pairs=all_pairs)
    opposite = opposite_by_search(graph)
    M, N, B, d = graph.num_directed_edges, SPEC.num_nodes, 2, 3
    values = torch.randn(M, B, d)
    assert torch.equal(graph.copy_reversed(torch.empty(M, B, d), values), values[opposite])
    pair = torch.randn(M, B, 2 * d, dtype=torch.float64, requires_grad=True)
    nodes = torch.randn(N, B, 2 * d, dtype=torch.float64, requires_grad=True)
    expected = (pair[:, :, :d] + pair[opposite][:, :, d:] + nodes[graph.receivers][:, :, :d]
                + nodes[graph.senders][:, :, d:])
    assert torch.allclose(graph.edge_input(pair, nodes), expected, atol=1e-12)
    assert torch.autograd.gradcheck(graph.edge_input, (pair, nodes))
