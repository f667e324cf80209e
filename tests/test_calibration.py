"""Calibration of the verdict rule on synthetic studies: false positives, power, and agreement.

Synthetic learning curves (a saturating curve from LOW to HIGH on an 11-point grid, with a per-seed
random offset and learning rate and per-point noise) are turned into per-seed areas by the
product's own ``metrics.normalise`` and ``metrics.area`` and judged by ``verdict.verdicts``, the
very rule ``analyze`` uses. An effect of ``d`` SD is a constant shift of ``d * SD(area)`` in
normalised score at every grid point, which moves each area by exactly that much.

Generators are fixed (``np.random.default_rng``) and were never tuned; the Monte Carlo standard
error (MC SE) of each rate is given beside its assertion.
"""

from __future__ import annotations

import numpy as np
import pytest

from rltransfer.analysis import metrics as M
from rltransfer.analysis.curves import Curve
from rltransfer.analysis.power import seeds_needed, welch_power
from rltransfer.analysis.summary import analyze
from rltransfer.analysis.verdict import (
    MEASURED_FALSE_POSITIVE,
    MEASURED_POWER,
    verdicts,
    welch_batch,
)

GRID = np.linspace(0, 100_000, 11).astype(np.int64)
LOW, HIGH = -50.0, 150.0
CHUNK = 20_000


def _returns(rng: np.random.Generator, shape: tuple[int, ...], shift: float = 0.0) -> np.ndarray:
    """Raw returns of shape (*shape, G): one saturating curve per seed, plus noise."""
    offset = rng.normal(0.0, 0.06, shape + (1,))
    rate = 3.0 * np.exp(0.25 * rng.standard_normal(shape + (1,)))
    noise = rng.normal(0.0, 0.04, shape + (GRID.size,))
    score = offset + 1.0 - np.exp(-rate * GRID / GRID[-1]) + noise + shift
    return LOW + (HIGH - LOW) * score


def _areas(returns: np.ndarray) -> np.ndarray:
    """The product's per-seed area: (..., G) -> (...)."""
    return M.area(M.normalise(returns, LOW, HIGH), GRID)


@pytest.fixture(scope="module")
def sd_area() -> float:
    """SD of one seed's area, from 1,000,000 synthetic seeds (relative error about 0.07%)."""
    return float(_areas(_returns(np.random.default_rng(20240501), (1_000_000,))).std())


def _rates(n: int, studies: int, shift: float, seed: int) -> tuple[float, float]:
    """Fractions of ``studies`` simulated studies (n seeds per method) judged positive/negative."""
    rng = np.random.default_rng(seed)
    pos = neg = 0
    for start in range(0, studies, CHUNK):
        k = min(CHUNK, studies - start)
        v = verdicts(_areas(_returns(rng, (k, n), shift)), _areas(_returns(rng, (k, n))))
        pos += int((v == "positive").sum())
        neg += int((v == "negative").sum())
    return pos / studies, neg / studies


@pytest.mark.parametrize(("n", "seed"), [(5, 501), (10, 1001)])
def test_false_positive_rate_is_at_most_alpha(n: int, seed: int) -> None:
    studies = 200_000
    pos, neg = _rates(n, studies, 0.0, seed)
    # MC SE of the total rate ~ sqrt(0.045 * 0.955 / 200_000) = 0.00046, so a true size of
    # 4.4-4.9% cannot reach 5% by chance (>= 2 SE away even at 4.9%).
    assert pos + neg <= 0.05
    # Both directions equally often: MC SE of pos - neg ~ sqrt(0.045 / 200_000) = 0.00047.
    assert abs(pos - neg) <= 4 * 0.00047
    # The figure quoted in the report and the docs is what this simulation measures.
    assert abs(pos + neg - MEASURED_FALSE_POSITIVE[n]) <= 4 * 0.00046


@pytest.mark.parametrize(("d", "n", "seed"), [(1.5, 7, 157), (1.0, 14, 1014)])
def test_power_in_the_right_direction(sd_area: float, d: float, n: int, seed: int) -> None:
    studies = 100_000  # MC SE of a rate near 0.72: sqrt(0.72 * 0.28 / 100_000) = 0.0014
    pos, neg = _rates(n, studies, d * sd_area, seed)
    assert pos >= 0.70  # theory for Welch on normal data: about 72%
    assert neg <= 0.001  # a significant result in the wrong direction is all but impossible
    assert abs(pos - MEASURED_POWER[(d, n)]) <= 4 * 0.0014
    # The noncentral-t power behind seeds_needed agrees with the simulation within 2 points.
    assert abs(pos - float(welch_power(d, 1.0, 1.0, np.array([n]))[0])) <= 0.02
    pos, neg = _rates(n, studies, -d * sd_area, seed + 1)  # the method is worse
    assert neg >= 0.70
    assert pos <= 0.001


def test_seeds_needed_gives_about_80_percent_power(sd_area: float) -> None:
    n = seeds_needed(1.0 * sd_area, sd_area, sd_area)
    assert n == 17  # as for Student's t (R's power.t.test gives n = 16.7 for d = 1)
    studies = 100_000  # MC SE near 0.8: sqrt(0.8 * 0.2 / 100_000) = 0.0013
    at_n = sum(_rates(n, studies, sd_area, 1700))
    below = sum(_rates(n - 1, studies, sd_area, 1600))
    assert at_n >= 0.78  # Welch's estimated df make it a little less than the nominal 80.7%
    assert below < 0.80 and below < at_n


def _curve(values: np.ndarray) -> Curve:
    return Curve(GRID, values, np.zeros(GRID.size), np.full(GRID.size, 10, dtype=np.int64))


def test_analyze_gives_the_vectorised_rules_verdicts(sd_area: float) -> None:
    """300 studies of 5 seeds through the full ``analyze`` with real Curve objects."""
    rng = np.random.default_rng(300)
    studies, n = 300, 5
    shifts = rng.choice([-1.5, 0.0, 1.5], size=studies) * sd_area
    method = np.stack([_returns(rng, (n,), s) for s in shifts])  # (300, 5, G)
    base = _returns(rng, (studies, n))
    expected = verdicts(_areas(method), _areas(base))
    _, p_expected = welch_batch(_areas(method), _areas(base))
    got, p_got = [], []
    for i in range(studies):
        curves = {
            "scratch": {k: _curve(base[i, k]) for k in range(n)},
            "transfer": {k: _curve(method[i, k]) for k in range(n)},
        }
        s = analyze(curves, study="cal", threshold=None, low=LOW, high=HIGH, n_resamples=20)
        got.append(s["methods"]["transfer"]["verdict"])
        p_got.append(s["methods"]["transfer"]["tests"]["welch_area"]["p"])
    assert got == expected.tolist()
    np.testing.assert_allclose(p_got, p_expected, rtol=1e-12)
    assert {"positive", "negative", "inconclusive"} <= set(got)  # every branch was exercised
