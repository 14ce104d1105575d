import json

import pytest

from nngraph.experiments import compare_runs


def _run(folder, name, acc, **settings):
    d = folder / name
    d.mkdir(parents=True)
    (d / "run.json").write_text(json.dumps({"augment": name.split("-")[1], "seed": int(name[-1]), **settings}))
    (d / "result.json").write_text(json.dumps({"test_acc": acc}))


def test_a_rerun_is_compared_cell_by_cell_with_paired_differences(tmp_path):
    first, second = tmp_path / "a", tmp_path / "b"
    for seed, (a, b) in enumerate([(0.30, 0.30), (0.32, 0.32), (0.28, 0.28)]):  # reproduced bit for bit
        _run(first, f"dws-none-v1-s{seed}", a)
        _run(second, f"dws-none-v1-s{seed}", b)
    for seed, (a, b) in enumerate([(0.30, 0.32), (0.31, 0.34), (0.29, 0.30)]):  # +2, +3, +1 points
        _run(first, f"dws-mixup-v1-s{seed}", a)
        _run(second, f"dws-mixup-v1-s{seed}", b)
    _run(first, "dws-noise-v1-s0", 0.3)  # not rerun
    _run(second, "dws-dropout-v1-s0", 0.3)  # only rerun
    (second / "dws-noise-v1-s1").mkdir()  # unfinished: no result
    md = compare_runs.main([str(first), str(second), "--out", str(tmp_path / "t.md")])
    assert (tmp_path / "t.md").read_text() == md
    rows = {line.split(" | ")[0][2:]: line.split(" | ") for line in md.splitlines() if line.startswith("| dws")}
    assert rows["dws-none-v1"][4:8] == ["s0 +0.00, s1 +0.00, s2 +0.00", "+0.00 ± 0.00", "1.00", "3/3 |"]
    assert rows["dws-mixup-v1"][4] == "s0 +2.00, s1 +3.00, s2 +1.00"
    assert rows["dws-mixup-v1"][5] == "+2.00 ± 0.58"  # std 1 / sqrt 3
    assert rows["dws-mixup-v1"][6] == "0.07"  # t = 3.46 on 2 degrees of freedom
    assert "Every pair (n=6): +1.00 ± 0.52 points, p = 0.11" in md
    # seed stds 2 and 1 pool to sqrt(2.5); the differences' rms is sqrt(14 / 6)
    assert "sqrt(2) x the seed std: 2.24 (the first set's seed std pooled over these cells, all its seeds, 1.58); measured 1.53" in md
    assert "F = 0.47 on (6, 4) degrees of freedom, p = 0.19 that independent draws differ this little" in md  # (14/6)/5
    assert "second set only: dws-dropout-v1-s0." in md and "1 run(s) of the first set not (yet) in the second" in md


def test_folders_with_other_settings_are_refused_by_key(tmp_path):
    _run(tmp_path / "a", "dws-none-v1-s0", 0.3, epochs=60)
    _run(tmp_path / "b", "dws-none-v1-s0", 0.3, epochs=20)
    with pytest.raises(ValueError, match="not a rerun of .* settings differ in epochs"):
        compare_runs.main([str(tmp_path / "a"), str(tmp_path / "b")])
    with pytest.raises(ValueError, match="runs: .*missing is not a folder"):
        compare_runs.main([str(tmp_path / "a"), str(tmp_path / "missing")])
    (tmp_path / "c").mkdir()
    with pytest.raises(ValueError, match="no finished run folder is in both"):
        compare_runs.main([str(tmp_path / "a"), str(tmp_path / "c")])


def test_one_pair_shows_no_spread(tmp_path):
    _run(tmp_path / "a", "dws-scale-v1-s0", 0.30)
    _run(tmp_path / "b", "dws-scale-v1-s0", 0.31)
    md = compare_runs.main([str(tmp_path / "a"), str(tmp_path / "b")])
    assert "| dws-scale-v1 | 1 | 30.00 | 31.00 | s0 +1.00 | +1.00 |  | 0/1 |" in md
    assert "Every pair (n=1): +1.00 points; mean absolute difference 1.00." in md
