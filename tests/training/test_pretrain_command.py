"""nngraph-pretrain: a run folder of its settings and data, read back when finished, resumed when not."""
import json
import shutil

import pytest

from nngraph.experiments.fit_inrs import build as build_inrs
from nngraph.experiments.pretrain import main

DWS = '{"hidden_dim": 8, "num_layers": 1, "readout_hidden": 8}'


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("inrs")
    build_inrs("fmnist-subset", out, limit=24, steps=2, progress=False)
    return out


def _argv(data, out, *extra):
    return ["--data", str(data), "--model-kwargs", DWS, "--batch-size", "8", "--epochs", "2", "--quiet",
            "--out", str(out), *extra]


def test_a_finished_run_is_read_back_and_other_settings_are_refused(data, tmp_path):
    first = main(_argv(data, tmp_path / "run", "--view", "siren_negation+noise"))
    assert first["epochs"] == 2 and (tmp_path / "run" / "checkpoints" / "last.ckpt").is_file()
    assert main(_argv(data, tmp_path / "run", "--view", "siren_negation+noise")) == first
    with pytest.raises(ValueError, match="view \\('siren_negation\\+noise' there, 'noise' now\\)"):
        main(_argv(data, tmp_path / "run", "--view", "noise"))
    again = main(["--config", str(tmp_path / "run" / "config.yaml"), "--out", str(tmp_path / "again")])
    assert again["identity"] == first["identity"] and again["train_loss"] == first["train_loss"]  # bit for bit
    counts = [int(r["provenance"]["launched"].split()[4]) if r["provenance"]["launched"] != "fresh process" else 0
              for r in (first, again)]
    assert counts[1] == counts[0] + 1  # each pre-training counts as one started in this process


def test_an_interrupted_run_resumes_to_the_uninterrupted_result(data, tmp_path):
    whole = main(_argv(data, tmp_path / "whole", "--epochs", "3"))
    main(_argv(data, tmp_path / "two", "--epochs", "2"))  # its last checkpoint: where a 3-epoch run stands after 2
    cut = tmp_path / "cut"
    main(_argv(data, cut, "--epochs", "3"))
    (cut / "result.json").unlink()  # killed after its second epoch's checkpoint
    shutil.copy(tmp_path / "two" / "checkpoints" / "last.ckpt", cut / "checkpoints" / "last.ckpt")
    resumed = main(_argv(data, cut, "--epochs", "3"))
    assert resumed["epochs"] == 3 and resumed["train_loss"] == whole["train_loss"]  # bit for bit
    assert resumed["val_loss"] == whole["val_loss"]
    assert [s["from_epoch"] for s in resumed["provenance"]["sessions"]] == [0, 2]  # the copied checkpoint's, then this
