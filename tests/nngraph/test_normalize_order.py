"""Normalising before augmenting cannot be silently wrong: the order is checked."""
import pytest
import torch
from torch_geometric.data import Batch

from nngraph import augment
import nngraph

SPEC = nngraph.NetworkSpec((2, 16, 16, 1), output_offset=0.5)
STATS = {"weight_mean": [0.1, -0.2, 0.3], "weight_std": [0.5, 0.2, 0.7], "bias_mean": [0.05, 0.1, -0.4],
         "bias_std": [0.3, 0.2, 0.1]}


def _batch(n=4):
    return nngraph.to_batch(torch.randn(n, SPEC.num_params) * 0.3, SPEC, torch.arange(n) % 3)


def _render(g):
    grid = nngraph.coordinate_grid(8, 8)
    return nngraph.to_module(g)(grid)


@pytest.mark.parametrize("name", ["siren_negation", "siren_bias", "translate", "rotate", "scale", "noise", "dropout",
                                  "quantile_dropout", "mixup_signed_weight_matching"])
def test_raw_weight_transforms_refuse_a_normalised_graph_naming_the_order(name):
    t = augment.build(name, num_classes=3)
    norm = nngraph.Normalize(STATS)
    with pytest.raises(ValueError, match="the graph is normalised.*before Normalize"):
        t(norm(_batch()))
    t(_batch())  # the other order works


def test_the_right_order_keeps_the_symmetry_and_the_wrong_one_is_refused():
    g = nngraph.to_graph(torch.randn(SPEC.num_params) * 0.3, SPEC)
    norm = nngraph.Normalize(STATS)
    negate = augment.SirenNegation(p=1.0)
    augmented = norm(negate(g.clone()))  # augment first, normalise last: the function is kept
    assert torch.allclose(_render(norm.inverse(augmented)), _render(g), atol=1e-4)
    with pytest.raises(ValueError, match="SirenNegation: the graph is normalised"):
        negate(norm(g.clone()))


def test_permutation_and_plain_mixup_act_correctly_on_a_normalised_graph():
    b, norm = _batch(), nngraph.Normalize(STATS)
    perm = augment.RandomPermutation()
    draw = perm.sample(b)
    assert torch.allclose(perm.apply(norm(b.clone()), draw).edge_attr, norm(perm.apply(b.clone(), draw)).edge_attr,
                          atol=1e-6)  # per-layer standardisation commutes with relabelling
    augment.build("mixup_weight_matching", num_classes=3)(norm(b.clone()))


def test_a_normalised_graph_is_not_read_as_a_network_and_normalize_runs_once():
    g = nngraph.to_graph(torch.randn(SPEC.num_params), SPEC)
    norm = nngraph.Normalize(STATS)
    n = norm(g.clone())
    assert nngraph.is_normalized(n) and not nngraph.is_normalized(g)
    for read in (nngraph.to_module, nngraph.to_params):
        with pytest.raises(ValueError, match=f"{read.__name__}: the graph is normalised"):
            read(n)
    with pytest.raises(ValueError, match="already normalised"):
        norm(n)
    back = norm.inverse(n)
    assert not nngraph.is_normalized(back) and torch.allclose(back.edge_attr, g.edge_attr, atol=1e-6)
    assert torch.allclose(back.x, g.x, atol=1e-6)
    assert nngraph.is_normalized(Batch.from_data_list([n, n]))  # the flag survives PyG's collate


def test_the_flag_survives_splitting_a_normalised_batch_and_inverse_checks_its_statistics():
    b, norm = _batch(), nngraph.Normalize(STATS)
    n = norm(b.clone())
    parts = [n[0], n[len(n) - 1], *n.to_data_list()]
    for g in parts:  # every guard still sees it
        assert nngraph.is_normalized(g)
        with pytest.raises(ValueError, match="already normalised"):
            norm(g.clone())
        with pytest.raises(ValueError, match="to_module: the graph is normalised"):
            nngraph.to_module(g)
        with pytest.raises(ValueError, match="the graph is normalised"):
            augment.SirenNegation()(g.clone())
    assert nngraph.is_normalized(Batch.from_data_list(n.to_data_list()))
    back = norm.inverse(n[1])
    assert not nngraph.is_normalized(back) and torch.allclose(back.edge_attr, b[1].edge_attr, atol=1e-6)
    other = nngraph.Normalize({k: [2 * v for v in vals] for k, vals in STATS.items()})
    with pytest.raises(ValueError, match="normalised with other statistics"):
        other.inverse(n)
    with pytest.raises(ValueError, match="normalised with other statistics"):
        other.inverse(n[0])
    whole = norm.inverse(n)
    assert not nngraph.is_normalized(whole) and not nngraph.is_normalized(whole[0])


def test_a_batch_of_normalised_and_raw_graphs_is_refused_by_name():
    b, norm = _batch(), nngraph.Normalize(STATS)
    mixed = [norm(b[0]), b[1]]
    with pytest.raises(ValueError, match="collate: 1 of 2 graphs are normalised and the others raw"):
        nngraph.collate(mixed)
