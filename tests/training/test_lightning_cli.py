"""The Lightning layer as a library: LightningCLI runs fit and test from the data module and the
module alone, the data module owning the augmentation."""
import pytest
import yaml

from nngraph.experiments.fit_inrs import build as build_inrs

pytest.importorskip("jsonargparse")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("inrs")
    build_inrs("fmnist-subset", out, limit=24, steps=2, progress=False)
    return out


def test_lightning_cli_fits_and_tests_with_linked_spec_and_classes(data, tmp_path):
    from lightning.pytorch.cli import LightningCLI
    from nngraph.lightning import INRDataModule, WeightSpaceClassifier, link_data_to_model

    class CLI(LightningCLI):
        def add_arguments_to_parser(self, parser):
            link_data_to_model(parser)

    common = ["--data.data_dir", str(data), "--data.batch_size", "8", "--data.augmentation", "siren_negation+mixup",
              "--model.model", "dws", "--model.model_kwargs", '{"hidden_dim": 8, "num_layers": 1, "readout_hidden": 8}',
              "--trainer.accelerator", "cpu", "--trainer.devices", "1", "--trainer.enable_progress_bar", "false",
              "--trainer.default_root_dir", str(tmp_path), "--trainer.logger", "false"]
    cli = CLI(WeightSpaceClassifier, INRDataModule, args=["fit", *common, "--trainer.max_epochs", "1"],
              save_config_kwargs={"overwrite": True})
    module, dm = cli.model, cli.datamodule
    assert module.batch_transform is dm.batch_transform is not None  # taken from the data module
    assert module.hparams.normalize is not None and module.hparams.spec == dm.spec.to_dict()
    assert module.hparams.num_classes == dm.num_classes == 10
    saved = yaml.safe_load((tmp_path / "config.yaml").read_text()) if (tmp_path / "config.yaml").is_file() else None
    assert saved is None or saved["data"]["augmentation"] == "siren_negation+mixup"
    ckpt = cli.trainer.checkpoint_callback.best_model_path
    tested = CLI(WeightSpaceClassifier, INRDataModule, args=["test", *common, "--ckpt_path", ckpt],
                 save_config_kwargs={"overwrite": True})
    assert 0.0 <= tested.trainer.callback_metrics["test_acc"].item() <= 1.0


def test_a_warm_up_longer_than_the_run_is_said(data, tmp_path):
    import lightning as L
    from nngraph.lightning import INRDataModule, WeightSpaceClassifier
    dm = INRDataModule(data, batch_size=8)
    module = WeightSpaceClassifier(dm.spec, dm.num_classes, model="dws", warmup_steps=1000,
                                   model_kwargs={"hidden_dim": 8, "num_layers": 1, "readout_hidden": 8})
    trainer = L.Trainer(max_epochs=1, accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, default_root_dir=tmp_path)
    with pytest.warns(UserWarning, match="warmup_steps: 1000 warm-up steps, but the run takes 2"):
        trainer.fit(module, datamodule=dm)
    assert module.normalize is dm.normalize and module.hparams.normalize is not None
