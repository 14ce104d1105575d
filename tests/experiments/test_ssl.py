import math
import statistics

import pytest
from scipy import stats

import nngraph

from nngraph.experiments.ssl import difference


def test_a_difference_pools_the_variance_of_its_evaluation_and_fraction_and_tests_it():
    a, b, other = [0.40, 0.42, 0.47], [0.30, 0.35, 0.31], [0.20, 0.21, 0.29]
    cells = {("dws", "x", 0.1, "linear probe"): a, ("dws", "y", 0.1, "linear probe"): b,
             ("dws", "z", 0.1, "linear probe"): other,
             ("stats", "—", 0.1, "linear probe"): [0.2, 0.2, 0.2],  # no seed in its features: not pooled
             ("dws", "x", 1.0, "linear probe"): [0.1, 0.9, 0.5],  # another fraction: not pooled
             ("dws", "x", 0.1, "fine-tune"): [0.0, 1.0, 0.5]}  # another evaluation: not pooled
    r = difference(cells, ("dws", "x", 0.1, "linear probe"), ("dws", "y", 0.1, "linear probe"))
    s2 = (statistics.variance(a) + statistics.variance(b) + statistics.variance(other)) / 3
    se = math.sqrt(s2 * (1 / 3 + 1 / 3))
    d = statistics.mean(a) - statistics.mean(b)
    assert r["df"] == 6
    assert r["difference"] == pytest.approx(100 * d)
    assert r["se"] == pytest.approx(100 * se)
    assert r["p"] == pytest.approx(2 * stats.t.sf(d / se, 6))
    # with only the two cells pooled it is Student's two-sample t test
    two = {k: v for k, v in cells.items() if k[1] in "xy" and k[2] == 0.1 and k[3] == "linear probe"}
    assert difference(two, *two)["p"] == pytest.approx(stats.ttest_ind(a, b).pvalue)


def test_the_study_probes_only_the_first_labels_when_told(tmp_path, monkeypatch):
    import csv
    import json
    from nngraph.experiments import ssl
    seen, real = [], ssl.probe

    def probe(train, *rest):
        seen.append(train[1].tolist())
        return real(train, *rest)
    monkeypatch.setattr(ssl, "probe", probe)
    from nngraph.experiments.fit_inrs import build as build_inrs
    data = tmp_path / "inrs"
    build_inrs("fmnist-subset", data, limit=24, steps=2, progress=False)  # 22 training objects
    argv = ["--data", str(data), "--views", "permutation", "--evaluations", "probe", "--epochs", "1", "--seeds", "0",
            "--fractions", "0.5", "1.0", "--out", str(tmp_path / "ssl")]
    with pytest.raises(ValueError, match="--labels: 30 is more than the 22 training objects"):
        ssl.main(argv + ["--labels", "30"])
    ssl.main(argv + ["--labels", "10"])
    probe = json.loads((tmp_path / "ssl" / "runs" / "pretrain-permutation-s0" / "probe.json").read_text())
    assert set(probe) == {"0.5", "1.0"}
    labels = nngraph.INRDataset(data, "train").labels.tolist()
    assert seen and all(s in (labels[:5], labels[:10]) for s in seen) and labels[:10] in seen  # the first 5 and 10
    pretrain = json.loads((tmp_path / "ssl" / "runs" / "pretrain-permutation-s0" / "result.json").read_text())
    assert pretrain["num_train"] == 22  # pre-training reads every training INR, labelled or not
    with open(tmp_path / "ssl" / "table.csv") as f:
        rows = list(csv.DictReader(f))
    assert {(r["encoder"], r["labels_fraction"]) for r in rows} == {
        (e, f) for e in ("dws", "dws (untrained)", "stats") for f in ("0.5", "1.0")}


def test_a_study_is_compared_with_another_from_its_table(tmp_path):
    import argparse
    import csv
    from nngraph.experiments.ssl import against_baseline
    base = tmp_path / "base"
    base.mkdir()
    (base / "table.csv").write_text("encoder,views,labels_fraction,evaluation,n,mean,std\n"
                                    "dws,x,0.1,linear probe,3,40.00,2.00\n"
                                    "dws,y,0.1,linear probe,3,30.00,1.00\n"
                                    "stats,—,0.1,linear probe,3,20.00,0.00\n")
    cells = {("dws", "x", 0.1, "linear probe"): [0.43], ("dws", "z", 0.1, "linear probe"): [0.5, 0.6]}
    args = argparse.Namespace(baseline=base, out=tmp_path / "out")
    args.out.mkdir()
    against_baseline(args, cells)
    with open(args.out / "against-baseline.csv") as f:
        (row,) = list(csv.DictReader(f))  # z has no baseline cell, stats is no pre-training
    s2 = (2 * 2.0 ** 2 + 2 * 1.0 ** 2 + 1 * 10.0 ** 2 / 2) / 5  # both tables' cells at 10%, stats left out
    se = math.sqrt(s2 * (1 + 1 / 3))
    assert row["df"] == "5" and row["n"] == "1/3"
    assert float(row["difference"]) == pytest.approx(3.0) and float(row["se"]) == pytest.approx(se, abs=0.005)
    assert float(row["p"]) == pytest.approx(2 * stats.t.sf(3.0 / se, 5), abs=0.0005)
