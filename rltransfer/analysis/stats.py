"""Confidence intervals and tests over seeds.

Every random draw comes from an ``np.random.Generator`` passed in by the caller; the global numpy
RNG is never used, so the same generator seed gives the same intervals.

The bootstrap is our own rather than ``scipy.stats.bootstrap``: it resamples *seed indices* once
and applies any vectorised statistic of those indices (a mean of per-pair values, a ratio of
threshold times on resampled mean curves, a probability of improvement), it tolerates infinite
statistics (censored times), it is defined for one seed (no interval) and it does not depend on
scipy's ``random_state``/``rng`` keyword, which changed in scipy 1.15.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from rltransfer.analysis.verdict import welch_batch

DEFAULT_RESAMPLES = 2000
DEFAULT_CONFIDENCE = 0.95


def bootstrap_indices(n: int, rng: np.random.Generator, n_resamples: int) -> np.ndarray:
    """Seed indices drawn with replacement: shape (n_resamples, n), values in [0, n)."""
    return rng.integers(0, n, size=(n_resamples, n))


def percentile_interval(
    samples: np.ndarray, confidence: float = DEFAULT_CONFIDENCE
) -> tuple[float, float]:
    """Percentile interval of bootstrap samples of shape (B,).

    ``nan`` samples (statistic undefined on that resample) are dropped: a statistic that can be
    censored or undefined should give its range to :func:`bounded_percentile_interval` instead,
    which keeps every resample. When some samples are
    infinite the bounds are order statistics (``lower``/``higher``) so an end may be ``±inf``;
    otherwise they are linearly interpolated. No finite-or-infinite sample gives ``(nan, nan)``.
    """
    s = np.asarray(samples, dtype=np.float64)
    s = s[~np.isnan(s)]
    if s.size == 0:
        return float("nan"), float("nan")
    a = (1.0 - confidence) / 2.0
    if np.all(np.isfinite(s)):
        lo, hi = np.quantile(s, [a, 1.0 - a])
    else:
        lo = np.quantile(s, a, method="lower")
        hi = np.quantile(s, 1.0 - a, method="higher")
    return float(lo), float(hi)


def bounded_percentile_interval(
    lower: np.ndarray, upper: np.ndarray, confidence: float = DEFAULT_CONFIDENCE
) -> tuple[float, float]:
    """Percentile interval of bootstrap samples known only to lie in ``[lower, upper]``.

    ``lower``, ``upper`` (B,): each resample's lowest and highest possible value (equal where
    the statistic is known; e.g. ``0`` and ``inf`` for a ratio of two censored times). Every
    resample is kept: the interval's lower end is the ``(1 - confidence) / 2`` quantile of the
    lower values and its upper end the ``(1 + confidence) / 2`` quantile of the upper ones, so
    resamples whose value is unknown widen the interval instead of being dropped.
    """
    lo, _ = percentile_interval(lower, confidence)
    _, hi = percentile_interval(upper, confidence)
    return lo, hi


def paired_bootstrap_ci(
    statistic: Callable[[np.ndarray], np.ndarray],
    n: int,
    rng: np.random.Generator,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> tuple[float, float]:
    """Paired percentile bootstrap over ``n`` seed pairs.

    Args:
        statistic: maps seed indices of shape (B, n) to the statistic of each resample, (B,).
            Resampling whole pairs keeps seed ``k`` of the method with seed ``k`` of the baseline.
        n: number of seed pairs.
        rng: the only source of randomness.

    Returns:
        ``(lo, hi)``; ``(nan, nan)`` when ``n < 2`` (one seed says nothing about the spread).
        With zero variance across seeds the interval collapses onto the point estimate.
    """
    if n < 2:
        return float("nan"), float("nan")
    idx = bootstrap_indices(n, rng, n_resamples)
    return percentile_interval(statistic(idx), confidence)


def mean_ci(
    values: np.ndarray,
    rng: np.random.Generator,
    *,
    n_resamples: int = DEFAULT_RESAMPLES,
    confidence: float = DEFAULT_CONFIDENCE,
) -> tuple[float, float]:
    """Bootstrap CI of ``mean(values)`` for per-pair values of shape (S,)."""
    v = np.asarray(values, dtype=np.float64)
    return paired_bootstrap_ci(
        lambda idx: v[idx].mean(axis=1),
        len(v),
        rng,
        n_resamples=n_resamples,
        confidence=confidence,
    )


@dataclass(frozen=True)
class WelchResult:
    """Welch's unequal-variance t-test; ``t``/``p`` are nan when the test is undefined."""

    t: float
    p: float
    reason: str | None = None


def welch_test(a: np.ndarray, b: np.ndarray) -> WelchResult:
    """Two-sided Welch t-test of ``mean(a) != mean(b)`` for samples of shape (n,), (m,).

    Undefined (nan, with a ``reason``) with fewer than 2 values in a sample, or when neither
    sample varies (all seeds identical: the test has no noise estimate to compare with). The
    numbers come from :func:`rltransfer.analysis.verdict.welch_batch`, the verdict's own test.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if min(len(a), len(b)) < 2:
        n = min(len(a), len(b))
        return WelchResult(
            float("nan"), float("nan"), f"only {n} seed pair(s): at least 2 are needed"
        )
    if np.ptp(a) == 0 and np.ptp(b) == 0:
        return WelchResult(
            float("nan"),
            float("nan"),
            "no variation across seeds in either method, so the test is undefined "
            "(do the seeds really differ?)",
        )
    t, p = welch_batch(a, b)
    return WelchResult(float(t), float(p))


def finite_or_none(x: float | None) -> float | None:
    """``x`` as a float, or ``None`` for nan/inf (JSON has neither)."""
    if x is None:
        return None
    x = float(x)
    return x if np.isfinite(x) else None
