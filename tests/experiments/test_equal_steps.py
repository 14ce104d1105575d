import csv

from nngraph.experiments import equal_steps
from nngraph.experiments.fit_inrs import build as build_inrs


def test_the_one_view_cells_train_as_many_steps_as_the_ten_view_ones(tmp_path, monkeypatch):
    runs = tmp_path / "inrs"
    build_inrs("fmnist-subset", runs / "fmnist2k-v1", limit=24, steps=2, progress=False)  # 22 training objects
    build_inrs("fmnist-subset", runs / "fmnist2k-v10", limit=24, views=10, steps=2, progress=False)
    monkeypatch.setattr(equal_steps, "BATCH", 8)  # 2 steps an epoch on 1 view, 27 on 10
    assert equal_steps.equal_epochs(runs, 1) == 14  # 27 / 2 = 13.5, rounded to even
    monkeypatch.setattr(equal_steps.headline, "cell_args", _small_batches(equal_steps.headline.cell_args))
    argv = ["--runs", str(runs), "--headline", str(tmp_path / "headline"), "--out", str(tmp_path / "eq"),
            "--seeds", "0", "1", "--headline-epochs", "2", "1"]
    md = equal_steps.main(argv)
    with open(tmp_path / "eq" / "table.csv") as f:
        rows = {(r["augment"], r["views"], r["epochs"]): r for r in csv.DictReader(f)}
    assert set(rows) == {("none", "1", "2"), ("mixup_signed_weight_matching", "1", "2"), ("none", "10", "1"),
                         ("none", "1", "14"), ("mixup_signed_weight_matching", "1", "14")}
    assert {r["n"] for r in rows.values()} == {"2"}
    # steps counted from each run's own log: 2 an epoch on 1 view (22 // 8), 27 on 10 views (220 // 8)
    assert rows[("none", "1", "2")]["steps"] == "4" and rows[("none", "10", "1")]["steps"] == "27"
    assert rows[("none", "1", "14")]["steps"] == "28" and rows[("mixup_signed_weight_matching", "1", "14")]["steps"] == "28"
    assert (tmp_path / "eq" / "runs" / "dws-none-v1-e14-s1" / "result.json").is_file()
    assert (tmp_path / "headline" / "runs" / "dws-none-v10-s0" / "result.json").is_file()
    assert "the 10-view gap is" in md
    assert "- None: 10 views are" in md and "- Signed aligned mixup: 10 views are" in md
    assert "at equal steps (14 epochs)" in md
    assert equal_steps.main(argv + ["--aggregate-only"]) == md  # read back, not rerun


def _small_batches(cell_args):
    def wrapped(*a, **kw):
        c = cell_args(*a, **kw)
        c.batch_size = 8
        return c
    return wrapped
