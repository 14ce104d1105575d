"""The scale curve's statistics, against direct computations."""
import math
import statistics

import pytest

from nngraph.experiments import trend


def test_pooled_variance_weights_each_cell_by_its_degrees_of_freedom():
    cells = {("a", 1): [1.0, 2.0, 3.0], ("a", 2): [5.0, 5.0], ("b", 1): [0.0, 4.0], ("b", 2): [7.0]}
    pooled = trend.pooled_variance(cells)
    assert pooled["a"] == pytest.approx((2 * 1.0 + 1 * 0.0) / 3) and pooled["b"] == pytest.approx(8.0)
    assert trend.mean_se(cells, pooled, ("a", 1)) == pytest.approx((2.0, math.sqrt(pooled["a"] / 3)))


def test_the_shares_error_is_the_delta_method_and_matches_simulation():
    import random
    base, arm, target = (50.0, 0.5), (56.0, 1.0), (62.0, 0.4)
    r, se = trend.share(base, arm, target)
    assert r == pytest.approx(0.5)
    rng = random.Random(0)
    draws = [((rng.gauss(56, 1.0) - (a := rng.gauss(50, 0.5))) / (rng.gauss(62, 0.4) - a)) for _ in range(40000)]
    assert statistics.stdev(draws) == pytest.approx(se, rel=0.05)


def test_slope_tests_find_a_clear_trend_and_not_a_flat_one():
    steep = trend.slope_tests([(500, 0.1, 0.02), (1000, 0.2, 0.02), (2000, 0.31, 0.02), (4000, 0.4, 0.02)])
    assert steep["slope"] == pytest.approx(0.101, abs=0.002) and steep["p"] < 1e-6 and steep["ols_p"] < 0.01
    flat = trend.slope_tests([(500, 0.3, 0.1), (1000, 0.2, 0.1), (2000, 0.35, 0.1), (4000, 0.28, 0.1)])
    assert flat["p"] > 0.5 and flat["ols_p"] > 0.5


def test_a_difference_of_independent_cells_adds_their_variances():
    import random
    d, se = trend.difference((58.0, 1.2), (52.0, 0.5))
    assert d == pytest.approx(6.0) and se == pytest.approx(1.3)
    rng = random.Random(1)
    draws = [rng.gauss(58, 1.2) - rng.gauss(52, 0.5) for _ in range(40000)]
    assert statistics.stdev(draws) == pytest.approx(se, rel=0.03)
