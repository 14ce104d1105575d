import pytest
import torch

import nngraph
from nngraph.models import DWSNet, RelationTransformer


@pytest.fixture(autouse=True)
def _one_thread():
    # These models are tiny: thread hand-offs cost more than they save, far more on a shared CPU.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# One small model of each kind on one spec, without dropout (deterministic in training mode): for
# the checks of a whole model on another device or in another precision.
SMALL_SPEC = nngraph.NetworkSpec((2, 16, 12, 1))
SMALL_MODELS = ("rt_edges", "rt_all", "dws")


def small_model_and_batch(name: str):
    """``(model, batch of 6 with labels, generator)``, the same for the same ``name``."""
    gen = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    if name == "dws":
        model = DWSNet(SMALL_SPEC, 4, hidden_dim=32, num_layers=2)
    else:
        model = RelationTransformer(SMALL_SPEC, 4, num_layers=3, attention=name[3:], dropout=0.0)
    return model, random_batch(SMALL_SPEC, 6, gen, y=torch.arange(6) % 4), gen


def sine_spec(gen: torch.Generator, num_hidden: int, max_width: int = 10) -> nngraph.NetworkSpec:
    """A SIREN spec with ``num_hidden`` hidden layers of random widths 2..max_width."""
    widths = torch.randint(2, max_width + 1, (num_hidden,), generator=gen).tolist()
    d_in, d_out = (int(torch.randint(1, 4, (1,), generator=gen)) for _ in range(2))
    return nngraph.NetworkSpec((d_in, *widths, d_out))


def random_batch(spec: nngraph.NetworkSpec, batch_size: int, gen: torch.Generator, y=None):
    weights, biases = nngraph.init_params(spec, batch_size, generator=gen)
    params = torch.cat([w.reshape(batch_size, -1) for w in weights] + biases, dim=1)
    return nngraph.to_batch(params, spec, y=y)


def nontrivial_perms(batch, gen: torch.Generator) -> list[torch.Tensor]:
    """Per-graph random permutations ``[B, n_l]`` of every hidden layer, not all identities."""
    while True:
        perms = nngraph.random_perms(batch, generator=gen)
        if any((p != torch.arange(p.shape[1])).any() for p in perms):
            return perms


def assert_every_layer_reaches_the_logits(model: torch.nn.Module, spec: nngraph.NetworkSpec, gen: torch.Generator):
    """Changing any one layer's weights, or its biases, changes the logits: no parameter is out of sight."""
    batch = random_batch(spec, 2, gen)
    params = nngraph.flat_params(batch)
    no_edge, no_bias = torch.full((spec.num_edges,), -1), torch.full((params.shape[1] - spec.num_edges,), -1)
    weight_layer = torch.cat([spec.edge_layer, no_bias])
    bias_layer = torch.cat([no_edge, spec.node_layer[spec.layer_sizes[0]:] - 1])
    with torch.no_grad():
        logits = model(batch)
        for what, layer_of_param in (("weights", weight_layer), ("biases", bias_layer)):
            for l in range(spec.num_layers):
                moved = params + torch.randn(params.shape, generator=gen) * (layer_of_param == l)
                change = (model(nngraph.with_flat_params(batch, moved)) - logits).abs().max()
                assert change > 1e-6, f"layer {l}'s {what} do not reach the logits"


class TwoNetworkTask:
    """Which of two fixed random SIRENs is a noisy copy made from? Each copy gets noise (a fraction
    of each layer's spread) and random hidden-neuron permutations, so a classifier must read the
    weights up to permutation; inputs are standardised per layer as the data pipeline does."""

    def __init__(self, spec: nngraph.NetworkSpec, gen: torch.Generator, noise: float = 0.3):
        self.spec, self.gen, self.noise = spec, gen, noise
        self.prototypes = nngraph.flat_params(random_batch(spec, 2, gen))
        weights, biases = nngraph.layer_views(nngraph.to_batch(self.prototypes, spec))
        w_std, b_std = torch.stack([w.std() for w in weights]), torch.stack([b.std() for b in biases])
        self.spread = torch.cat([w_std[spec.edge_layer], b_std.repeat_interleave(torch.tensor(spec.layer_sizes[1:]))])
        self.normalize = nngraph.Normalize({
            "weight_mean": [w.mean().item() for w in weights], "weight_std": w_std.tolist(),
            "bias_mean": [b.mean().item() for b in biases], "bias_std": b_std.tolist()})

    def sample(self, batch_size: int):
        y = torch.randint(0, 2, (batch_size,), generator=self.gen)
        noise = torch.randn(batch_size, self.spec.num_params, generator=self.gen) * self.spread
        batch = nngraph.to_batch(self.prototypes[y] + self.noise * noise, self.spec, y=y)
        batch = nngraph.permute(batch, nngraph.random_perms(batch, generator=self.gen))
        return self.normalize(batch)


def train(model: torch.nn.Module, task: TwoNetworkTask, steps: int, lr: float, batch_size: int = 32) -> list[float]:
    opt = torch.optim.AdamW(model.parameters(), lr=lr)
    losses = []
    for _ in range(steps):
        batch = task.sample(batch_size)
        loss = torch.nn.functional.cross_entropy(model(batch), batch.y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses
