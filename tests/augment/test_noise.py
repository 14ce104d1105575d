import torch

import nngraph
from nngraph.augment import GaussianNoise


def test_noise_is_scaled_by_each_tensor_std():
    spec = nngraph.NetworkSpec((2, 8, 6, 1))
    graphs = [nngraph.to_graph(nngraph.Siren(spec)) for _ in range(3)]
    batch = nngraph.collate(graphs)
    eps = GaussianNoise().sample(batch)
    out = GaussianNoise(0.5).apply(batch, eps)
    for i, g in enumerate(graphs):
        (w, b), (w2, b2) = nngraph.to_params(g), nngraph.to_params(out.get_example(i))
        # expected, tensor by tensor, in flat order: weights, then biases
        offset = 0
        for t, t2 in zip(w + b, w2 + b2):
            e = eps[i, offset:offset + t.numel()].reshape(t.shape)
            std = t.std() if t.numel() > 1 else torch.tensor(0.0)
            assert torch.allclose(t2, t + 0.5 * std * e, atol=1e-6)
            offset += t.numel()
        assert torch.equal(b2[-1], b[-1])  # a single output bias has no spread: no noise


def test_noise_level_statistics():
    spec = nngraph.NetworkSpec((2, 64, 64, 1))
    g = nngraph.to_graph(nngraph.Siren(spec))
    batch = nngraph.collate([g] * 64)
    out = GaussianNoise(0.32)(batch)
    w, _ = nngraph.layer_views(batch)
    w2, _ = nngraph.layer_views(out)
    for l in range(3):
        rel = (w2[l] - w[l]) / w[l][0].std()
        assert abs(rel.std().item() - 0.32) < 0.02 and abs(rel.mean().item()) < 0.02
    assert not torch.equal(w2[1][0], w2[1][1])  # independent per graph
