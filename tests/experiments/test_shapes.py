"""The shapes column end to end on a few ModelNet10 shapes: cells of both models, the table with the
paper's ModelNet40 column labelled as another dataset, Figure 1, resuming and the identity check; the
views protocol on a subset of them."""
import json
from pathlib import Path

import pytest

import nngraph
from nngraph.experiments import shapes

REPO = Path(__file__).resolve().parents[2]
NPZ = REPO.parent / "shared" / "data" / "modelnet10_pointclouds.npz"
pytestmark = pytest.mark.skipif(not NPZ.exists(), reason="../shared/data/modelnet10_pointclouds.npz not present")
TINY = {"init": "reference", "steps": 2, "sdf_points": 1024, "points_per_step": 256}  # the recipe, shortened


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("modelnet10")
    nngraph.build_inr_dataset("modelnet10", out, root=NPZ, limit=40, progress=False, **TINY)
    return out


def test_the_shapes_column_runs_resumes_and_keeps_both_models(data, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(shapes, "EPOCHS", 1)
    monkeypatch.setattr(shapes, "BATCH", 8)
    monkeypatch.setattr(shapes, "AUGMENTS", {"dws": ["none", "mixup_signed_weight_matching"], "rt": ["none"]})
    argv = ["--data", str(data), "--subset-runs", str(tmp_path / "inrs"), "--out", str(tmp_path / "runs"),
            "--table-out", str(tmp_path / "t"), "--seeds", "0"]
    shapes.main(argv)
    out = capsys.readouterr().out
    assert "dws none 1 view(s) seed 0" in out and "10-view cells left out" in out  # no subset data yet
    assert shapes.cells(["dws", "rt"], [0, 1]) == [(0, "dws", "none", 1), (0, "dws", "mixup_signed_weight_matching", 1),
                                                   (0, "rt", "none", 1), (1, "dws", "none", 1),
                                                   (1, "dws", "mixup_signed_weight_matching", 1), (1, "rt", "none", 1)]
    md = (tmp_path / "t" / "modelnet10.md").read_text()
    assert "1 view (paper, modelnet40)" in md and "ModelNet40 (40 classes): another dataset" in md
    counts = json.loads((data / "manifest.json").read_text())["splits"]
    assert f"{counts['train']['count']:,} training" in md
    for line, paper in (("| No augmentation | DWS |", "16.17 ± 0.25"), ("| Signed alignment + MixUp (ours) | DWS |", "—"),
                        ("| No augmentation | GNN |", "8.82 ± 1.08")):
        row = next(r for r in md.splitlines() if r.startswith(line)).split("|")
        assert row[3].strip().endswith("(n=1)") and row[4].strip() == paper, row
    assert "Rotation" not in md  # the paper reports no rotation for shapes
    assert (tmp_path / "t" / "modelnet10-curves.png").stat().st_size > 0
    # rerun: every cell is read back, none retrained; a run of one model keeps the other's rows
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs" / "runs").glob("*/result.json")}
    assert len(before) == 3
    shapes.main(argv + ["--models", "dws"])
    assert before == {p: p.stat().st_mtime_ns for p in (tmp_path / "runs" / "runs").glob("*/result.json")}
    assert "| No augmentation | GNN |" in (tmp_path / "t" / "modelnet10.md").read_text()
    # seed 1 two cells at a time, each in a process of its own: every row at n=2, each cell's log kept
    shapes.main(argv[:-1] + ["1", "--jobs", "2"])
    assert "rt none 1 view(s) seed 1" in capsys.readouterr().out
    assert (tmp_path / "runs" / "runs" / "rt-none-v1-s1" / "train.log").is_file()
    md = (tmp_path / "t" / "modelnet10.md").read_text()
    for line in ("| No augmentation | DWS |", "| Signed alignment + MixUp (ours) | DWS |", "| No augmentation | GNN |"):
        assert next(r for r in md.splitlines() if r.startswith(line)).split("|")[3].strip().endswith("(n=2)")
    # a cell recorded with other settings is refused, not reported
    monkeypatch.setattr(shapes, "EPOCHS", 2)
    with pytest.raises(ValueError, match=r"epochs \(1 there, 2 now\)"):
        shapes.main(argv + ["--aggregate-only"])


def test_the_views_protocol_sets_1_against_10_views_on_a_subset(data, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(shapes, "FIT", TINY)
    monkeypatch.setattr(shapes, "BATCH", 8)
    monkeypatch.setattr(shapes, "PER_CLASS", 3)
    monkeypatch.setattr(shapes, "VIEW_EPOCHS", {1: 2, 10: 1})
    monkeypatch.setattr(shapes, "VIEW_AUGMENTS", {1: ["none", "mixup"], 10: ["none"]})
    monkeypatch.setattr(shapes, "AUGMENTS", {"dws": ["none"], "rt": []})
    argv = ["--data", str(data), "--subset-runs", str(tmp_path / "inrs"), "--out", str(tmp_path / "runs"),
            "--table-out", str(tmp_path / "t"), "--seeds", "0", "--models", "dws"]
    shapes.main(argv + ["--protocol", "views"])
    assert "dws none 10 view(s) seed 0" in capsys.readouterr().out
    manifests = {v: json.loads((tmp_path / "inrs" / f"modelnet10-pc3-v{v}" / "manifest.json").read_text()) for v in (1, 10)}
    base = json.loads((data / "manifest.json").read_text())
    for v, m in manifests.items():
        assert m["views"]["train"] == v
        assert [m["splits"][s]["count"] for s in ("val", "test")] == [base["splits"][s]["count"] for s in ("val", "test")]
    kept = manifests[1]["splits"]["train"]["objects"]
    assert manifests[10]["splits"]["train"]["objects"] == kept and 0 < len(kept) <= 3 * 10
    assert set(kept) <= set(base["splits"]["train"]["objects"])
    md = (tmp_path / "t" / "modelnet10-views.md").read_text()
    assert "10 views (paper, modelnet40)" in md and "first 3 training shapes of each class" in md
    row = next(r for r in md.splitlines() if r.startswith("| No augmentation | DWS |")).split("|")
    assert row[3].strip().endswith("(n=1)") and row[4].strip().endswith("(n=1)") and row[6].strip() == "30.25 ± 0.95", row
    assert not (tmp_path / "t" / "modelnet10.md").read_text().count("(n=1)")  # the all-shapes table: no cell yet
    runs = sorted(p.name for p in (tmp_path / "runs" / "runs").iterdir())
    assert runs == ["dws-mixup-pc3-v1-s0", "dws-none-pc3-v1-s0", "dws-none-pc3-v10-s0"]
    assert (tmp_path / "t" / "modelnet10-curves.png").stat().st_size > 0
    # without the 10-view data here its cells cannot be checked: the table is kept as it is, not emptied
    v10 = tmp_path / "inrs" / "modelnet10-pc3-v10"
    v10.rename(tmp_path / "away")
    capsys.readouterr()
    shapes.main(argv + ["--aggregate-only"])
    assert "modelnet10-views.md kept as it is: its cells of 10 view(s) cannot be checked" in capsys.readouterr().out
    assert (tmp_path / "t" / "modelnet10-views.md").read_text() == md
    (tmp_path / "away").rename(v10)
    # a cell recorded with other settings is refused, not reported
    monkeypatch.setattr(shapes, "VIEW_EPOCHS", {1: 2, 10: 2})
    with pytest.raises(ValueError, match=r"epochs \(1 there, 2 now\)"):
        shapes.main(argv + ["--protocol", "views", "--aggregate-only"])
