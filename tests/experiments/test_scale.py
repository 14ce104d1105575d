import csv
import json

import pytest

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
    for n in ("5", "22"):  # mixup's own gain on 1 view, with no 10-view cell at either size
        gain = float(rows[("mixup_signed_weight_matching", "1", n)]["mean"]) - float(rows[("none", "1", n)]["mean"])
        assert all(float(rows[(a, "1", n)]["gain"]) == pytest.approx(gain, abs=0.011)
                   for a in ("none", "mixup_signed_weight_matching"))
        assert rows[("none", "1", n)]["share"] == ""
    assert (tmp_path / "scale" / "runs" / "dws-none-v1-n5-s0" / "result.json").is_file()
    assert (tmp_path / "headline" / "runs" / "dws-none-v1-s0" / "result.json").is_file()  # full size: the headline's cell
    assert (tmp_path / "scale" / "accuracy.png").is_file()
    scale.main(argv + ["--aggregate-only"])  # read back, not rerun


def test_sizes_above_the_headlines_data_take_its_extension_and_the_smaller_cells_stay_where_they_are(tmp_path):
    runs, headline = tmp_path / "inrs", tmp_path / "headline"
    build_inrs("fmnist-subset", runs / "fmnist2k-v1", limit=24, steps=2, progress=False)  # 22 training objects
    m = build_inrs("fmnist-subset", runs / "fmnist4k-v1", limit=24, extra_train=6, reuse=runs / "fmnist2k-v1",
                   steps=2, shard_size=8, progress=False)
    copies = [e["file"] for e in m["shards"] if e["copied"]]
    for f in copies:  # as committed: only what the extension fitted
        (runs / "fmnist4k-v1" / f).unlink()
    argv = ["--runs", str(runs), "--headline", str(headline), "--out", str(tmp_path / "scale"),
            "--sizes", "22", "28", "--seeds", "0", "--epochs", "1", "1"]
    scale.main(argv)
    with open(tmp_path / "scale" / "table.csv") as f:
        sizes = {(r["augment"], r["num_train"]) for r in csv.DictReader(f)}
    assert sizes == {(a, n) for a in ("none", "mixup_signed_weight_matching") for n in ("22", "28")}
    assert (headline / "runs" / "dws-none-v1-s0" / "result.json").is_file()  # N=22: the headline's own cell
    assert not (tmp_path / "scale" / "runs" / "dws-none-v1-n22-s0").exists()
    record = json.loads((tmp_path / "scale" / "runs" / "dws-none-v1-n28-s0" / "run.json").read_text())
    assert str(runs / "fmnist4k-v1") in json.dumps(record)  # N=28: the extension, all of it
    assert copies and all((runs / "fmnist4k-v1" / f).is_file() for f in copies)  # restored first

    build_inrs("fmnist-subset", tmp_path / "other", limit=30, steps=2, progress=False)  # other validation objects
    with pytest.raises(ValueError, match="not an extension"):
        scale.main(argv + ["--data-1", str(runs / "fmnist4k-v1"), str(tmp_path / "other"), "--aggregate-only"])


def test_an_extension_of_an_extension_serves_the_largest_sizes_and_restores_its_copies_from_what_it_reused(tmp_path):
    runs, headline = tmp_path / "inrs", tmp_path / "headline"
    build_inrs("fmnist-subset", runs / "fmnist2k-v1", limit=24, steps=2, progress=False)  # 22 training objects
    build_inrs("fmnist-subset", runs / "fmnist4k-v1", limit=24, extra_train=6, reuse=runs / "fmnist2k-v1",
               steps=2, shard_size=8, progress=False)
    big = tmp_path / "big"  # 34: the paper-scale data's place, extending the 28 in turn
    m = build_inrs("fmnist-subset", big, limit=24, extra_train=12, reuse=runs / "fmnist4k-v1", steps=2, shard_size=8,
                   progress=False)
    copies = [e["file"] for e in m["shards"] if e["copied"]]
    for f in copies:
        (big / f).unlink()
    argv = ["--runs", str(runs), "--headline", str(headline), "--out", str(tmp_path / "scale"), "--sizes", "28", "34",
            "--seeds", "0", "--epochs", "1", "1", "--data-1", str(runs / "fmnist4k-v1"), str(big)]
    scale.main(argv)
    where = lambda n: json.loads((tmp_path / "scale" / "runs" / f"dws-none-v1-n{n}-s0" / "run.json").read_text())  # noqa: E731
    assert str(runs / "fmnist4k-v1") in json.dumps(where(28)) and str(big) in json.dumps(where(34))
    assert copies and all((big / f).is_file() for f in copies)  # restored from the 28, which it reused


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
