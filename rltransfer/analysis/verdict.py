"""The verdict: did transfer help, hurt, or can we not tell?

Rule (first version): compare the per-seed area under the normalised curve (the mean normalised
score over the training budget) of the method with the baseline's, using a two-sided Welch t-test
at ``alpha = 0.05``. ``p < alpha`` and a larger mean area -> ``positive``; ``p < alpha`` and a
smaller one -> ``negative``; anything else, including a test that cannot be run (fewer than 2
seed pairs, no variation across seeds), -> ``inconclusive``.
"""

from __future__ import annotations

import numpy as np

from rltransfer.analysis.stats import welch_test

ALPHA = 0.05
VERDICTS = ("positive", "negative", "inconclusive")


def _fmt_p(p: float) -> str:
    return "p<0.001" if p < 0.001 else f"p={p:.3g}"


def decide(
    area_method: np.ndarray,
    area_baseline: np.ndarray,
    *,
    baseline: str = "scratch",
    alpha: float = ALPHA,
) -> tuple[str, str]:
    """Verdict and a plain-words evidence sentence.

    Args:
        area_method: (S,) per-seed normalised area of the method (seed pairs with the baseline).
        area_baseline: (S,) the baseline's, same seeds in the same order.

    Returns:
        ``(verdict, evidence)`` with ``verdict`` one of :data:`VERDICTS`.
    """
    a = np.asarray(area_method, dtype=np.float64)
    b = np.asarray(area_baseline, dtype=np.float64)
    n = min(len(a), len(b))
    head = f"area under the normalised curve {a.mean():.3g} vs {b.mean():.3g} for {baseline}"
    test = welch_test(a, b)
    if test.reason is not None:
        return "inconclusive", f"{head}; no test: {test.reason}."
    stat = f"(Welch t={test.t:.3g}, {_fmt_p(test.p)}, {n} seed pairs)"
    if test.p < alpha and a.mean() > b.mean():
        return "positive", f"{head} {stat}: transfer learned faster."
    if test.p < alpha and a.mean() < b.mean():
        return "negative", f"{head} {stat}: transfer learned slower."
    return "inconclusive", f"{head} {stat}: no significant difference at alpha={alpha:g}."
