import pytest
import torch
from torch_geometric.data import Batch

import nngraph
from nngraph.models import DWSLayer, DWSNet
from nngraph.models.dwsnet import pieces_of, to_pieces
from tests.models.conftest import (TwoNetworkTask, assert_every_layer_reaches_the_logits, nontrivial_perms,
                                   random_batch, sine_spec, train)


OPTIONS = [dict(pooling="max"), dict(pooling="mean"), dict(pooling="max", batch_norm="equivariant", head="linear"),
           dict(pooling="mean", batch_norm="none")]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(o.values()))
@pytest.mark.parametrize("num_hidden", [1, 2, 3, 4, 5])
def test_invariant_to_hidden_neuron_permutations(num_hidden, options):
    gen = torch.Generator().manual_seed(num_hidden)
    spec = sine_spec(gen, num_hidden)
    model = DWSNet(spec, 5, hidden_dim=16, num_layers=2, **options)
    model.train()(random_batch(spec, 8, gen))  # batch-norm statistics that are not the identity
    model.eval()
    batch = random_batch(spec, 4, gen)
    permuted = nngraph.permute(batch, nontrivial_perms(batch, gen))
    with torch.no_grad():
        logits, logits_permuted = model(batch), model(permuted)
        moved = model(nngraph.with_flat_params(batch, nngraph.flat_params(batch) * 1.5))
        features, features_permuted = model.invariants(batch), model.invariants(permuted)
    assert logits.shape == (4, 5)
    assert (logits - logits_permuted).abs().max() < 1e-4
    assert (logits - moved).abs().max() > 1e-4
    assert features.shape[0] == 4 and (features - features_permuted).abs().max() < 1e-4
    assert torch.allclose(model.readout(features), logits, atol=1e-6)


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: "-".join(o.values()))
@pytest.mark.parametrize("num_layers", [1, 2])
def test_every_weight_and_bias_reaches_the_logits(num_layers, options):
    spec = nngraph.NetworkSpec((2, 6, 5, 4, 1))
    model = DWSNet(spec, 3, hidden_dim=8, num_layers=num_layers, readout_hidden=16, **options).eval()
    assert_every_layer_reaches_the_logits(model, spec, torch.Generator().manual_seed(3))


def test_default_model_is_invariant():
    gen = torch.Generator().manual_seed(3)
    spec = nngraph.NetworkSpec((2, 32, 32, 1))
    model = DWSNet(spec, 10).eval()
    batch = random_batch(spec, 3, gen)
    with torch.no_grad():
        diff = model(batch) - model(nngraph.permute(batch, nontrivial_perms(batch, gen)))
    assert diff.abs().max() < 1e-4


def permute_pieces(spec, xs, perms):
    """Permute every hidden axis of every piece: ``perms[a - 1]`` is ``[B, n_a]`` for hidden layer ``a``."""
    out = []
    for piece, x in zip(pieces_of(spec), xs):
        for k, layer in enumerate(piece.axes):
            index = perms[layer - 1].reshape(x.shape[0], *[1] * k, -1, *[1] * (x.dim() - k - 2))
            x = x.gather(1 + k, index.expand(*x.shape[:1 + k], -1, *x.shape[2 + k:]))
        out.append(x)
    return out


@pytest.mark.parametrize("num_hidden", [1, 2, 3, 4])
def test_layer_is_equivariant(num_hidden):
    gen = torch.Generator().manual_seed(10 + num_hidden)
    spec = sine_spec(gen, num_hidden)
    layer = DWSLayer(spec, 3, 4)
    batch = random_batch(spec, 2, gen)
    perms = nontrivial_perms(batch, gen)
    xs = [torch.randn(*x.shape[:-1], x.shape[-1] * 3, generator=gen)
          for x in to_pieces(spec, *nngraph.layer_views(batch))]
    with torch.no_grad():
        out = permute_pieces(spec, layer(xs), perms)
        out_permuted = layer(permute_pieces(spec, xs, perms))
    for a, b in zip(out, out_permuted):
        assert torch.allclose(a, b, atol=1e-5)
    # Pieces as read from a permuted network are the permuted pieces (the layout is consistent).
    read = to_pieces(spec, *nngraph.layer_views(nngraph.permute(batch, perms)))
    for a, b in zip(read, permute_pieces(spec, to_pieces(spec, *nngraph.layer_views(batch)), perms)):
        assert torch.equal(a, b)


def flat_pieces(xs):
    return torch.cat([x.reshape(x.shape[0], -1) for x in xs], dim=1)


@pytest.mark.parametrize("sizes", [(2, 3, 2, 2), (1, 2, 3, 2, 1), (2, 3, 1), (3, 2)])
def test_layer_spans_every_equivariant_linear_map(sizes):
    """With one channel, the maps the layer can express (its Jacobians, one per parameter) span
    exactly the solutions ``L`` of ``L P_g = P_g L`` for the hidden-neuron permutations ``g``."""
    spec = nngraph.NetworkSpec(sizes)
    P = spec.num_params
    basis = nngraph.to_batch(torch.eye(P, dtype=torch.float64), spec)

    def canonical(batch):  # the networks of a batch as rows of piece coordinates
        return flat_pieces(to_pieces(spec, *nngraph.layer_views(batch)))

    T = canonical(basis)  # flat parameters -> piece coordinates (a permutation matrix)
    constraints = []
    for l, n in enumerate(spec.hidden_sizes):
        for cycle in (torch.arange(n).roll(1), torch.tensor([1, 0] + list(range(2, n))) if n > 1 else torch.arange(n)):
            perms = [cycle if k == l else torch.arange(m) for k, m in enumerate(spec.hidden_sizes)]
            G = T.t() @ canonical(nngraph.permute(basis, perms))  # the permutation in piece coordinates
            eye = torch.eye(P, dtype=torch.float64)
            constraints.append(torch.kron(eye, G.t().contiguous()) - torch.kron(G, eye))  # row-major vec(L G - G L)
    dimension = P * P - (torch.linalg.matrix_rank(torch.cat(constraints)) if constraints else 0)

    layer = DWSLayer(spec, 1, 1).double()
    params = [p for name, p in layer.named_parameters() if name != "from_invariants.bias"]
    maps = []
    with torch.no_grad():
        for p in params:
            for i in range(p.numel()):
                for q in layer.parameters():
                    q.zero_()
                p.view(-1)[i] = 1
                L = T.t() @ flat_pieces(layer(to_pieces(spec, *nngraph.layer_views(basis))))
                for c in constraints:
                    assert c.matmul(L.reshape(-1)).abs().max() < 1e-12  # each map is equivariant
                maps.append(L.reshape(-1))
    assert torch.linalg.matrix_rank(torch.stack(maps)) == dimension


def test_learns_a_task_that_needs_invariance():
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    spec = nngraph.NetworkSpec((2, 8, 8, 1))
    model = DWSNet(spec, 2, hidden_dim=16, num_layers=2, readout_hidden=32)
    losses = train(model, TwoNetworkTask(spec, gen, noise=0.5), steps=150, lr=1e-3)
    assert losses[0] > 0.6  # chance: ln 2
    assert sum(losses[-30:]) / 30 < 0.15


@pytest.mark.parametrize("batch_norm", ["pooled", "none"])
def test_reads_a_small_change_in_a_layers_spread(batch_norm):
    # Independently initialised networks whose class is a 10% larger spread of the hidden-to-hidden
    # weights: the signal real INR datasets carry, a small move of every pooled feature. Without
    # standardising the pooled features the model does not pick it up.
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    spec, n = nngraph.NetworkSpec((2, 16, 16, 1)), 2000
    weights, biases = nngraph.init_params(spec, n, generator=gen)
    y = torch.randint(0, 2, (n,), generator=gen)
    weights[1] = weights[1] * (1 + 0.1 * y[:, None, None])
    params = torch.cat([w.reshape(n, -1) for w in weights] + biases, dim=1)
    ws, bs = nngraph.layer_views(nngraph.to_batch(params, spec))
    normalize = nngraph.Normalize({"weight_mean": [w.mean().item() for w in ws], "weight_std": [w.std().item() for w in ws],
                                   "bias_mean": [b.mean().item() for b in bs], "bias_std": [b.std().item() for b in bs]})
    model = DWSNet(spec, 2, hidden_dim=32, num_layers=3, readout_hidden=32, pooling="mean", batch_norm=batch_norm)
    opt = torch.optim.AdamW(model.parameters(), lr=5e-3)
    for _ in range(200):
        i = torch.randint(0, 1500, (64,), generator=gen)
        batch = normalize(nngraph.to_batch(params[i], spec, y=y[i]))
        loss = torch.nn.functional.cross_entropy(model(batch), batch.y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        held_out = normalize(nngraph.to_batch(params[1500:], spec, y=y[1500:]))
        accuracy = (model.eval()(held_out).argmax(1) == held_out.y).float().mean().item()
    assert (accuracy > 0.8) == (batch_norm == "pooled"), accuracy


def test_rejects_batches_it_was_not_built_for():
    gen = torch.Generator().manual_seed(0)
    spec, other = nngraph.NetworkSpec((2, 6, 5, 1)), nngraph.NetworkSpec((2, 5, 6, 1))
    model = DWSNet(spec, 3, hidden_dim=8)
    with pytest.raises(ValueError, match="built for"):
        model(random_batch(other, 2, gen))
    mixed = Batch.from_data_list(random_batch(spec, 1, gen).to_data_list() + random_batch(other, 1, gen).to_data_list())
    with pytest.raises(ValueError, match="one spec"):
        model(mixed)


@pytest.mark.parametrize("kwargs, match", [(dict(hidden_dim=0), "hidden_dim"), (dict(num_layers=-1), "num_layers"),
                                           (dict(dropout=-0.1), "dropout"), (dict(pooling="sum"), "pooling"),
                                           (dict(batch_norm="layer"), "batch_norm"), (dict(head="deep"), "head")])
def test_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        DWSNet(nngraph.NetworkSpec((2, 4, 1)), 2, **kwargs)
