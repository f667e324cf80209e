"""Bootstrap intervals, the Welch test and the verdict rule."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats as sps

from rltransfer.analysis.power import seeds_needed, welch_power
from rltransfer.analysis.stats import (
    finite_or_none,
    mean_ci,
    paired_bootstrap_ci,
    percentile_interval,
    welch_test,
)
from rltransfer.analysis.verdict import VERDICTS, decide, verdicts, welch_batch

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
    d = decide(better, base)
    assert d.verdict == "positive" and "did better" in d.evidence and "5 seed pairs" in d.evidence
    assert "scratch" in d.evidence and d.seeds_needed is None and d.p is not None and d.p < 0.05
    d = decide(worse, base)
    assert d.verdict == "negative" and "did worse" in d.evidence and d.diff < 0
    d = decide(base.copy(), base)
    assert d.verdict == "inconclusive" and "no significant difference" in d.evidence
    assert d.seeds_needed is None and "exactly 0" in d.evidence  # identical means


def test_verdict_inconclusive_on_same_distribution_noise() -> None:
    rng = np.random.default_rng(1)
    a, b = rng.normal(0.5, 0.1, 8), rng.normal(0.5, 0.1, 8)
    assert sps.ttest_ind(a, b, equal_var=False).pvalue > 0.05  # guards the fixture itself
    d = decide(a, b)
    assert d.verdict == "inconclusive"
    expected = seeds_needed(a.mean() - b.mean(), a.std(ddof=1), b.std(ddof=1))
    assert d.seeds_needed == expected and expected is not None and expected > 8
    assert f"about {expected} seeds per method would detect a difference this large" in d.evidence


def test_verdict_needs_two_seeds() -> None:
    d = decide(np.array([0.9]), np.array([0.1]))
    assert d.verdict == "inconclusive" and "at least 2" in d.evidence and d.p is None


def test_verdicts_vectorised_matches_scipy_row_by_row() -> None:
    rng = np.random.default_rng(7)
    a = rng.normal(0.0, 1.0, (4, 50, 6)) + np.linspace(-2, 2, 50)[:, None]
    b = rng.normal(0.0, 1.0, (4, 50, 6))
    v = verdicts(a, b)
    assert v.shape == (4, 50)
    for i, j in np.ndindex(4, 50):
        r = sps.ttest_ind(a[i, j], b[i, j], equal_var=False)
        want = "inconclusive"
        if r.pvalue < 0.05:
            want = "positive" if r.statistic > 0 else "negative"
        assert v[i, j] == want
    assert {"positive", "negative", "inconclusive"} <= set(v.ravel())
    assert str(verdicts(a[0, 0], b[0, 0])) in VERDICTS  # one study: a 0-d array
    assert (verdicts(a, b, alpha=0.5) != "inconclusive").sum() > (v != "inconclusive").sum()


def test_verdicts_degenerate_rows_are_inconclusive() -> None:
    a = np.array([[1.0, 1.0, 1.0], [1.0, 1.0, 1.0], [1.0, 2.0, 3.0]])
    b = np.array([[2.0, 2.0, 2.0], [1.0, 1.0, 1.0], [11.0, 12.0, 13.0]])
    # no variation on either side -> undefined; only the last row can be decided
    assert verdicts(a, b).tolist() == ["inconclusive", "inconclusive", "negative"]
    # zero variance on ONE side only is a valid Welch test
    assert verdicts(np.array([1.0, 1.0, 1.0]), np.array([5.0, 5.1, 4.9])) == "negative"
    assert verdicts(np.ones((3, 1)), np.zeros((3, 1))).tolist() == ["inconclusive"] * 3
    t, p = welch_batch(np.ones((2, 1)), np.zeros((2, 1)))
    assert np.isnan(t).all() and np.isnan(p).all()


def test_seeds_needed_known_values_and_edges() -> None:
    # Equal SDs: Welch's df equal Student's, so d = 1 needs 17 (R: power.t.test gives 16.7)
    assert seeds_needed(1.0, 1.0, 1.0) == 17
    assert seeds_needed(-1.0, 1.0, 1.0) == 17  # only the size of the difference matters
    assert seeds_needed(2.0, 2.0, 2.0) == 17  # scale-free
    assert seeds_needed(1.5, 1.0, 1.0) == 9
    assert seeds_needed(0.5, 1.0, 1.0) == 64  # R: 63.8
    assert seeds_needed(0.0, 1.0, 1.0) is None
    assert seeds_needed(0.05, 1.0, 1.0) is None  # would need ~6,300 > max_n
    assert seeds_needed(0.05, 1.0, 1.0, max_n=10_000) is not None
    assert seeds_needed(1.0, 0.0, 0.0) is None  # no variation: the test is undefined
    assert seeds_needed(1.0, 1.0, 1.0, power=0.9) > 17
    # unequal spreads: power rises with n and crosses 0.8 exactly at the answer
    n = seeds_needed(1.0, 0.5, 1.5)
    p = welch_power(1.0, 0.5, 1.5, np.array([n - 1, n]))
    assert p[0] < 0.8 <= p[1]
