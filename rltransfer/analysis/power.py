"""How many seeds would resolve an observed effect (Colas, Sigaud & Oudeyer, 2018).

For ``n`` seeds per method, the two-sided Welch t-test at level ``alpha`` has power

    power(n) = P(T' > c) + P(T' < -c),   T' ~ noncentral t(df, delta),   c = t_{1-alpha/2, df},
    delta = diff / sqrt((sd_m^2 + sd_b^2) / n),
    df = (n - 1) (sd_m^2 + sd_b^2)^2 / (sd_m^4 + sd_b^4)     (Welch-Satterthwaite, equal n).

:func:`seeds_needed` is the smallest ``n >= 2`` with ``power(n) >= power``, treating the observed
difference and standard deviations as the truth (a rough guide, not a promise).
"""

from __future__ import annotations

import numpy as np
from scipy import stats


def welch_power(
    diff: float, sd_method: float, sd_baseline: float, n: np.ndarray, alpha: float = 0.05
) -> np.ndarray:
    """Power of the two-sided Welch test with ``n`` seeds per method: n (K,) -> (K,).

    Requires ``n >= 2`` and ``sd_method**2 + sd_baseline**2 > 0``.
    """
    n = np.asarray(n, dtype=np.float64)
    v_m, v_b = float(sd_method) ** 2, float(sd_baseline) ** 2
    df = (n - 1.0) * (v_m + v_b) ** 2 / (v_m**2 + v_b**2)
    delta = abs(float(diff)) / np.sqrt((v_m + v_b) / n)
    c = stats.t.ppf(1.0 - alpha / 2.0, df)
    return stats.nct.sf(c, df, delta) + stats.nct.cdf(-c, df, delta)


def seeds_needed(
    diff: float,
    sd_method: float,
    sd_baseline: float,
    alpha: float = 0.05,
    power: float = 0.8,
    max_n: int = 1000,
) -> int | None:
    """Smallest number of seeds per method that detects ``diff`` with probability ``power``.

    Args:
        diff: the difference of the means (only its size matters).
        sd_method, sd_baseline: the standard deviations across seeds (``ddof=1``).

    Returns:
        ``n`` in ``[2, max_n]``, or ``None`` when ``diff`` is 0 (or not finite), when neither
        method varies (the test is undefined), or when more than ``max_n`` seeds would be needed.
    """
    values = (diff, sd_method, sd_baseline)
    if not all(np.isfinite(values)) or diff == 0 or (sd_method == 0 and sd_baseline == 0):
        return None
    n = np.arange(2, int(max_n) + 1)
    ok = np.flatnonzero(welch_power(diff, sd_method, sd_baseline, n, alpha) >= power)
    return int(n[ok[0]]) if ok.size else None
