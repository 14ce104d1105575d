"""How sure a scale curve is: standard errors from seeds pooled by kind of cell, the share of a gain
one arm recovers with its error, and a test of a trend in log2 N against flat.

Three seeds give a noisy standard deviation per cell (one cell of the scale study shows 0.05 where
its kind pools to 0.77), so each kind of cell (an augmentation and a views setting) pools its
within-cell variance over every N: ``s2 = sum((n_i - 1) s_i^2) / sum(n_i - 1)``, and a cell mean's
standard error is ``sqrt(s2 / n_i)``. The share ``(mixup - none) / (views - none)`` takes its error
by the delta method from the three means' errors. A trend is the slope of the share against log2 N
(per doubling), tested two ways: weighted least squares with those errors as known (a z test), and
ordinary least squares on the shares alone (a t test on k - 2 degrees of freedom, the errors
estimated from the scatter about the line). A trend is stated only where both separate it from flat.
"""
from __future__ import annotations

import math
import statistics


def pooled_variance(cells: dict) -> dict:
    """Per kind, the within-cell variance pooled over every cell of that kind with n >= 2.
    ``cells``: ``{(kind, N): [accuracy per seed]}``."""
    sums: dict = {}
    for (kind, _), values in cells.items():
        if len(values) > 1:
            ss, df = sums.get(kind, (0.0, 0))
            sums[kind] = (ss + (len(values) - 1) * statistics.variance(values), df + len(values) - 1)
    return {kind: ss / df for kind, (ss, df) in sums.items()}


def mean_se(cells: dict, pooled: dict, key) -> tuple[float, float]:
    """A cell's mean and its standard error from its kind's pooled variance."""
    values = cells[key]
    return statistics.mean(values), math.sqrt(pooled.get(key[0], 0.0) / len(values))


def share(base: tuple[float, float], arm: tuple[float, float], target: tuple[float, float]) -> tuple[float, float]:
    """``(arm - base) / (target - base)`` and its delta-method standard error, each argument a
    ``(mean, standard error)``."""
    (a, sa), (m, sm), (t, st) = base, arm, target
    gain = t - a
    r = (m - a) / gain
    se = math.sqrt((sm / gain) ** 2 + (st * (m - a) / gain ** 2) ** 2 + (sa * (m - t) / gain ** 2) ** 2)
    return r, se


def slope_tests(points: list[tuple[float, float, float]]) -> dict:
    """The slope of ``y`` against ``log2 N`` for ``points`` ``(N, y, se)``: by weighted least squares
    with ``se`` known (``slope``, ``se``, ``p``), and by ordinary least squares (``ols_slope``,
    ``ols_se``, ``ols_p``; None with fewer than three points)."""
    from scipy import stats
    x = [math.log2(n) for n, _, _ in points]
    y = [v for _, v, _ in points]
    w = [1 / se ** 2 for _, _, se in points]
    xw = sum(wi * xi for wi, xi in zip(w, x)) / sum(w)
    yw = sum(wi * yi for wi, yi in zip(w, y)) / sum(w)
    sxx = sum(wi * (xi - xw) ** 2 for wi, xi in zip(w, x))
    slope = sum(wi * (xi - xw) * (yi - yw) for wi, xi, yi in zip(w, x, y)) / sxx
    se = math.sqrt(1 / sxx)
    out = {"points": len(points), "slope": slope, "se": se, "p": 2 * stats.norm.sf(abs(slope / se)),
           "ols_slope": None, "ols_se": None, "ols_p": None}
    if len(points) >= 3:
        fit = stats.linregress(x, y)
        out.update(ols_slope=fit.slope, ols_se=fit.stderr, ols_p=fit.pvalue)
    return out


def difference(a: tuple[float, float], b: tuple[float, float]) -> tuple[float, float]:
    """``a - b`` and its standard error, each argument a ``(mean, standard error)`` of independent cells."""
    return a[0] - b[0], math.hypot(a[1], b[1])
