"""Defaults that used to surprise: each fixed, each checked."""
import pytest
import torch

import nngraph
from nngraph.experiments import fit_inrs
from nngraph.models import DWSNet

SPEC = nngraph.NetworkSpec((2, 8, 8, 1))


def test_fit_inrs_writes_under_the_working_folder_not_the_package(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    fit_inrs.main(["--limit", "3", "--steps", "1", "--no-progress", "--device", "cpu"])
    assert (tmp_path / "runs" / "inrs" / "fmnist-subset-v1" / "manifest.json").is_file()


def test_dwsnet_refuses_a_training_batch_of_one_with_advice():
    model = DWSNet(SPEC, 10, hidden_dim=4, num_layers=1, readout_hidden=4)
    one = nngraph.to_batch(torch.randn(1, SPEC.num_params), SPEC)
    with pytest.raises(ValueError, match="a training batch of one network.*drop_last=True.*eval"):
        model.train()(one)
    assert model.eval()(one).shape == (1, 10)


def test_coordinate_grid_takes_a_tuple_as_render_image_does():
    assert torch.equal(nngraph.coordinate_grid((28, 28)), nngraph.coordinate_grid(28, 28))
    with pytest.raises(ValueError, match="positive integer grid sizes"):
        nngraph.coordinate_grid(28.5, 3)


def test_the_graph_loader_keeps_a_users_collate_fn():
    graphs = [nngraph.to_graph(torch.randn(SPEC.num_params), SPEC) for _ in range(4)]
    loader = nngraph.DataLoader(graphs, batch_size=2, collate_fn=len)
    assert list(loader) == [2, 2]
    assert next(iter(nngraph.DataLoader(graphs, batch_size=2))).num_graphs == 2


def test_permute_refuses_indices_that_are_not_a_permutation():
    g = nngraph.to_graph(torch.randn(SPEC.num_params), SPEC)
    ok = torch.arange(8)
    for bad in (torch.tensor([0, 0, 1, 2, 3, 4, 5, 6]), torch.tensor([0, 1, 2, 3, 4, 5, 6, 8])):
        with pytest.raises(ValueError, match=r"perms\[1\]: not a permutation of 0\.\.7"):
            nngraph.permute(g, [ok, bad])


def test_a_structure_changing_transform_is_named_in_the_error():
    from torch_geometric.transforms import ToUndirected
    g = ToUndirected()(nngraph.to_graph(torch.randn(SPEC.num_params), SPEC))
    with pytest.raises(ValueError, match="changes the graph's structure \\(such as ToUndirected\\)"):
        nngraph.layer_views(g)
    with pytest.raises(ValueError, match="such as ToUndirected"):
        DWSNet(SPEC, 10, hidden_dim=4, num_layers=1, readout_hidden=4).eval()(g)


def test_fit_inrs_defaults_to_the_recipe_its_spec_names():
    """The reference INR's spec (it adds 0.5) fits with the reference initialisation by default, as
    ``nngraph-fit`` does; a plain SIREN spec with SIREN's."""
    import torch
    import nngraph
    from nngraph.datasets.fitting import init_flat
    coords, targets = nngraph.coordinate_grid(4, 4), torch.rand(2, 16, 1)
    for offset, init in ((0.5, "reference"), (0.0, "siren")):
        spec = nngraph.NetworkSpec((2, 8, 8, 1), output_offset=offset)
        fit = nngraph.fit_inrs(coords, targets, spec, steps=0, seeds=[3, 4], progress=False)
        assert torch.equal(fit.params, init_flat(spec, torch.tensor([3, 4]), init)), init


def test_dwsnet_on_a_wide_mlp_is_refused_before_allocating():
    wide = nngraph.NetworkSpec((784, 32, 32, 10))
    with pytest.raises(ValueError, match=r"DWSNet: .*784-32-32-10.* at hidden_dim \d+ needs [\d,]+ weights .* GiB"):
        DWSNet(wide, 10)  # its defaults: hundreds of gigabytes
    DWSNet(nngraph.NetworkSpec((2, 32, 32, 1)), 10, hidden_dim=8, num_layers=1)  # the INRs' size is fine
