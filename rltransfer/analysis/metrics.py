"""Transfer metrics (Taylor & Stone, 2009) as pure numpy functions.

Notation: ``P(t)`` is the mean evaluation return at target step ``t``. Arrays named ``transfer``
and ``baseline`` have shape (S, G) = (seed pairs, grid points); row ``k`` of both comes from the
same seed. ``grid`` has shape (G,) and starts at t = 0.
"""

from __future__ import annotations

import numpy as np
from scipy import integrate, stats

AREA_EPS = 1e-9
"""A baseline normalised area at or below this makes the area ratio undefined (nan)."""


def jumpstart(transfer: np.ndarray, baseline: np.ndarray) -> np.ndarray:
    """``P_T(0) - P_B(0)`` per seed pair: (S, G), (S, G) -> (S,)."""
    return transfer[:, 0] - baseline[:, 0]


def asymptotic_window(grid: np.ndarray) -> np.ndarray:
    """The grid points of the asymptotic window: ``0.9 T <= t <= T``, ``T = grid[-1]``.

    (G,) timesteps -> (G,) bool. The last tenth of the compared steps, both ends included,
    tested exactly (``10 t >= 9 T``, no floating-point rounding at the edge). On a uniform grid
    of ``n`` steps (``n + 1`` points) that is ``floor(n / 10) + 1`` points: 3 of the 21 points
    of a 20-step grid (t = 45,000, 47,500, 50,000 of 50,000). ``t = T`` is always in it.
    """
    t = np.asarray(grid, dtype=np.float64)
    return 10.0 * t >= 9.0 * t[-1]


def asymptotic_gain(transfer: np.ndarray, baseline: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Mean of ``P_T - P_B`` over :func:`asymptotic_window` of ``grid``, per pair.

    (S, G), (S, G), (G,) -> (S,), in return units.
    """
    w = asymptotic_window(grid)
    return transfer[:, w].mean(axis=1) - baseline[:, w].mean(axis=1)


def score_range(
    baseline: np.ndarray,
    all_returns: np.ndarray,
    *,
    threshold: float | None,
    low: float | None = None,
    high: float | None = None,
) -> tuple[float, float]:
    """The ``(low, high)`` that map returns to normalised scores.

    Args:
        baseline: (S_B, G) baseline returns; ``low`` defaults to ``mean_s baseline[s, 0]``, the
            return of the untrained (random-initialised) policy.
        all_returns: any-shape array of every return of every method and seed; ``high``
            defaults to ``threshold`` when one is given, otherwise to ``max(all_returns)``.
        threshold, low, high: explicit values override the defaults.
    """
    lo = float(np.mean(baseline[:, 0])) if low is None else float(low)
    if high is not None:
        hi = float(high)
    elif threshold is not None:
        hi = float(threshold)
    else:
        hi = float(np.max(all_returns))
    return lo, hi


def normalise(returns: np.ndarray, low: float, high: float) -> np.ndarray:
    """``(P - low) / (high - low)``, same shape as ``returns``; requires ``high > low``."""
    return (returns - low) / (high - low)


def area(normalised: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """Mean normalised score: ``trapz(score, t) / (t[-1] - t[0])``. (..., G) -> (...)."""
    t = np.asarray(grid, dtype=np.float64)
    return integrate.trapezoid(normalised, t, axis=-1) / (t[-1] - t[0])


def area_ratio(area_transfer: np.ndarray, area_baseline: np.ndarray) -> np.ndarray:
    """``(A_T - A_B) / A_B`` per pair: (S,), (S,) -> (S,).

    Undefined (nan) where ``A_B <= AREA_EPS``: a baseline at or below the random-policy level
    gives a ratio whose size, and with ``A_B < 0`` whose sign, means nothing.
    """
    a_t = np.asarray(area_transfer, dtype=np.float64)
    a_b = np.asarray(area_baseline, dtype=np.float64)
    ok = a_b > AREA_EPS
    safe = np.where(ok, a_b, 1.0)
    return np.where(ok, (a_t - a_b) / safe, np.nan)


def time_to_threshold(returns: np.ndarray, grid: np.ndarray, threshold: float) -> np.ndarray:
    """First grid timestep with ``P(t) >= threshold``, per curve: (..., G) -> (...), float.

    A curve that never reaches the threshold is right-censored: its time is ``np.inf`` (it is
    only known to be later than ``grid[-1]``), never the budget.
    """
    reached = returns >= threshold
    first = np.argmax(reached, axis=-1)
    times = np.asarray(grid, dtype=np.float64)[first]
    return np.where(reached.any(axis=-1), times, np.inf)


def time_ratio(time_baseline: np.ndarray, time_transfer: np.ndarray) -> np.ndarray:
    """``t_B / t_T`` elementwise, > 1 when the transfer method is faster.

    ``inf`` when only the baseline is censored or the transfer is at the threshold at t = 0;
    ``0`` when only the transfer is censored; ``nan`` when both are censored or both are 0.
    """
    t_b = np.asarray(time_baseline, dtype=np.float64)
    t_t = np.asarray(time_transfer, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return t_b / t_t


def time_ratio_bounds(
    time_baseline: np.ndarray, time_transfer: np.ndarray, end: float, shift: float = 0.0
) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and highest ``t_B / (t_T + shift)`` consistent with censored times.

    ``time_*`` (...) are threshold times on a grid ending at ``end``, ``inf`` when censored (only
    known to exceed ``end``); ``shift`` is ``N_s`` under total cost. Returns ``(lower, upper)``,
    same shape: a known time is itself at both ends; a censored baseline time lies in
    ``(end, inf)`` and a censored transfer time in ``(end + shift, inf)``. So a censored baseline
    gives ``[end / (t_T + shift), inf]``, a censored transfer ``[0, t_B / (end + shift)]``, both
    censored ``[0, inf]``; ``0 / 0`` (both at the threshold at t = 0) is undefined and also
    ``[0, inf]``. Where nothing is censored ``lower == upper ==`` :func:`time_ratio`.
    """
    t_b = np.asarray(time_baseline, dtype=np.float64)
    t_t = np.asarray(time_transfer, dtype=np.float64) + shift
    b_cens, t_cens = np.isinf(t_b), np.isinf(t_t)
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.where(b_cens, end, t_b) / t_t  # a censored transfer: x / inf = 0
        upper = t_b / np.where(t_cens, end + shift, t_t)  # a censored baseline: inf / x = inf
    undefined = np.isnan(lower) | np.isnan(upper)
    return np.where(undefined, 0.0, lower), np.where(undefined, np.inf, upper)


def prob_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """``P(X > Y) + 0.5 P(X = Y)`` over all (x, y) pairs: Mann-Whitney ``U_x / (n m)``.

    ``x`` has shape (n,), ``y`` shape (m,), both non-empty.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    u = stats.mannwhitneyu(x, y, alternative="two-sided").statistic
    return float(u) / (len(x) * len(y))


def prob_improvement_batch(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Vectorised :func:`prob_improvement` over a batch: (B, n), (B, m) -> (B,)."""
    gt = x[:, :, None] > y[:, None, :]
    eq = x[:, :, None] == y[:, None, :]
    return (gt + 0.5 * eq).mean(axis=(1, 2))


def iqm(values: np.ndarray) -> float:
    """Interquartile mean of all values (flattened): the mean of exactly the middle 50 %.

    Each of the ``n`` sorted values holds ``1/n`` of the probability mass; the lowest and
    highest quarter of the mass are cut off, and a value straddling a quartile counts with the
    fraction of its mass inside ``[0.25, 0.75]``. With ``n`` divisible by 4 this is
    ``scipy.stats.trim_mean(x, 0.25)`` (whole values trimmed, as rliable does); otherwise scipy
    trims ``floor(n / 4)`` whole values from each end (for ``n = 5`` the middle 3, 60 %), while
    here the two straddling values count 3/4: ``IQM(1, 2, 4, 8, 100) = (0.75·2 + 4 + 0.75·8) /
    2.5 = 4.6``. (S,) or any shape -> float.
    """
    x = np.sort(np.ravel(np.asarray(values, dtype=np.float64)))
    n = x.size
    lo = np.arange(n) / n
    weight = np.clip(np.minimum(lo + 1.0 / n, 0.75) - np.maximum(lo, 0.25), 0.0, None)
    return float(np.sum(weight * x) / 0.5)


def interp_rows(x: np.ndarray, grid: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Linear interpolation of every row at the points ``x``: (K,), (G,), (S, G) -> (S, K).

    ``x`` must lie within ``[grid[0], grid[-1]]``.
    """
    g = np.asarray(grid, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    i = np.clip(np.searchsorted(g, x, side="right") - 1, 0, len(g) - 2)
    w = (x - g[i]) / (g[i + 1] - g[i])
    return values[:, i] * (1.0 - w) + values[:, i + 1] * w


def shift_curves(
    returns: np.ndarray, grid: np.ndarray, source_steps: float, low: float, points: np.ndarray
) -> np.ndarray:
    """The total-cost curve ``P(t - N_s)`` (``low`` before ``N_s``) at ``points``.

    (S, G) returns on ``grid`` -> (S, K) values at the K ``points`` (all ``<= grid[-1]``); a point
    at or after ``N_s`` interpolates the unshifted curve linearly at ``t - N_s``.
    """
    pts = np.asarray(points, dtype=np.float64)
    started = pts >= source_steps
    src = np.where(started, pts - source_steps, 0.0)
    return np.where(started, interp_rows(src, grid, returns), low)


def total_cost_area(normalised: np.ndarray, grid: np.ndarray, source_steps: float) -> np.ndarray:
    """Exact area of the total-cost curve on ``[0, T]``, ``T = grid[-1]``: (S, G) -> (S,).

    ``normalised`` is the transfer learner's normalised curve on its own ``grid``; the total-cost
    curve is 0 (= ``low``) before ``N_s`` and ``normalised(t - N_s)`` after, a step at ``N_s``.
    It is integrated exactly, as a piecewise-linear function with knots at ``grid`` and
    ``grid + N_s`` (the same integral as :func:`area` for the unshifted curve when ``N_s = 0``),
    and divided by ``T``.
    """
    g = np.asarray(grid, dtype=np.float64)
    end = g[-1]
    if source_steps >= end:
        return np.zeros(normalised.shape[0])
    knots = np.union1d(g[g >= source_steps], g[g + source_steps <= end] + source_steps)
    values = shift_curves(normalised, g, source_steps, 0.0, knots)
    # The step: 0 just before N_s (a zero-width interval), then the curve from its start.
    if source_steps > 0:
        knots = np.concatenate([[0.0, source_steps], knots])
        values = np.concatenate([np.zeros((len(values), 2)), values], axis=1)
    return integrate.trapezoid(values, knots, axis=-1) / (end - g[0])
