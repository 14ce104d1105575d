import pytest
import torch
from torch_geometric.transforms import Compose

import nngraph
from nngraph.augment import (AUGMENTATIONS, Identity, Mixup, RandomPermutation, SirenNegation, Translate, build)

SINE = nngraph.NetworkSpec((2, 8, 8, 1))
RELU = nngraph.NetworkSpec((2, 8, 8, 1), activation="relu")


def graphs_of(spec, n=4):
    return [nngraph.to_graph(nngraph.Siren(spec), y=i % 3) for i in range(n)]


@pytest.mark.parametrize("name", sorted(AUGMENTATIONS))
def test_every_name_builds_and_runs_on_data_and_batch(name):
    spec = RELU if name == "relu_scale" else SINE
    graphs = graphs_of(spec)
    on_data = build(name, num_classes=3, dataset=graphs)
    on_batch = build(name, num_classes=3)
    out = on_data(graphs[0])
    assert out.edge_attr.shape == graphs[0].edge_attr.shape
    batch_out = on_batch(nngraph.collate(graphs))
    assert batch_out.num_graphs == 4
    if name.startswith("mixup"):
        assert isinstance(on_batch, Mixup) and on_batch.dataset is None and on_data.dataset is graphs
        assert out.y.shape == (1, 3) and batch_out.y.shape == (4, 3)
    else:
        assert torch.equal(out.y, graphs[0].y)


def test_combinations_compose_in_order():
    t = build("siren_negation+translate+permutation")
    assert isinstance(t, Compose)
    assert [type(s) for s in t.transforms] == [SirenNegation, Translate, RandomPermutation]
    assert "SirenNegation(p=0.5)" in repr(t) and "Translate(max_offset=0.25)" in repr(t)
    assert isinstance(build("none"), Identity) and isinstance(build("none+translate"), Translate)
    g = graphs_of(SINE, 1)[0]
    assert build("none")(g) is not None and torch.equal(build("none")(g).edge_attr, g.edge_attr)
    batch = nngraph.collate(graphs_of(SINE))
    out = build("siren_negation + translate + mixup_weight_matching", num_classes=3)(batch)
    assert out.y.shape == (4, 3)


def test_unknown_names_and_missing_classes():
    with pytest.raises(ValueError, match="unknown augmentation.*'rotation'.*siren_negation"):
        build("translate+rotation")
    with pytest.raises(ValueError, match="names"):
        build("")
    with pytest.raises(ValueError, match="num_classes"):
        build("mixup")


def test_options_override_the_defaults_of_the_named_transform():
    t = build("siren_negation+mixup", num_classes=3, options={"siren_negation": {"p": 1.0}, "mixup": {"lam_range": (0.8, 1.0)}})
    negation, mixup = t.transforms
    assert negation.p == 1.0 and mixup.lam_range == (0.8, 1.0)
    assert build("mixup", num_classes=3).lam_range == (0.0, 1.0)
    assert build("noise", options={"noise": {"scale": 0.1}}).scale == 0.1
    with pytest.raises(ValueError, match=r"options: given for \['noise'\].*\['translate'\]"):
        build("translate", options={"noise": {"scale": 0.1}})
    with pytest.raises(ValueError, match=r"options\['translate'\].*'offset'"):
        build("translate", options={"translate": {"offset": 0.1}})
    with pytest.raises(ValueError, match=r"options\['translate'\]: expected a dict"):
        build("translate", options={"translate": 0.1})
