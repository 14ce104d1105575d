"""The shapes column end to end on a few ModelNet10 shapes: cells of both models, the table with the
paper's ModelNet40 column labelled as another dataset, Figure 1, resuming and the identity check."""
import json
from pathlib import Path

import pytest

import nngraph
from nngraph.experiments import shapes

REPO = Path(__file__).resolve().parents[2]
NPZ = REPO.parent / "shared" / "data" / "modelnet10_pointclouds.npz"
pytestmark = pytest.mark.skipif(not NPZ.exists(), reason="../shared/data/modelnet10_pointclouds.npz not present")


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    out = tmp_path_factory.mktemp("modelnet10")
    nngraph.build_inr_dataset("modelnet10", out, root=NPZ, limit=40, steps=2, sdf_points=1024,
                              points_per_step=256, progress=False)
    return out


def test_the_shapes_column_runs_resumes_and_keeps_both_models(data, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(shapes, "EPOCHS", 1)
    monkeypatch.setattr(shapes, "BATCH", 8)
    monkeypatch.setattr(shapes, "AUGMENTS", {"dws": ["none", "mixup_signed_weight_matching"], "rt": ["none"]})
    argv = ["--data", str(data), "--out", str(tmp_path / "runs"), "--table-out", str(tmp_path / "t"), "--seeds", "0"]
    shapes.main(argv)
    assert "dws none seed 0" in capsys.readouterr().out
    assert shapes.cells(["dws", "rt"], [0, 1]) == [(0, "dws", "none"), (0, "dws", "mixup_signed_weight_matching"),
                                                   (0, "rt", "none"), (1, "dws", "none"),
                                                   (1, "dws", "mixup_signed_weight_matching"), (1, "rt", "none")]
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
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*/result.json")}
    shapes.main(argv + ["--models", "dws"])
    assert before == {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob("*/result.json")}
    assert "| No augmentation | GNN |" in (tmp_path / "t" / "modelnet10.md").read_text()
    # a cell recorded with other settings is refused, not reported
    monkeypatch.setattr(shapes, "EPOCHS", 2)
    with pytest.raises(ValueError, match=r"epochs \(1 there, 2 now\)"):
        shapes.main(argv + ["--aggregate-only"])
