import json

import pytest
import torch

import nngraph
from nngraph.experiments import probe_features
from nngraph.experiments.fit_inrs import build as build_inrs


def test_layer_statistics_are_the_per_layer_moments_and_ignore_neuron_order():
    spec = nngraph.NetworkSpec((2, 8, 8, 1))
    batch = nngraph.collate([nngraph.to_graph(nngraph.Siren(spec)) for _ in range(3)])
    weights, biases = nngraph.layer_views(batch)
    stats = probe_features.layer_statistics(weights, biases)
    assert stats.shape == (3, 7 * 2 * spec.num_layers)
    w0 = weights[0][1].flatten()
    assert torch.allclose(stats[1, :7], torch.cat([w0.mean()[None], w0.std(correction=0)[None],
                                                   w0.quantile(torch.tensor([0, 0.25, 0.5, 0.75, 1.0]))]))
    permuted = nngraph.permute(batch, nngraph.random_perms(batch))
    assert torch.allclose(probe_features.layer_statistics(*nngraph.layer_views(permuted)), stats, atol=1e-6)
    assert torch.isfinite(stats).all()  # the one-bias output layer has std 0, not NaN


def test_probe_reads_a_linear_signal_and_not_noise():
    gen = torch.Generator().manual_seed(0)
    direction = torch.randn(20, generator=gen)

    def split(n):
        x = torch.randn(n, 20, generator=gen)
        return x, (x @ direction > 0).long()

    r = probe_features.probe(split(400), split(200), split(200), num_classes=2)
    assert r["test"] > 0.95
    x, _ = split(400)
    noise = probe_features.probe((x, torch.randint(2, (400,), generator=gen)), split(200), split(200), 2)
    assert noise["test"] < 0.65


def test_command_writes_every_probe(tmp_path):
    data = tmp_path / "inrs"
    build_inrs("fmnist-subset", data, limit=30, steps=5, progress=False)
    out = tmp_path / "probe.json"
    results = probe_features.main(["--data", str(data), "--out", str(out), "--threads", "1"])
    written = json.loads(out.read_text())
    assert set(written["probes"]) == set(probe_features.FEATURES) == set(results)
    assert all(0 <= r["test"] <= 1 and r["dim"] > 0 for r in results.values())
    with pytest.raises(ValueError, match="not a directory"):
        probe_features.main(["--data", str(tmp_path / "missing")])
