import json
import shutil

import pytest
import torch

from nngraph.experiments.cli import run
from nngraph.experiments.fit_inrs import build as build_inrs
from nngraph.experiments.per_class import evaluate, main, per_class
from nngraph.experiments.train import parser, train

DWS_TINY = '{"hidden_dim": 8, "num_layers": 1, "readout_hidden": 8}'


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """A finished run (DWSNet, 2 epochs) and its data."""
    data, out = tmp_path_factory.mktemp("inrs"), tmp_path_factory.mktemp("run")
    build_inrs("fmnist-subset", data, views=1, limit=24, steps=10, progress=False)
    train(parser().parse_args(["--data", str(data), "--model", "dws", "--epochs", "2", "--batch-size", "8",
                               "--model-kwargs", DWS_TINY, "--out", str(out), "--quiet", "--accelerator", "cpu"]))
    return data, out


def test_per_class_counts_recalls_and_balanced_accuracy():
    pred, y = torch.tensor([0, 0, 1, 1, 2, 0]), torch.tensor([0, 1, 1, 1, 0, 0])
    r = per_class(pred, y, num_classes=4)
    assert r["accuracy"] == pytest.approx(4 / 6)
    assert r["recall"] == [pytest.approx(2 / 3), pytest.approx(2 / 3), None, None]  # classes 2, 3 have no labels
    assert r["balanced"] == pytest.approx(2 / 3)
    assert r["predicted"] == [3, 2, 1, 0] and r["labels"] == [3, 3, 0, 0]


def test_a_majority_guess_is_accurate_on_unbalanced_labels_but_not_balanced():
    y = torch.tensor([0] * 8 + [1, 2])
    r = per_class(torch.zeros_like(y), y, num_classes=3)
    assert r["accuracy"] == pytest.approx(0.8) and r["balanced"] == pytest.approx(1 / 3)


def test_evaluate_gives_the_run_its_recorded_test_accuracy(finished):
    data, out = finished
    recorded = json.loads((out / "result.json").read_text())
    r = evaluate(out, batch_size=5)  # batches smaller than the splits
    assert r["checkpoint"] == recorded["best_checkpoint"]
    assert r["test"]["accuracy"] == pytest.approx(recorded["test_acc"], abs=1e-6)
    assert r["val"]["accuracy"] == pytest.approx(recorded["best_val_acc"], abs=1e-6)
    assert sum(r["test"]["predicted"]) == sum(r["test"]["labels"]) > 0


def test_the_command_prints_each_split_and_writes_json(finished, tmp_path, capsys):
    _, out = finished
    results = main([str(out), "--splits", "test", "--out", str(tmp_path / "pc.json")])
    printed = capsys.readouterr().out
    assert f"{out} test: accuracy " in printed and " val: " not in printed
    assert json.loads((tmp_path / "pc.json").read_text()) == results and "val" not in results[0]


def test_bad_runs_are_refused_by_name(finished, tmp_path, capsys):
    data, out = finished
    with pytest.raises(SystemExit) as e:
        run(lambda: main([str(tmp_path)]))
    assert e.value.code == 2 and "no finished run" in capsys.readouterr().err
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    for ckpt in (copy / "checkpoints").glob("*.ckpt"):
        ckpt.unlink()
    with pytest.raises(ValueError, match="is not here"):
        evaluate(copy)
    other = tmp_path / "other-data"
    build_inrs("fmnist-subset", other, views=1, limit=24, steps=5, progress=False)
    shutil.copytree(out, tmp_path / "moved")
    record = json.loads((tmp_path / "moved" / "result.json").read_text())
    record["config"]["data"] = str(other)
    (tmp_path / "moved" / "result.json").write_text(json.dumps(record))
    with pytest.raises(ValueError, match="was trained on data"):
        evaluate(tmp_path / "moved")


def test_a_legacy_run_and_a_checkpoint_outside_the_run_are_refused_by_name(finished, tmp_path):
    _, out = finished
    legacy = tmp_path / "legacy"
    shutil.copytree(out, legacy)
    record = json.loads((legacy / "result.json").read_text())
    (legacy / "result.json").write_text(json.dumps({k: v for k, v in record.items() if k != "data_id"}))
    with pytest.raises(ValueError, match="recorded before runs carried their data's content id"):
        evaluate(legacy)
    elsewhere = tmp_path / "elsewhere"
    shutil.copytree(out, elsewhere)
    ckpt = next((out / "checkpoints").glob("best-*.ckpt"))
    (elsewhere / "result.json").write_text(json.dumps({**record, "best_checkpoint": str(ckpt)}))
    with pytest.raises(ValueError, match="not a file of its checkpoints folder"):
        evaluate(elsewhere)
