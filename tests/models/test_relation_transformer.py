import pytest
import torch
from torch_geometric.data import Batch

import nngraph
from nngraph.models import RelationTransformer
from tests.models.conftest import (TwoNetworkTask, assert_every_layer_reaches_the_logits, nontrivial_perms,
                                   random_batch, sine_spec, train)

SMALL = dict(num_layers=2, node_dim=16, edge_dim=8, num_heads=4, attention_dim=16, node_hidden=16, edge_hidden=16,
             readout_hidden=16, readout="roles")
LAYOUTS = [("edges", "roles"), ("edges", "output"), ("all", "output"), ("all", "roles")]


def small(spec: nngraph.NetworkSpec, num_classes: int, attention: str = "edges", readout: str = "roles"):
    # Attention along edges read at the output neurons needs a layer per weight matrix.
    layers = spec.num_layers if (attention, readout) == ("edges", "output") else SMALL["num_layers"]
    return RelationTransformer(spec, num_classes, **{**SMALL, "num_layers": layers, "attention": attention,
                                                     "readout": readout})


@pytest.mark.parametrize("attention, readout", LAYOUTS)
@pytest.mark.parametrize("num_hidden", [1, 2, 3, 4, 5])
def test_invariant_to_hidden_neuron_permutations(num_hidden, attention, readout):
    gen = torch.Generator().manual_seed(num_hidden)
    spec = sine_spec(gen, num_hidden)
    model = small(spec, 5, attention, readout).eval()
    batch = random_batch(spec, 4, gen)
    permuted = nngraph.permute(batch, nontrivial_perms(batch, gen))
    assert not torch.equal(permuted.edge_attr, batch.edge_attr)
    with torch.no_grad():
        logits, logits_permuted = model(batch), model(permuted)
        # A change that is not a symmetry does change the output, so the check above can fail.
        moved = model(nngraph.with_flat_params(batch, nngraph.flat_params(batch) * 1.5))
    assert logits.shape == (4, 5)
    assert (logits - logits_permuted).abs().max() < 1e-4
    assert (logits - moved).abs().max() > 1e-3


@pytest.mark.parametrize("attention", ["edges", "all"])
def test_default_model_is_invariant(attention):
    gen = torch.Generator().manual_seed(7)
    spec = nngraph.NetworkSpec((2, 32, 32, 1))
    model = RelationTransformer(spec, 10, attention=attention).eval()
    batch = random_batch(spec, 3, gen)
    with torch.no_grad():
        diff = model(batch) - model(nngraph.permute(batch, nontrivial_perms(batch, gen)))
    assert diff.abs().max() < 1e-4


@pytest.mark.parametrize("attention, readout", LAYOUTS)
def test_every_weight_and_bias_reaches_the_logits(attention, readout):
    spec = nngraph.NetworkSpec((2, 6, 5, 4, 1))
    model = small(spec, 3, attention, readout).eval()
    assert_every_layer_reaches_the_logits(model, spec, torch.Generator().manual_seed(3))


def test_output_readout_needs_the_layers_that_reach_the_first_weights():
    spec = nngraph.NetworkSpec((2, 6, 5, 4, 1))
    with pytest.raises(ValueError, match="num_layers >= 4"):
        RelationTransformer(spec, 3, num_layers=3, attention="edges")
    with pytest.raises(ValueError, match="num_layers >= 2"):
        RelationTransformer(spec, 3, num_layers=1, attention="all")
    RelationTransformer(spec, 3, num_layers=4, attention="edges")
    RelationTransformer(spec, 3, num_layers=1, readout="roles")
    RelationTransformer(spec, 3, num_layers=2, attention="all")
    RelationTransformer(nngraph.NetworkSpec((2, 3)), 3, num_layers=1)


@pytest.mark.parametrize("num_hidden", [1, 2, 3, 4, 5, 6])
def test_default_model_reads_every_depth(num_hidden):
    # The defaults (the reference's layout) must build for any spec, the paper's ModelNet INR included.
    gen = torch.Generator().manual_seed(20 + num_hidden)
    spec = nngraph.NetworkSpec((3, 32, 32, 32, 32, 32, 1)) if num_hidden == 5 else sine_spec(gen, num_hidden)
    model = RelationTransformer(spec, 10).eval()
    batch = random_batch(spec, 2, gen)
    with torch.no_grad():
        logits = model(batch)
        diff = logits - model(nngraph.permute(batch, nontrivial_perms(batch, gen)))
    assert logits.shape == (2, 10) and torch.isfinite(logits).all()
    assert diff.abs().max() < 1e-4


def test_attention_scale_total_is_the_reference_and_differs_from_per_head():
    gen = torch.Generator().manual_seed(4)
    spec = nngraph.NetworkSpec((2, 5, 4, 1))
    batch = random_batch(spec, 3, gen)
    total = RelationTransformer(spec, 3, **SMALL).eval()
    head = RelationTransformer(spec, 3, **SMALL, attention_scale="head").eval()
    head.load_state_dict(total.state_dict())
    assert total.layers[0].logit_scale == pytest.approx(SMALL["attention_dim"] ** -0.5)
    assert head.layers[0].logit_scale is None  # the attention's default, 1/sqrt(head width)
    with torch.no_grad():
        assert (total(batch) - head(batch)).abs().max() > 1e-5


def test_graphs_of_a_batch_do_not_interact():
    gen = torch.Generator().manual_seed(1)
    spec = nngraph.NetworkSpec((2, 6, 5, 1))
    model = RelationTransformer(spec, 3, **SMALL).eval()
    batch = random_batch(spec, 5, gen, y=torch.arange(5))
    graphs = batch.to_data_list()
    with torch.no_grad():
        together = model(batch)
        alone = torch.cat([model(g) for g in graphs])  # a single Data is a batch of one
        via_pyg = model(Batch.from_data_list(graphs))
    assert torch.allclose(together, alone, atol=1e-5)
    assert torch.allclose(together, via_pyg, atol=1e-6)


@pytest.mark.parametrize("attention", ["edges", "all"])
def test_learns_a_task_that_needs_invariance(attention):
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    spec = nngraph.NetworkSpec((2, 8, 8, 1))
    model = RelationTransformer(spec, 2, attention=attention, **{**SMALL, "node_dim": 32, "edge_dim": 16,
                                                                  "attention_dim": 32})
    losses = train(model, TwoNetworkTask(spec, gen, noise=0.5), steps=150, lr=1e-3)
    assert sum(losses[:10]) / 10 > 0.4  # starts near chance, ln 2 = 0.69
    assert sum(losses[-30:]) / 30 < 0.15


def test_rejects_batches_it_was_not_built_for():
    gen = torch.Generator().manual_seed(0)
    spec = nngraph.NetworkSpec((2, 6, 5, 1))
    model = RelationTransformer(spec, 3, **SMALL)
    for other in (nngraph.NetworkSpec((3, 6, 5, 1)), nngraph.NetworkSpec((2, 6, 5, 2)),
                  nngraph.NetworkSpec((2, 6, 5, 4, 1)), nngraph.NetworkSpec((2, 6, 5, 1), "relu")):
        with pytest.raises(ValueError, match="built for"):
            model(random_batch(other, 2, gen))
        mixed = Batch.from_data_list(random_batch(spec, 1, gen).to_data_list() + random_batch(other, 1, gen).to_data_list())
        with pytest.raises(ValueError, match="built for"):
            model(mixed)
    broken = random_batch(spec, 2, gen)
    broken.edge_attr = broken.edge_attr[:-1]
    with pytest.raises(ValueError, match="edge_attr"):
        model(broken)


@pytest.mark.parametrize("kwargs, match", [
    (dict(attention="dense"), "attention"),
    (dict(readout="mean"), "readout"),
    (dict(num_heads=3), "attention_dim"),
    (dict(num_layers=0), "num_layers"),
    (dict(node_dim=0), "node_dim"),
    (dict(dropout=1.0), "dropout"),
])
def test_rejects_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RelationTransformer(nngraph.NetworkSpec((2, 4, 1)), 2, **kwargs)
    with pytest.raises(ValueError, match="spec"):
        RelationTransformer((2, 4, 1), 2)


def test_state_dict_round_trip_keeps_the_fourier_frequencies():
    spec = nngraph.NetworkSpec((2, 4, 3, 1))
    a, b = RelationTransformer(spec, 2, **SMALL).eval(), RelationTransformer(spec, 2, **SMALL).eval()
    b.load_state_dict(a.state_dict())
    batch = random_batch(spec, 2, torch.Generator().manual_seed(0))
    with torch.no_grad():
        assert torch.equal(a(batch), b(batch))


MIXED = [nngraph.NetworkSpec((2, 6, 5, 1)), nngraph.NetworkSpec((2, 9, 1)), nngraph.NetworkSpec((2, 4, 7, 3, 1))]


@pytest.mark.parametrize("attention, readout", LAYOUTS)
def test_a_batch_of_several_architectures_in_one_pass(attention, readout):
    # Widths and depths differ; each graph's logits are those it gets alone, and stay put when its
    # hidden neurons are permuted.
    gen = torch.Generator().manual_seed(5)
    layers = 4 if (attention, readout) == ("edges", "output") else 2
    model = RelationTransformer(MIXED[0], 3, **{**SMALL, "num_layers": layers, "attention": attention,
                                                "readout": readout, "max_hidden_layers": 3}).eval()
    graphs = [g for i in (0, 1, 2, 0, 2, 1) for g in random_batch(MIXED[i], 1, gen).to_data_list()]
    ones = [nngraph.collate([g]) for g in graphs]
    permuted = [nngraph.permute(b, nontrivial_perms(b, gen)).to_data_list()[0] for b in ones]
    with torch.no_grad():
        logits = model(Batch.from_data_list(graphs))
        alone = torch.cat([model(Batch.from_data_list([g])) for g in graphs])
        logits_permuted = model(Batch.from_data_list(permuted))
        same_spec = model(Batch.from_data_list([graphs[0], graphs[3]]))  # the fast path
    assert logits.shape == (6, 3)
    assert (logits - alone).abs().max() < 1e-5 and (logits - logits_permuted).abs().max() < 1e-4
    assert torch.allclose(same_spec, logits[[0, 3]], atol=1e-5)
    assert (logits[1] - logits[2]).abs().max() > 1e-4


def test_mixed_batches_train():
    gen = torch.Generator().manual_seed(6)
    model = RelationTransformer(MIXED[0], 2, **{**SMALL, "max_hidden_layers": 3})
    batch = Batch.from_data_list([g for s in MIXED for g in random_batch(s, 2, gen, y=torch.tensor([0, 1])).to_data_list()])
    loss = torch.nn.functional.cross_entropy(model(batch), batch.y)
    loss.backward()
    assert torch.isfinite(loss) and model.role.weight.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="max_hidden_layers"):
        RelationTransformer(MIXED[0], 2, max_hidden_layers=1)
