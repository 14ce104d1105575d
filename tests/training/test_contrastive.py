"""Contrastive pre-training: the loss as defined, the null baseline as a measured null, and a
pre-trained encoder inside the classifier."""
import math

import lightning as L
import pytest
import torch

import nngraph
from nngraph import augment
from nngraph.experiments.fit_inrs import build as build_inrs
from nngraph.lightning import ContrastivePretrainer, INRDataModule, WeightSpaceClassifier, nt_xent
from nngraph.models import DWSNet, RelationTransformer

SMALL = {"dws": {"hidden_dim": 8, "num_layers": 1, "readout_hidden": 8},
         "rt": {"node_dim": 8, "edge_dim": 4, "num_layers": 2, "num_heads": 2, "readout_hidden": 8}}


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("inrs")
    build_inrs("fmnist-subset", out, views=3, limit=24, steps=2, progress=False)
    return out


def test_nt_xent_equals_a_direct_computation():
    torch.manual_seed(0)
    z1, z2 = torch.randn(3, 4), torch.randn(3, 4)
    tau = 0.5
    z = [v / v.norm() for v in torch.cat([z1, z2])]
    total = 0.0
    for i in range(6):
        j = (i + 3) % 6
        sims = {k: float(z[i] @ z[k]) / tau for k in range(6) if k != i}
        total += -math.log(math.exp(sims[j]) / sum(math.exp(s) for s in sims.values()))
    assert nt_xent(z1, z2, tau).item() == pytest.approx(total / 6, rel=1e-5)
    assert nt_xent(z1, z1 * 3.0, tau) < nt_xent(z1, z2, tau)  # aligned views score lower
    with pytest.raises(ValueError, match="B >= 2"):
        nt_xent(z1[:1], z2[:1])


@pytest.mark.parametrize("model", ["dws", "rt"])
def test_a_permutation_view_gives_identical_features(model):
    """The encoders are invariant, so permutation-only pre-training is a null baseline by design."""
    spec = nngraph.NetworkSpec((2, 8, 8, 1), output_offset=0.5)
    torch.manual_seed(1)
    encoder = (DWSNet if model == "dws" else RelationTransformer)(spec, 2, **SMALL[model]).eval()
    batch = nngraph.to_batch(0.3 * torch.randn(5, spec.num_params), spec, torch.zeros(5, dtype=torch.long))
    moved = augment.RandomPermutation()(batch.clone())
    assert not torch.equal(moved.edge_attr, batch.edge_attr)
    with torch.no_grad():
        assert torch.allclose(encoder.invariants(moved), encoder.invariants(batch), atol=1e-5)


def test_a_mixup_view_must_keep_its_inr_dominant():
    spec = nngraph.NetworkSpec((2, 8, 8, 1), output_offset=0.5)
    with pytest.raises(ValueError, match="needs lam_range within \\[0.5, 1\\]"):
        ContrastivePretrainer(spec, "dws", SMALL["dws"], view="mixup")
    ContrastivePretrainer(spec, "dws", SMALL["dws"], view="siren_negation+mixup",
                          view_options={"mixup": {"lam_range": [0.5, 1.0]}})


def _fit(module, dm, tmp_path, epochs=2):
    trainer = L.Trainer(max_epochs=epochs, accelerator="cpu", logger=False, enable_progress_bar=False,
                        enable_model_summary=False, default_root_dir=tmp_path)
    trainer.fit(module, datamodule=dm)
    return trainer


def test_pretraining_runs_and_its_encoder_loads_into_the_classifier(data, tmp_path):
    L.seed_everything(0)
    dm = INRDataModule(data, batch_size=8)
    module = ContrastivePretrainer(dm.spec, "dws", SMALL["dws"], view="siren_negation+noise")
    before = {k: v.clone() for k, v in module.encoder_state_dict().items()}
    trainer = _fit(module, dm, tmp_path)
    assert module.normalize is dm.normalize and module.hparams.normalize is not None  # from the data module
    trained = module.encoder_state_dict()
    assert any(not torch.equal(trained[k], before[k]) for k in trained)
    ckpt = trainer.checkpoint_callback.best_model_path
    clf = WeightSpaceClassifier.from_pretrained(ckpt, num_classes=10)
    for k, v in trained.items():
        assert torch.equal(clf.net.state_dict()[k], v), k  # every encoder weight is the pre-trained one
    assert clf.hparams.num_classes == 10 and clf.normalize is not None
    frozen = WeightSpaceClassifier.from_pretrained(ckpt, num_classes=10, freeze_encoder=True)
    assert all(p.requires_grad == n.startswith("readout.") for n, p in frozen.net.named_parameters())
    with pytest.raises(ValueError, match="not a ContrastivePretrainer checkpoint"):
        torch.save({"state_dict": {}}, tmp_path / "x.ckpt")
        WeightSpaceClassifier.from_pretrained(tmp_path / "x.ckpt", 10)


def test_views_of_one_object_are_positives(data, tmp_path):
    dm = INRDataModule(data, views=3, batch_size=8, views_as_positives=True)
    dm.setup("fit")
    a, b = next(iter(dm.train_dataloader()))
    ids = dm.train.object_ids
    params = dm.train.params()

    def which(batch):  # the dataset item of each graph, by its parameters
        flat = nngraph.flat_params(batch)
        return [int(torch.nonzero((params == row).all(1))[0]) for row in flat]
    ia, ib = which(a), which(b)
    assert [int(ids[i]) for i in ia] == [int(ids[i]) for i in ib]  # the same objects
    assert all(i != j for i, j in zip(ia, ib))  # other fitted INRs of them
    module = ContrastivePretrainer(dm.spec, "dws", SMALL["dws"], view="none")
    _fit(module, dm, tmp_path, epochs=1)
    with pytest.raises(ValueError, match="needs at least 2 views"):
        INRDataModule(data, views=1, views_as_positives=True)
