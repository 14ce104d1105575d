import math
import statistics

import pytest
from scipy import stats

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
