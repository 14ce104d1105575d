import csv
import json

import pytest

from nngraph.experiments import capacity
from nngraph.experiments.fit_inrs import build as build_inrs


def test_the_paper_preset_trains_beside_the_scale_studys_small_cells(tmp_path):
    runs = tmp_path / "inrs"
    build_inrs("fmnist-subset", runs / "fmnist2k-v1", limit=24, steps=2, progress=False)  # 22 training objects
    build_inrs("fmnist-subset", runs / "fmnist4k-v1", limit=24, extra_train=6, reuse=runs / "fmnist2k-v1",
               steps=2, progress=False)  # 28
    argv = ["--runs", str(runs), "--headline", str(tmp_path / "headline"), "--scale", str(tmp_path / "scale"),
            "--out", str(tmp_path / "capacity"), "--size", "28", "--seeds", "0", "1", "--small-seeds", "0", "1",
            "--epochs", "1"]
    md = capacity.main(argv)
    with open(tmp_path / "capacity" / "table-n28.csv") as f:
        rows = {(r["preset"], r["augment"]): r for r in csv.DictReader(f)}
    assert set(rows) == {(p, a) for p in ("small", "paper") for a in capacity.AUGS}
    assert {r["n"] for r in rows.values()} == {"2"}
    small = tmp_path / "scale" / "runs" / "dws-none-v1-n28-s1"  # the scale study's own folder
    paper = tmp_path / "capacity" / "runs" / "dws-paper-none-v1-n28-s1"
    assert json.loads((small / "run.json").read_text())["preset"] == "small"
    assert json.loads((paper / "run.json").read_text())["preset"] == "paper"
    assert "| none |" in md and "p: two-sided t test" in md
    assert capacity.main(argv + ["--aggregate-only"]) == md  # read back, not rerun
    with pytest.raises(ValueError, match="--size: no complete 1-view dataset holds 29"):
        capacity.main(argv[:-8] + ["--size", "29", "--aggregate-only"])
