import csv

from nngraph.experiments import scale
from nngraph.experiments.fit_inrs import build as build_inrs


def test_the_scale_protocol_runs_its_cells_and_leaves_out_what_the_data_cannot_give(tmp_path, capsys):
    runs = tmp_path / "inrs"
    build_inrs("fmnist-subset", runs / "fmnist2k-v1", limit=24, steps=2, progress=False)  # 22 training objects
    argv = ["--runs", str(runs), "--headline", str(tmp_path / "headline"), "--out", str(tmp_path / "scale"),
            "--sizes", "5", "22", "100", "--seeds", "0", "--epochs", "1", "1"]
    scale.main(argv)
    out = capsys.readouterr().out
    assert "N=100, none, 1 view(s): left out" in out and "N=5, none, 10 view(s): left out" in out
    with open(tmp_path / "scale" / "table.csv") as f:
        rows = {(r["augment"], r["views"], r["num_train"]): r for r in csv.DictReader(f)}
    assert set(rows) == {("none", "1", "5"), ("mixup_signed_weight_matching", "1", "5"), ("none", "1", "22"),
                         ("mixup_signed_weight_matching", "1", "22")}
    assert (tmp_path / "scale" / "runs" / "dws-none-v1-n5-s0" / "result.json").is_file()
    assert (tmp_path / "headline" / "runs" / "dws-none-v1-s0" / "result.json").is_file()  # full size: the headline's cell
    assert (tmp_path / "scale" / "accuracy.png").is_file()
    scale.main(argv + ["--aggregate-only"])  # read back, not rerun


def test_the_headlines_ten_view_data_copies_view_0_from_its_one_view_data(tmp_path, monkeypatch):
    import torch
    from nngraph import INRDataset
    from nngraph.datasets.shards import read_manifest
    from nngraph.experiments import headline
    calls = []

    def small_build(dataset, out, **kw):  # the headline's builds on the embedded subset, 2 steps an INR
        calls.append(kw.get("reuse"))
        return build_inrs("fmnist-subset", out, **{**kw, "limit": 24, "steps": 2})

    monkeypatch.setattr(headline, "build_inrs", small_build)
    runs = tmp_path / "inrs"
    headline.fit(runs, 10)
    assert calls == [None, headline.data_dir(runs, 1)]  # the 1-view data first, then reused
    assert read_manifest(runs / "fmnist2k-v10")["reuse"] == INRDataset(runs / "fmnist2k-v1", "train").content_id
    for split in ("train", "val", "test"):
        one, ten = INRDataset(runs / "fmnist2k-v1", split), INRDataset(runs / "fmnist2k-v10", split, views=1)
        assert torch.equal(ten.params(), one.params()) and torch.equal(ten.labels, one.labels), split
    assert len(INRDataset(runs / "fmnist2k-v10", "train", views=10)) == 10 * len(INRDataset(runs / "fmnist2k-v1"))
