"""Your own modules in and out: read as the MLP they compute, written back into your own keys."""
import copy

import pytest
import torch
from torch import nn

import nngraph
from nngraph import augment


class Sine(nn.Module):  # a user's own activation, with its own name for the frequency
    def __init__(self, w0=1.0):
        super().__init__()
        self.w0 = w0

    def forward(self, x):
        return torch.sin(self.w0 * x)


class SineLayer(nn.Module):  # the SIREN paper's layer: sin(omega_0 * linear(x))
    def __init__(self, i, o, omega_0=30.0):
        super().__init__()
        self.omega_0, self.linear = omega_0, nn.Linear(i, o)

    def forward(self, x):
        return torch.sin(self.omega_0 * self.linear(x))


class Shifted(nn.Module):  # an INR that adds a constant to its output
    def __init__(self, net, shift):
        super().__init__()
        self.net, self.shift = net, shift

    def forward(self, x):
        return self.net(x) + self.shift


def users_siren():
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Sequential(nn.Linear(2, 16), Sine(1.0), nn.Dropout(0.1)),
        nn.Sequential(nn.Sequential(nn.Linear(16, 16), Sine(1.0)), nn.Identity()),
        nn.Linear(16, 1))


def _out(module, x):
    with torch.no_grad():
        return module.eval()(x)


def test_a_users_own_siren_converts_and_comes_back_into_its_own_keys():
    net, x = users_siren(), torch.rand(300, 2) * 2 - 1
    g = nngraph.to_graph(net)
    assert g.spec == nngraph.NetworkSpec((2, 16, 16, 1), "sine", w0=1.0)
    assert (_out(nngraph.to_module(g), x) - _out(net, x)).abs().max() < 1e-6
    edited = nngraph.permute(g, nngraph.random_perms(g))  # same function, other weights
    state = nngraph.to_state_dict(edited, like=net)
    assert list(state) == list(net.state_dict()) and all(state[k].shape == v.shape for k, v in net.state_dict().items())
    mine = copy.deepcopy(net)
    mine.load_state_dict(state)
    assert (_out(mine, x) - _out(net, x)).abs().max() < 1e-6
    assert not torch.equal(state["0.0.weight"], net.state_dict()["0.0.weight"])
    assert list(nngraph.to_state_dict(g)) == ["seq.0.weight", "seq.0.bias", "seq.1.weight", "seq.1.bias",
                                              "seq.2.weight", "seq.2.bias"]
    assert list(nngraph.to_state_dict(g, like=net.state_dict())) == list(net.state_dict())


def test_siren_paper_layers_and_a_constant_output_shift_are_read():
    torch.manual_seed(1)
    net = Shifted(nn.Sequential(SineLayer(3, 8), SineLayer(8, 8), nn.Linear(8, 1)), 0.5)
    g = nngraph.to_graph(net)
    assert g.spec == nngraph.NetworkSpec((3, 8, 8, 1), "sine", 30.0, output_offset=0.5)
    x = torch.rand(100, 3) * 2 - 1
    assert (_out(nngraph.to_module(g), x) - _out(net, x)).abs().max() < 1e-5
    assert list(nngraph.to_state_dict(g, like=net)) == list(net.state_dict())


@pytest.mark.parametrize("act, name", [(nn.Tanh, "tanh"), (nn.GELU, "gelu"), (nn.SiLU, "silu"), (nn.ReLU, "relu")])
def test_elementwise_activations_convert_and_symmetries_refuse_them(act, name):
    net = nn.Sequential(nn.Linear(2, 8), act(), nn.Linear(8, 8), act(), nn.Linear(8, 1))
    g = nngraph.to_graph(net)
    x = torch.randn(64, 2)
    assert g.spec.activation == name and (_out(nngraph.to_module(g), x) - _out(net, x)).abs().max() < 1e-6
    for symmetry in (augment.SirenNegation(), augment.SirenBias()):
        with pytest.raises(ValueError, match="expected a network with sine activations"):
            symmetry(g.clone())
    if name != "relu":
        with pytest.raises(ValueError, match="expected a network with relu activations"):
            augment.ReLUScale()(g.clone())


def test_a_module_that_computes_something_else_is_refused_not_misread():
    class Residual(nn.Module):
        def __init__(self):
            super().__init__()
            self.a, self.act, self.b = nn.Linear(4, 4), nn.ReLU(), nn.Linear(4, 4)  # reads as an MLP...

        def forward(self, x):
            return x + self.b(self.act(self.a(x)))  # ...but has a skip connection

    net = nn.Sequential(Residual())
    with pytest.raises(ValueError, match="computes another function"):
        nngraph.to_graph(net)
    with pytest.raises(ValueError, match="spec: .* but the module computes"):
        nngraph.to_graph(users_siren(), spec=nngraph.NetworkSpec((2, 16, 16, 1), "sine", w0=30.0))


def tied():  # two hidden layers sharing one weight: its state dict cannot hold two
    a, b = nn.Linear(8, 8), nn.Linear(8, 8)
    b.weight = a.weight
    return nn.Sequential(nn.Linear(2, 8), Sine(30.0), a, Sine(30.0), b, Sine(30.0), nn.Linear(8, 1))


@pytest.mark.parametrize("like, says", [
    (nn.Sequential(nn.Linear(2, 16), nn.Tanh(), nn.Linear(16, 16), nn.Tanh(), nn.Linear(16, 1)), "activation tanh"),
    (nn.Sequential(nn.Linear(2, 16), Sine(2.0), nn.Linear(16, 16), Sine(2.0), nn.Linear(16, 1)), "w0 2.0"),
    (Shifted(nn.Sequential(nn.Linear(2, 16), Sine(1.0), nn.Linear(16, 16), Sine(1.0), nn.Linear(16, 1)), 0.5),
     "output offset 0.5"),
])
def test_to_state_dict_refuses_a_module_of_another_function(like, says):
    g = nngraph.to_graph(users_siren())  # sine, w0 = 1, no offset
    with pytest.raises(ValueError, match=f"like: .* has {says}, the graph's network"):
        nngraph.to_state_dict(g, like=like)


def test_to_state_dict_refuses_tied_weights():
    torch.manual_seed(0)
    spec = nngraph.NetworkSpec((2, 8, 8, 8, 1), "sine", 30.0)
    g = nngraph.to_graph(torch.randn(spec.num_params) * 0.1, spec)
    with pytest.raises(ValueError, match="like: Sequential loaded with the graph's parameters"):
        nngraph.to_state_dict(g, like=tied())
