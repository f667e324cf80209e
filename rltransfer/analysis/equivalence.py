"""Equivalence to the baseline within a margin: two one-sided tests (TOST), Welch-style.

An inconclusive verdict says only that no difference was shown. With a margin ``m`` (in
normalised-area units: the verdict's own per-seed statistic, the average normalised score over
the compared budget), TOST asks the converse: is the difference of mean areas
``D = mean(a) - mean(b)`` inside ``(-m, +m)``? Each one-sided test is a Welch t-test at level
``alpha`` (Welch-Satterthwaite degrees of freedom):

    se = sqrt(s_a^2 / n + s_b^2 / k),   nu = se^4 / ((s_a^2/n)^2 / (n-1) + (s_b^2/k)^2 / (k-1)),
    p_lower = P(T_nu > (D + m) / se)    (H0: true difference <= -m),
    p_upper = P(T_nu < (D - m) / se)    (H0: true difference >= +m),

and the method is *equivalent* iff ``max(p_lower, p_upper) < alpha``, which is the same as the
``1 - 2 alpha`` (90%) confidence interval ``D -/+ t_{1-alpha, nu} se`` lying strictly inside
``(-m, +m)``. At the boundary (true difference = +-m) it declares equivalence at most ``alpha`` of
the time.

:func:`tost_seeds_needed` plans the seeds: the smallest ``n`` seed pairs for which TOST declares
equivalence with probability ``power``, assuming a true difference (0 by default) and the
observed standard deviations as the truth.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from scipy import stats

ALPHA = 0.05
POWER = 0.8
ASSUMED_DIFF = 0.0
"""The true difference :func:`tost_seeds_needed` assumes when planning seeds (the usual one: a
method truly equal to the baseline)."""
_QUADRATURE = 512
"""Points of the chi-square quadrature in :func:`tost_power`."""


def tost_batch(
    a: np.ndarray, b: np.ndarray, margin: float, alpha: float = ALPHA
) -> dict[str, np.ndarray]:
    """TOST of ``|mean(a) - mean(b)| < margin``, vectorised along the last axis.

    Args:
        a: (..., n) per-seed areas of the method (normalised-area units).
        b: (..., k) the baseline's, same units.
        margin: the equivalence margin ``m > 0``, same units.

    Returns:
        Arrays of the broadcast batch shape (...): ``diff``, ``se``, ``df``, ``lo``/``hi`` (the
        ``1 - 2 alpha`` CI of the difference), ``p_lower``, ``p_upper`` and ``equivalent``
        (bool). Everything but ``diff`` is ``nan`` (and ``equivalent`` False) where the test is
        undefined: ``n < 2`` or ``k < 2``, or neither row varies (``se = 0``).
    """
    if not (np.isfinite(margin) and margin > 0):
        raise ValueError(f"margin must be a finite number > 0, got {margin!r}")
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    n, k = a.shape[-1], b.shape[-1]
    diff = a.mean(axis=-1) - b.mean(axis=-1)
    shape = np.broadcast_shapes(a.shape[:-1], b.shape[:-1])
    diff = np.broadcast_to(diff, shape).astype(np.float64)
    nan = np.full(shape, np.nan)
    if min(n, k) < 2:
        return {
            "diff": diff,
            "se": nan,
            "df": nan,
            "lo": nan,
            "hi": nan,
            "p_lower": nan,
            "p_upper": nan,
            "equivalent": np.zeros(shape, dtype=bool),
        }
    va = a.var(axis=-1, ddof=1) / n
    vb = b.var(axis=-1, ddof=1) / k
    with np.errstate(divide="ignore", invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        se = np.sqrt(va + vb)
        df = (va + vb) ** 2 / (va**2 / (n - 1) + vb**2 / (k - 1))
        ok = se > 0
        se = np.broadcast_to(np.where(ok, se, np.nan), shape)
        df = np.broadcast_to(np.where(ok, df, np.nan), shape)
        p_lower = stats.t.sf((diff + margin) / se, df)
        p_upper = stats.t.cdf((diff - margin) / se, df)
        half = stats.t.ppf(1.0 - alpha, df) * se
    equivalent = (p_lower < alpha) & (p_upper < alpha)  # False where nan
    return {
        "diff": diff,
        "se": se,
        "df": df,
        "lo": diff - half,
        "hi": diff + half,
        "p_lower": np.asarray(p_lower, dtype=np.float64),
        "p_upper": np.asarray(p_upper, dtype=np.float64),
        "equivalent": np.asarray(equivalent, dtype=bool),
    }


def tost_power(
    n: np.ndarray,
    sd_method: float,
    sd_baseline: float,
    margin: float,
    true_diff: float = ASSUMED_DIFF,
    alpha: float = ALPHA,
) -> np.ndarray:
    """Probability that TOST declares equivalence with ``n`` seed pairs: n (K,) -> (K,).

    Under the Welch-Satterthwaite approximation (as :func:`power.welch_power`): the estimated
    difference is ``N(true_diff, sigma^2)`` with ``sigma^2 = (sd_m^2 + sd_b^2) / n``, and the
    estimated ``se^2`` is ``sigma^2 chi2_nu / nu``, independent of it. TOST declares equivalence
    iff ``-m + c se < D < m - c se`` (``c = t_{1-alpha, nu}``), so

        power(n) = E_se[ max(0, Phi((m - c se - true_diff) / sigma)
                                - Phi((-m + c se - true_diff) / sigma)) ],

    integrated over the chi-square distribution at ``_QUADRATURE`` equal-probability points.
    Requires ``n >= 2`` and ``sd_method**2 + sd_baseline**2 > 0``.
    """
    n = np.asarray(n, dtype=np.float64)[:, None]
    v_m, v_b = float(sd_method) ** 2, float(sd_baseline) ** 2
    nu = (n - 1.0) * (v_m + v_b) ** 2 / (v_m**2 + v_b**2)
    sigma = np.sqrt((v_m + v_b) / n)
    u = (np.arange(_QUADRATURE) + 0.5) / _QUADRATURE
    se = sigma * np.sqrt(stats.chi2.ppf(u[None, :], nu) / nu)
    c = stats.t.ppf(1.0 - alpha, nu)
    upper = stats.norm.cdf((margin - c * se - true_diff) / sigma)
    lower = stats.norm.cdf((-margin + c * se - true_diff) / sigma)
    return np.clip(upper - lower, 0.0, None).mean(axis=1)


def tost_seeds_needed(
    sd_method: float,
    sd_baseline: float,
    margin: float,
    true_diff: float = ASSUMED_DIFF,
    alpha: float = ALPHA,
    power: float = POWER,
    max_n: int = 1000,
) -> int | None:
    """Smallest number of seed pairs for which TOST shows equivalence with probability ``power``.

    Args:
        sd_method, sd_baseline: standard deviations of the per-seed areas (``ddof=1``), taken as
            the truth.
        margin: the equivalence margin (same units).
        true_diff: the true difference assumed (default 0: the method truly equals the baseline).

    Returns:
        ``n`` in ``[2, max_n]``; ``None`` when neither side varies, an input is not finite,
        ``|true_diff| >= margin`` (equivalence is then false, so no ``n`` shows it with power
        above ``alpha``) or more than ``max_n`` would be needed.
    """
    values = (sd_method, sd_baseline, margin, true_diff)
    if not all(np.isfinite(values)) or margin <= 0 or abs(true_diff) >= margin:
        return None
    if sd_method == 0 and sd_baseline == 0:
        return None
    start = 2
    for stop in (64, 256, int(max_n)):  # the first n of the whole grid, in blocks (faster)
        grid = np.arange(start, min(stop, int(max_n)) + 1)
        if grid.size:
            p = tost_power(grid, sd_method, sd_baseline, margin, true_diff, alpha)
            ok = np.flatnonzero(p >= power)
            if ok.size:
                return int(grid[ok[0]])
        start = stop + 1
    return None


def _finite(x: Any) -> float | None:
    x = float(x)
    return x if np.isfinite(x) else None


def equivalence(
    area_method: np.ndarray, area_baseline: np.ndarray, margin: float, alpha: float = ALPHA
) -> dict[str, Any]:
    """The ``methods.NAME.equivalence`` block of ``summary.json`` for one method.

    Args:
        area_method: (S,) per-seed normalised areas of the method.
        area_baseline: (S,) the baseline's, the same seeds.
        margin: the study's ``equivalence_margin`` (normalised-area units).

    Returns:
        ``{"margin", "alpha", "test", "diff", "ci90": [lo, hi], "p_lower", "p_upper",
        "result": "equivalent" | "not shown", "reason", "seeds_needed", "assumed_diff",
        "power"}``; ``ci90`` and the p-values are ``None`` where the test is undefined (then
        ``reason`` says why), ``seeds_needed`` is ``None`` once equivalence is shown.
    """
    a = np.asarray(area_method, dtype=np.float64)
    b = np.asarray(area_baseline, dtype=np.float64)
    r = tost_batch(a, b, margin, alpha)
    result = "equivalent" if bool(r["equivalent"]) else "not shown"
    reason = None
    if min(len(a), len(b)) < 2:
        reason = f"only {min(len(a), len(b))} seed pair(s): at least 2 are needed"
    elif not np.isfinite(r["se"]):
        reason = "no variation across seeds in either method, so the test is undefined"
    sd_a = float(a.std(ddof=1)) if len(a) >= 2 else float("nan")
    sd_b = float(b.std(ddof=1)) if len(b) >= 2 else float("nan")
    needed = None
    if result != "equivalent" and reason is None:
        needed = tost_seeds_needed(sd_a, sd_b, margin, ASSUMED_DIFF, alpha, POWER)
    return {
        "margin": float(margin),
        "alpha": alpha,
        "test": "two one-sided Welch t-tests (TOST) of the per-seed normalised areas",
        "diff": _finite(r["diff"]),
        "ci90": [_finite(r["lo"]), _finite(r["hi"])],
        "p_lower": _finite(r["p_lower"]),
        "p_upper": _finite(r["p_upper"]),
        "result": result,
        "reason": reason,
        "seeds_needed": needed,
        "assumed_diff": ASSUMED_DIFF,
        "power": POWER,
    }


def equivalence_sentence(eq: dict[str, Any], baseline: str) -> str:
    """The equivalence block in words, a clause for the evidence sentence and the report.

    E.g. ``"but equivalent to scratch within ±0.05 normalised area (TOST, 90% CI of the
    difference [-0.02, 0.03])"`` or ``"nor equivalent within ±0.05 normalised area (TOST, 90%
    CI [-0.08, 0.03] is not inside it): about 24 seed pairs would show it 80% of the time if
    the true difference were 0"``.
    """
    m = f"±{eq['margin']:.3g} normalised area"
    lo, hi = eq["ci90"]
    if eq["result"] == "equivalent":
        return (
            f"but equivalent to {baseline} within {m} (TOST, 90% CI of the difference "
            f"[{lo:.2g}, {hi:.2g}])"
        )
    if eq.get("reason"):
        return f"equivalence within {m} could not be tested ({eq['reason']})"
    head = f"nor shown equivalent within {m} (TOST, 90% CI [{lo:.2g}, {hi:.2g}] is not inside it)"
    n = eq.get("seeds_needed")
    if n is None:
        tail = f"{head}; more than 1000 seed pairs would be needed to show it"
    else:
        cond = f"if the true difference were {eq['assumed_diff']:g} and the spread as observed"
        tail = f"{head}: about {n} seed pairs would show it {eq['power']:.0%} of the time {cond}"
    diff = eq.get("diff")
    if diff is not None and abs(diff) >= eq["margin"]:
        tail += f" (but the observed difference, {diff:+.2g}, is itself outside the margin)"
    return tail
