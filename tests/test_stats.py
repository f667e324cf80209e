"""Bootstrap intervals, the Welch test and the verdict rule."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from rltransfer.analysis.stats import (
    finite_or_none,
    mean_ci,
    paired_bootstrap_ci,
    percentile_interval,
    welch_test,
)
from rltransfer.analysis.verdict import decide

VALUES = np.array([0.31, 0.93, 0.42, 1.24, 0.77, 0.55, 0.68, 0.12, 0.85, 0.49])


def test_bootstrap_is_reproducible_with_the_same_generator_seed() -> None:
    a = mean_ci(VALUES, np.random.default_rng(3))
    b = mean_ci(VALUES, np.random.default_rng(3))
    c = mean_ci(VALUES, np.random.default_rng(4))
    assert a == b
    assert a != c


def test_bootstrap_leaves_the_global_rng_alone() -> None:
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    mean_ci(VALUES, np.random.default_rng(0))
    assert np.random.random() == before


def test_ci_contains_the_point_estimate_and_has_width() -> None:
    lo, hi = mean_ci(VALUES, np.random.default_rng(0))
    assert lo < VALUES.mean() < hi
    assert lo >= VALUES.min() and hi <= VALUES.max()


def test_paired_bootstrap_resamples_pairs_together() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0])
    # y == x + 1 for every pair: any resample of whole pairs gives a difference of exactly 1
    lo, hi = paired_bootstrap_ci(
        lambda idx: (x[idx] + 1 - x[idx]).mean(axis=1), 4, np.random.default_rng(0)
    )
    assert lo == pytest.approx(1.0) and hi == pytest.approx(1.0)


def test_degenerate_inputs() -> None:
    lo, hi = mean_ci(np.array([0.7]), np.random.default_rng(0))
    assert np.isnan(lo) and np.isnan(hi)
    assert finite_or_none(lo) is None
    assert mean_ci(np.full(5, 0.25), np.random.default_rng(0)) == (0.25, 0.25)


def test_percentile_interval_with_infinite_and_undefined_samples() -> None:
    lo, hi = percentile_interval(np.array([1.0, 2.0, np.nan] + [np.inf] * 10))
    assert lo == 1.0 and hi == np.inf
    assert all(np.isnan(percentile_interval(np.array([np.nan, np.nan]))))
    lo, hi = percentile_interval(np.arange(101.0))
    assert lo == pytest.approx(2.5) and hi == pytest.approx(97.5)


def test_welch_matches_scipy_and_handles_degenerate_samples() -> None:
    a, b = np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 4.0, 6.0, 9.0])
    ref = sps.ttest_ind(a, b, equal_var=False)
    res = welch_test(a, b)
    assert res.t == pytest.approx(ref.statistic) and res.p == pytest.approx(ref.pvalue)
    assert res.reason is None
    one = welch_test(np.array([1.0]), np.array([2.0]))
    assert np.isnan(one.p) and "1 seed pair" in (one.reason or "")
    flat = welch_test(np.full(3, 1.0), np.full(3, 2.0))
    assert np.isnan(flat.t) and "no variation" in (flat.reason or "")


def test_verdict_positive_negative_inconclusive() -> None:
    rng = np.random.default_rng(0)
    base = 0.5 + 0.03 * rng.standard_normal(5)
    better = 0.7 + 0.03 * rng.standard_normal(5)
    worse = 0.3 + 0.03 * rng.standard_normal(5)
    v, ev = decide(better, base)
    assert v == "positive" and "faster" in ev and "5 seed pairs" in ev and "scratch" in ev
    v, ev = decide(worse, base)
    assert v == "negative" and "slower" in ev
    v, ev = decide(base.copy(), base)
    assert v == "inconclusive" and "no significant difference" in ev


def test_verdict_inconclusive_on_same_distribution_noise() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.5, 0.1, 8), rng.normal(0.5, 0.1, 8)
    assert sps.ttest_ind(a, b, equal_var=False).pvalue > 0.05  # guards the fixture itself
    assert decide(a, b)[0] == "inconclusive"


def test_verdict_needs_two_seeds() -> None:
    v, ev = decide(np.array([0.9]), np.array([0.1]))
    assert v == "inconclusive" and "at least 2" in ev
