import pytest
import torch
from scipy.stats import ks_2samp

import nngraph
from nngraph.augment import Mixup

SPEC = nngraph.NetworkSpec((2, 16, 16, 1))


def distinct_class_graphs(n, spec=SPEC):
    """Graph ``i`` has class ``i``: a soft label then tells which graphs were mixed, and lambda."""
    return [nngraph.to_graph(nngraph.Siren(spec), y=i) for i in range(n)]


def lambdas_and_partners(out, y):
    """Per graph: lambda (the weight of its own class) and the partner's class (its own when the
    label is all on its class: a graph mixed with itself)."""
    soft = out.y.reshape(len(y), -1)
    lam = soft[torch.arange(len(y)), y]
    rest = soft.clone()
    rest[torch.arange(len(y)), y] = 0
    return lam, torch.where(rest.sum(1) > 0, rest.argmax(1), y)


def check_soft_labels(y, B, C):
    assert y.shape == (B, C) and y.dtype == torch.float32
    assert (y >= 0).all() and torch.allclose(y.sum(1), torch.ones(B))


def test_lambda_one_returns_sample_and_zero_the_partner():
    graphs = distinct_class_graphs(4)
    mix = Mixup(graphs, num_classes=4)
    out = mix.mix(graphs[0], graphs[1], torch.ones(1))
    assert torch.equal(out.edge_attr, graphs[0].edge_attr) and torch.equal(out.x, graphs[0].x)
    assert torch.equal(out.y, torch.tensor([[1.0, 0, 0, 0]]))
    out = mix.mix(graphs[0], graphs[1], torch.zeros(1))
    assert torch.equal(out.edge_attr, graphs[1].edge_attr) and torch.equal(out.y, torch.tensor([[0, 1.0, 0, 0]]))


def test_mix_batch_equals_mix_of_each_graph():
    graphs = distinct_class_graphs(6)
    batch, partners = nngraph.collate(graphs), nngraph.collate(graphs[::-1])
    lam = torch.rand(6)
    mix = Mixup(None, num_classes=6)
    out = mix.mix(batch, partners, lam)
    check_soft_labels(out.y, 6, 6)
    for i in range(6):
        single = mix.mix(graphs[i], graphs[5 - i], lam[i:i + 1])
        ex = out.get_example(i)
        assert torch.allclose(single.edge_attr, ex.edge_attr) and torch.allclose(single.x, ex.x)
        assert torch.allclose(single.y, ex.y)


@pytest.mark.parametrize("from_dataset", [False, True])
def test_batch_paths_mix_with_recorded_partner_and_lambda(from_dataset):
    graphs = distinct_class_graphs(12)
    batch = nngraph.collate(graphs)
    before = batch.edge_attr.clone(), batch.x.clone()
    out = Mixup(graphs if from_dataset else None, num_classes=12)(batch)
    check_soft_labels(out.y, 12, 12)
    lam, partner = lambdas_and_partners(out, batch.y)
    if not from_dataset:  # a random cycle: everyone has a partner, no one is its own
        assert torch.equal(partner.sort().values, torch.arange(12)) and (partner != torch.arange(12)).all()
    params = nngraph.flat_params(batch)  # drawn from the dataset, a graph may meet itself: lam reads 1, still exact
    expected = lam.unsqueeze(1) * params + (1 - lam.unsqueeze(1)) * params[partner]
    assert torch.allclose(nngraph.flat_params(out), expected, atol=1e-6)
    assert torch.equal(batch.edge_attr, before[0]) and torch.equal(batch.x, before[1])


def test_data_and_batch_paths_agree_in_distribution():
    graphs = distinct_class_graphs(16)
    data_mix, batch_mix = Mixup(graphs, num_classes=16), Mixup(None, num_classes=16)
    lam_data, mean_data = [], []
    for _ in range(25):
        for g in graphs:
            out = data_mix(g)
            check_soft_labels(out.y, 1, 16)
            lam, partner = lambdas_and_partners(out, g.y)
            if partner.item() != g.y.item():
                lam_data.append(lam)
            mean_data.append(nngraph.flat_params(out))
    batch = nngraph.collate(graphs)
    lam_batch, mean_batch = [], []
    for _ in range(25):
        out = batch_mix(batch)
        lam_batch.append(lambdas_and_partners(out, batch.y)[0])
        mean_batch.append(nngraph.flat_params(out))
    lam_data, lam_batch = torch.cat(lam_data), torch.cat(lam_batch)
    for lam in (lam_data, lam_batch):  # U(0, 1)
        assert abs(lam.mean().item() - 0.5) < 0.05 and abs(lam.var().item() - 1 / 12) < 0.015
    assert ks_2samp(lam_data.numpy(), lam_batch.numpy()).pvalue > 1e-3
    # over many draws, a mixed network's parameters average to the dataset mean in both paths
    mean = nngraph.flat_params(batch).mean(0)
    spread = nngraph.flat_params(batch).std(0).mean()
    for m in (torch.cat(mean_data).mean(0), torch.cat(mean_batch).mean(0)):
        assert (m - mean).abs().mean() < 0.1 * spread


def test_lam_range_bounds_the_weight_of_each_sample():
    graphs = distinct_class_graphs(16)
    batch = nngraph.collate(graphs)
    mix = Mixup(None, num_classes=16, lam_range=(0.8, 1.0))
    lam = torch.cat([lambdas_and_partners(mix(batch), batch.y)[0] for _ in range(20)])
    assert lam.min() >= 0.8 - 1e-6 and lam.max() <= 1.0 + 1e-6
    assert abs(lam.mean().item() - 0.9) < 0.01  # U(0.8, 1): spread over the interval, not stuck at an end
    fixed = Mixup(None, num_classes=16, lam_range=(0.5, 0.5))
    assert torch.allclose(lambdas_and_partners(fixed(batch), batch.y)[0], torch.full((16,), 0.5))


@pytest.mark.parametrize("alignment,signed", [("weight_matching", False), ("signed_weight_matching", True)])
def test_aligned_mixup_of_planted_copies_is_the_sample(alignment, signed):
    spec = nngraph.NetworkSpec((2, 32, 32, 1))
    g = nngraph.to_graph(nngraph.Siren(spec), y=0)
    copies = []
    for c in range(1, 5):  # the same network, relabeled (and negated), under other classes
        perms = nngraph.random_perms(g)
        signs = [torch.randint(0, 2, p.shape) * 2.0 - 1 for p in perms] if signed else None
        copy = nngraph.permute(g, perms, signs)
        copy.y = torch.tensor([c])
        copies.append(copy)
    out = Mixup(copies, alignment=alignment, num_classes=5)(g)
    assert torch.allclose(out.edge_attr, g.edge_attr, atol=1e-6) and torch.allclose(out.x, g.x, atol=1e-6)
    batch = nngraph.collate([g] + copies)
    out = Mixup(None, alignment=alignment, num_classes=5)(batch)
    assert torch.allclose(out.edge_attr, batch.edge_attr, atol=1e-6)
    unaligned = Mixup(copies, alignment="none", num_classes=5)(g)
    assert not torch.allclose(unaligned.edge_attr, g.edge_attr, atol=1e-3)


def test_permutation_alignment_keeps_partner_function():
    graphs = distinct_class_graphs(4)
    mix = Mixup(graphs, alignment="permutation", num_classes=4)
    partner = mix.align(graphs[0], graphs[1])
    x = torch.rand(100, 2) * 2 - 1
    with torch.no_grad():
        assert (nngraph.to_module(partner)(x) - nngraph.to_module(graphs[1])(x)).abs().max() < 1e-5
    assert not torch.equal(partner.edge_attr, graphs[1].edge_attr)
    batch = nngraph.collate(graphs)
    check_soft_labels(Mixup(None, alignment="permutation", num_classes=4)(batch).y, 4, 4)


def test_soft_labels_compose_and_mixup_inside_its_own_dataset():
    class Transformed(list):  # a dataset that applies the transform on access, as PyG datasets do
        transform = None

        def __getitem__(self, i):
            return self.transform(super().__getitem__(i))

    data = Transformed(distinct_class_graphs(5))
    data.transform = Mixup(data, num_classes=5)
    out = data[0]  # the partner is drawn without being mixed again
    check_soft_labels(out.y, 1, 5)
    twice = Mixup(None, num_classes=5)(nngraph.collate([data[i] for i in range(5)]))
    check_soft_labels(twice.y, 5, 5)


def test_bad_input():
    graphs = distinct_class_graphs(3)
    with pytest.raises(ValueError, match="alignment"):
        Mixup(graphs, alignment="optimal", num_classes=3)
    with pytest.raises(ValueError, match="num_classes"):
        Mixup(graphs)
    for bad in ((0.5, 0.2), (-0.1, 1.0), (0.0, 1.5), (0.5,), "ab"):
        with pytest.raises(ValueError, match="lam_range"):
            Mixup(graphs, num_classes=3, lam_range=bad)
    with pytest.raises(ValueError, match="expected a Batch"):
        Mixup(None, num_classes=3)(graphs[0])
    with pytest.raises(ValueError, match=r"class indices in \[0, 2\)"):
        Mixup(graphs, num_classes=2)(graphs[2])
    relu = [nngraph.to_graph(nngraph.Siren(nngraph.NetworkSpec((2, 4, 1), "relu")), y=0) for _ in range(2)]
    with pytest.raises(ValueError, match="odd activations"):
        Mixup(None, alignment="signed_weight_matching", num_classes=1)(nngraph.collate(relu))
    with pytest.raises(ValueError, match="partner"):
        Mixup(relu, num_classes=3)(graphs[0])
    with pytest.raises(ValueError, match="labels"):
        Mixup(None, num_classes=3)(nngraph.collate([nngraph.to_graph(nngraph.Siren(SPEC))] * 2))
