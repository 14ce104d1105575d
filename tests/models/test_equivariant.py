"""The dense piece layout round-trips exactly, and the equivariant head commutes with hidden-neuron
permutations on random specs."""
import pytest
import torch

import nngraph
from nngraph.models import DWSEquivariant, from_pieces, to_pieces
from tests.conftest import random_spec


@pytest.mark.parametrize("seed", range(8))
def test_pieces_round_trip_exactly(seed):
    gen = torch.Generator().manual_seed(seed)
    spec = random_spec(gen, max_hidden=4, max_width=9) if seed else nngraph.NetworkSpec((3, 2))  # and no hidden layer
    batch = nngraph.to_batch(torch.randn(3, spec.num_params, generator=gen), spec)
    weights, biases = nngraph.layer_views(batch)
    w, b = from_pieces(spec, to_pieces(spec, weights, biases))
    assert all(torch.equal(u.squeeze(-1), v) for u, v in zip(w, weights))
    assert all(torch.equal(u.squeeze(-1), v) for u, v in zip(b, biases))


@pytest.mark.parametrize("seed", range(6))
def test_the_equivariant_head_commutes_with_hidden_permutations(seed):
    gen = torch.Generator().manual_seed(10 + seed)
    spec = random_spec(gen, max_hidden=3, max_width=8)
    torch.manual_seed(seed)
    head = DWSEquivariant(spec, hidden_dim=8, num_layers=2, residual=bool(seed % 2)).eval()
    batch = nngraph.to_batch(torch.randn(4, spec.num_params, generator=gen), spec)
    perms = [torch.stack([torch.randperm(n, generator=gen) for _ in range(4)]) for n in spec.hidden_sizes]
    with torch.no_grad():
        out = head(batch)
        permuted_first = head(nngraph.permute(batch, perms))
    assert torch.equal(out.edge_index, batch.edge_index) and out.x.shape == batch.x.shape
    assert torch.equal(out.x.reshape(4, -1)[:, :spec.layer_sizes[0]], torch.zeros(4, spec.layer_sizes[0]))
    expected = nngraph.permute(out, perms)
    assert torch.allclose(permuted_first.edge_attr, expected.edge_attr, atol=1e-5)
    assert torch.allclose(permuted_first.x, expected.x, atol=1e-5)
    assert not torch.allclose(out.edge_attr, batch.edge_attr)  # it computes something


def test_the_head_gives_a_graph_that_reads_as_a_network_and_learns():
    spec = nngraph.NetworkSpec((2, 8, 8, 1))
    head = DWSEquivariant(spec, hidden_dim=16, num_layers=1)
    params = torch.randn(32, spec.num_params)
    batch, target = nngraph.to_batch(params, spec), nngraph.to_batch(-2 * params, spec)  # an equivariant map
    opt = torch.optim.Adam(head.parameters(), lr=1e-2)
    losses = []
    for _ in range(150):
        out = head(batch)
        loss = (out.edge_attr - target.edge_attr).square().mean() + (out.x - target.x).square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.05 * losses[0]
    single = head(nngraph.to_graph(params[0], spec))
    w, b = nngraph.to_params(single)
    assert [tuple(t.shape) for t in w] == [(8, 2), (8, 8), (1, 8)]


def test_relation_transformer_node_embeddings_follow_the_neurons():
    from nngraph.models import RelationTransformer
    spec = nngraph.NetworkSpec((2, 6, 5, 1))
    torch.manual_seed(0)
    model = RelationTransformer(spec, 10, num_layers=2, node_dim=16, edge_dim=8, num_heads=2, attention_dim=16,
                                node_hidden=16, edge_hidden=16, readout_hidden=16, num_frequencies=8).eval()
    batch = nngraph.to_batch(torch.randn(3, spec.num_params), spec)
    perms = [torch.stack([torch.randperm(n) for _ in range(3)]) for n in spec.hidden_sizes]
    with torch.no_grad():
        h = model.node_embeddings(batch).reshape(3, spec.num_nodes, -1)
        hp = model.node_embeddings(nngraph.permute(batch, perms)).reshape(3, spec.num_nodes, -1)
        h0, e0, graph = model.states(batch)
    # new neuron i of hidden layer l is old neuron perms[l][i]: node order is inputs, hidden 1, hidden 2, output
    offsets = [2, 8]
    order = torch.stack([torch.cat([torch.arange(2)] + [p[b] + o for p, o in zip(perms, offsets)] + [torch.tensor([13])])
                         for b in range(3)])
    assert torch.allclose(hp, torch.gather(h, 1, order.unsqueeze(-1).expand_as(h)), atol=1e-5)
    assert h0.shape == (spec.num_nodes, 3, 16) and e0.shape[:2] == (graph.num_directed_edges, 3)
