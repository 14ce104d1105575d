from nngraph.experiments import equivariant_example
from nngraph.experiments.fit_inrs import build as build_inrs


def test_the_equivariant_example_runs_end_to_end(tmp_path, capsys):
    data = tmp_path / "inrs"
    build_inrs("fmnist-subset", data, limit=24, steps=5, progress=False)
    equivariant_example.main(["--data", str(data), "--steps", "3", "--epochs", "2", "--out", str(tmp_path / "f.png")])
    out = capsys.readouterr().out
    assert "after the predicted change" in out and (tmp_path / "f.png").stat().st_size > 0
