"""Properties every draw/apply transform shares: the Batch path equals the per-graph path under
the same draw, inputs are never written into, labels and structure are kept, draws are
reproducible with a generator and checked for shape."""
import pytest
import torch

from nngraph import augment
import nngraph
from nngraph.augment import (Dropout, GaussianNoise, QuantileDropout, RandomPermutation, ReLUScale, Rotate, Scale,
                     SirenBias, SirenNegation, Translate)

SINE = nngraph.NetworkSpec((2, 7, 5, 3, 1))
RELU = nngraph.NetworkSpec((3, 6, 4, 2), activation="relu")
CASES = [
    (Translate(), SINE), (Translate(0.5), RELU), (Rotate(), SINE), (Rotate(45.0), RELU), (Scale(), SINE),
    (GaussianNoise(), SINE), (GaussianNoise(0.1), RELU), (Dropout(), SINE), (Dropout(0.3, rescale=True), RELU),
    (QuantileDropout(), SINE), (QuantileDropout(0.5), RELU), (SirenNegation(), SINE), (SirenBias(), SINE),
    (ReLUScale(), RELU), (RandomPermutation(), SINE), (RandomPermutation(), RELU),
]


def graphs_of(spec, n=5):
    return [nngraph.to_graph(nngraph.Siren(spec), y=i % 3) for i in range(n)]


def draw_of(draw, i):
    return [d[i:i + 1] for d in draw] if isinstance(draw, list) else draw[i:i + 1]


@pytest.mark.parametrize("transform,spec", CASES, ids=lambda c: repr(c))
def test_batch_equals_data_path_and_input_untouched(transform, spec):
    graphs = graphs_of(spec)
    batch = nngraph.collate(graphs)
    saved = [(g.x.clone(), g.edge_attr.clone()) for g in graphs] + [(batch.x.clone(), batch.edge_attr.clone())]
    draw = transform.sample(batch)
    out = transform.apply(batch, draw)
    assert out.num_graphs == len(graphs) and torch.equal(out.y, batch.y)
    assert torch.equal(out.edge_index, batch.edge_index) and torch.equal(out.batch, batch.batch)
    assert not torch.equal(out.edge_attr, batch.edge_attr) or not torch.equal(out.x, batch.x)
    for i, g in enumerate(graphs):
        single = transform.apply(g, draw_of(draw, i))
        assert torch.allclose(single.edge_attr, out.get_example(i).edge_attr, atol=1e-7, rtol=0)
        assert torch.allclose(single.x, out.get_example(i).x, atol=1e-7, rtol=0)
        assert torch.equal(single.y, g.y) and single.spec == g.spec
        assert torch.equal(single.x[:spec.layer_sizes[0]], torch.zeros(spec.layer_sizes[0], 1))  # input nodes
    transform(graphs[0]), transform(batch)  # the transform's own forward, on Data and Batch
    for (x, e), g in zip(saved, graphs + [batch]):
        assert torch.equal(g.x, x) and torch.equal(g.edge_attr, e)


@pytest.mark.parametrize("transform,spec", CASES, ids=lambda c: repr(c))
def test_draws_reproducible_independent_and_checked(transform, spec):
    batch = nngraph.collate(graphs_of(spec, 8))
    d1 = transform.sample(batch, torch.Generator().manual_seed(3))
    d2 = transform.sample(batch, torch.Generator().manual_seed(3))
    flat1 = torch.cat([d.reshape(8, -1).double() for d in (d1 if isinstance(d1, list) else [d1])], 1)
    flat2 = torch.cat([d.reshape(8, -1).double() for d in (d2 if isinstance(d2, list) else [d2])], 1)
    assert torch.equal(flat1, flat2)
    if flat1.shape[1] * 8 > 16 and not isinstance(transform, (QuantileDropout,)):
        assert len({tuple(r.tolist()) for r in flat1}) > 1  # graphs of a batch get their own draws
    wrong = draw_of(d1, 0)  # a one-graph draw for an 8-graph batch
    with pytest.raises(ValueError, match="expected"):
        transform.apply(batch, wrong)


def test_repr_prints_arguments():
    assert repr(Translate(0.1)) == "Translate(max_offset=0.1)"
    assert repr(Dropout(0.2, rescale=True)) == "Dropout(p=0.2, rescale=True)"
    assert repr(SirenBias(-2, 2)) == "SirenBias(k_min=-2, k_max=2)"
    assert repr(RandomPermutation()) == "RandomPermutation()"


@pytest.mark.parametrize("make", [lambda: Translate(-1), lambda: Scale(1.0), lambda: Dropout(1.0),
                                  lambda: QuantileDropout(1.5), lambda: SirenNegation(2),
                                  lambda: SirenBias(3, 1), lambda: SirenBias(0.5, 1), lambda: ReLUScale(1.0),
                                  lambda: GaussianNoise("a")])
def test_bad_arguments(make):
    with pytest.raises(ValueError, match="expected"):
        make()


def test_float64_graphs_stay_float64():
    spec = nngraph.NetworkSpec((2, 5, 1))
    g = nngraph.to_graph(torch.randn(spec.num_params, dtype=torch.float64), spec)
    g.x, g.edge_attr = g.x.double(), g.edge_attr.double()
    for t in (Translate(), Rotate(), GaussianNoise(), QuantileDropout(), SirenBias(), SirenNegation()):
        out = t(g)
        assert out.x.dtype == torch.float64 and out.edge_attr.dtype == torch.float64


@pytest.mark.parametrize("make", [lambda v: augment.Translate(max_offset=v), lambda v: augment.Rotate(max_degrees=v),
                                  lambda v: augment.Scale(max_change=v), lambda v: augment.GaussianNoise(scale=v),
                                  lambda v: augment.Mixup(None, num_classes=3, lam_range=(0.0, v))])
@pytest.mark.parametrize("value", [float("inf"), float("nan")])
def test_non_finite_options_are_refused(make, value):
    with pytest.raises(ValueError, match="expected"):
        make(value)
