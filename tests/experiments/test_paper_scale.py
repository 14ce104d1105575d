import csv
import json

import pytest

from nngraph.experiments import paper_scale, scale
from nngraph.experiments.fit_inrs import build as build_inrs


def test_the_paper_scale_table_and_the_scale_study_share_their_cells(tmp_path, monkeypatch):
    runs = tmp_path / "inrs"
    build_inrs("fmnist-subset", runs / "fmnist2k-v1", limit=24, steps=2, progress=False)  # 22 training objects
    big = tmp_path / "big"  # the paper-scale data's place: 30 training objects, the same validation and test
    build_inrs("fmnist-subset", big, limit=24, extra_train=8, reuse=runs / "fmnist2k-v1", steps=2, progress=False)
    monkeypatch.setattr(paper_scale, "CELLS", (("dws", 10**6, {"none": 2, "mixup": 1}), ("rt", 25, {"none": 1})))
    common = ["--runs", str(runs), "--headline", str(tmp_path / "headline"), "--out", str(tmp_path / "scale")]
    table = ["--data", str(big), "--table-out", str(tmp_path / "table1"), "--epochs", "1"]
    paper_scale.main(common + table + ["--augmentations", "mixup"])  # one row's cells first
    assert sorted(p.name for p in (tmp_path / "scale" / "runs").iterdir()) == ["dws-mixup-v1-n30-s0"]
    paper_scale.main(common + table + ["--augmentations", "none", "--models", "rt"])  # one model's row
    assert sorted(p.name for p in (tmp_path / "scale" / "runs").iterdir()) == ["dws-mixup-v1-n30-s0",
                                                                              "rt-none-v1-n25-s0"]
    with pytest.raises(ValueError, match="--augmentations: translate not among"):
        paper_scale.main(common + table + ["--augmentations", "translate"])
    paper_scale.main(common + table)
    with open(tmp_path / "table1" / "fmnist-55k.csv") as f:
        rows = {(r["augment"], r["model"]): r for r in csv.DictReader(f)}
    assert rows[("none", "DWS")]["n"] == "2" and rows[("mixup", "DWS")]["n"] == "1"
    assert rows[("none", "GNN")]["n"] == "1" and rows[("mixup", "GNN")]["n"] == "0"
    assert "mixup_signed_weight_matching" not in {a for a, _ in rows}  # rows no cell reports are left out
    record = json.loads((tmp_path / "scale" / "runs" / "rt-none-v1-n25-s0" / "run.json").read_text())
    assert record["train_objects"] == 25 and record["model"] == "rt"  # the GNN on the first N
    done = tmp_path / "scale" / "runs" / "dws-none-v1-n30-s0" / "result.json"
    before = done.read_bytes()
    # the scale study at N = 30 on the same data finds the same cell finished and reads it back
    scale.main(common + ["--sizes", "30", "--seeds", "0", "--epochs", "1", "1", "--data-1", str(big)])
    assert done.read_bytes() == before
    with open(tmp_path / "scale" / "table.csv") as f:
        assert {(r["augment"], r["num_train"]) for r in csv.DictReader(f)} >= {("none", "30")}


def test_data_that_does_not_extend_the_headlines_is_refused(tmp_path):
    runs = tmp_path / "inrs"
    build_inrs("fmnist-subset", runs / "fmnist2k-v1", limit=24, steps=2, progress=False)
    other = tmp_path / "other"
    build_inrs("fmnist-subset", other, limit=30, steps=2, progress=False)  # other validation and test objects
    with pytest.raises(ValueError, match="not an extension"):
        paper_scale.main(["--runs", str(runs), "--headline", str(tmp_path / "h"), "--out", str(tmp_path / "s"),
                          "--data", str(other), "--aggregate-only"])
