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
