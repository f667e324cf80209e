"""Turn a study's curves into the JSON summary behind ``summary.json`` and ``report.md``.

Shape of the result (every number is finite or ``None``; nothing else is NaN-like)::

    {"study", "baseline", "threshold", "score_range": {"low", "high"}, "grid": [t, ...],
     "bootstrap": {"resamples", "confidence", "seed"}, "warnings": [str, ...],
     "baseline_stats": {"seeds", "final_return", "area", "time_to_threshold"},
     "methods": {name: {"verdict", "evidence", "seeds", "final_return", "area",
                        "metrics": {metric: {"mean", "iqm", "ci": [lo, hi], "note", ...}},
                        "tests": {"welch_area": {"t", "p"}}}}}
"""

from __future__ import annotations

import zlib
from typing import Any

import numpy as np

from rltransfer.analysis import metrics as M
from rltransfer.analysis.align import align_curves, stack, unpaired_seeds
from rltransfer.analysis.curves import Curve
from rltransfer.analysis.stats import (
    DEFAULT_CONFIDENCE,
    finite_or_none,
    mean_ci,
    paired_bootstrap_ci,
    welch_test,
)
from rltransfer.analysis.verdict import decide
from rltransfer.errors import UserError

_F = finite_or_none


def _ci(lo: float, hi: float) -> list[float | None]:
    return [_F(lo), _F(hi)]


def _per_pair_metric(
    values: np.ndarray, rng: np.random.Generator, n_res: int, why_undefined: str = "undefined"
) -> dict[str, Any]:
    """Mean, IQM and bootstrap CI of per-pair values (S,); undefined (nan) pairs are left out."""
    ok = np.isfinite(values)
    v = values[ok]
    note = None
    if not ok.all():
        note = f"{int((~ok).sum())} of {len(values)} seed pairs left out: {why_undefined}"
    if v.size == 0:
        return {"mean": None, "iqm": None, "ci": [None, None], "note": note}
    return {
        "mean": _F(v.mean()),
        "iqm": _F(M.iqm(v)),
        "ci": _ci(*mean_ci(v, rng, n_resamples=n_res)),
        "note": note,
    }


def _resampled_means(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Seed-mean curve of each resample: x (S, G), idx (B, S) -> (B, G), without a (B, S, G)."""
    b, s = idx.shape
    w = np.zeros((b, s))
    np.add.at(w, (np.repeat(np.arange(b), s), idx.ravel()), 1.0)
    return (w @ x) / s


def _time_ratio_metric(
    tr: np.ndarray,
    base: np.ndarray,
    grid: np.ndarray,
    threshold: float | None,
    rng: np.random.Generator,
    n_res: int,
    baseline: str,
    method: str,
) -> dict[str, Any]:
    """``t_B / t_T`` on the seed-mean curves, with censoring spelled out instead of hidden."""
    out: dict[str, Any] = {
        "mean": None,
        "iqm": None,
        "ci": [None, None],
        "censored": None,
        "note": None,
        "baseline_time": None,
        "transfer_time": None,
        "lower_bound": None,
        "upper_bound": None,
    }
    if threshold is None:
        out["note"] = "no threshold set: time to threshold not measured"
        return out
    t_b = float(M.time_to_threshold(base.mean(axis=0), grid, threshold))
    t_t = float(M.time_to_threshold(tr.mean(axis=0), grid, threshold))
    out["baseline_time"], out["transfer_time"] = _F(t_b), _F(t_t)
    end = float(grid[-1])
    if np.isinf(t_b) and np.isinf(t_t):
        out["censored"] = "neither method reached the threshold"
        return out
    if np.isinf(t_b):
        out["censored"] = f"{baseline} never reached the threshold"
        if t_t > 0:
            out["lower_bound"] = end / t_t
            out["note"] = f"ratio > {end / t_t:.3g} ({baseline} needs more than t={end:g})"
        else:
            out["note"] = f"{method} starts at or above the threshold (t=0): ratio unbounded"
        return out
    if np.isinf(t_t):
        out["censored"] = f"{method} never reached the threshold"
        out["upper_bound"] = t_b / end
        out["note"] = f"ratio < {t_b / end:.3g} ({method} needs more than t={end:g})"
        return out
    if t_t == 0:
        both = t_b == 0
        out["note"] = (
            "both methods start at or above the threshold (t=0): ratio undefined"
            if both
            else f"{method} starts at or above the threshold (t=0): ratio unbounded"
        )
        return out
    out["mean"] = t_b / t_t

    def stat(idx: np.ndarray) -> np.ndarray:
        tb = M.time_to_threshold(_resampled_means(base, idx), grid, threshold)
        tt = M.time_to_threshold(_resampled_means(tr, idx), grid, threshold)
        return M.time_ratio(tb, tt)

    lo, hi = paired_bootstrap_ci(stat, len(tr), rng, n_resamples=n_res)
    out["ci"] = _ci(lo, hi)
    if np.isinf(hi):
        out["note"] = "CI upper end unbounded: in some resamples the baseline never got there"
    return out


def _method_summary(
    tr: np.ndarray,
    base: np.ndarray,
    grid: np.ndarray,
    lo: float,
    hi: float,
    threshold: float | None,
    rng: np.random.Generator,
    n_res: int,
    baseline: str,
    method: str,
) -> dict[str, Any]:
    """Everything about one method; ``tr`` and ``base`` are its seed pairs, (S, G) each."""
    a_t = M.area(M.normalise(tr, lo, hi), grid)
    a_b = M.area(M.normalise(base, lo, hi), grid)
    verdict, evidence = decide(a_t, a_b, baseline=baseline)
    welch = welch_test(a_t, a_b)
    pi_lo, pi_hi = paired_bootstrap_ci(
        lambda idx: M.prob_improvement_batch(a_t[idx], a_b[idx]), len(a_t), rng, n_resamples=n_res
    )
    return {
        "verdict": verdict,
        "evidence": evidence,
        "seeds": int(len(tr)),
        "final_return": _F(tr[:, -1].mean()),
        "area": _F(a_t.mean()),
        "metrics": {
            "jumpstart": _per_pair_metric(M.jumpstart(tr, base), rng, n_res),
            "asymptotic_gain": _per_pair_metric(M.asymptotic_gain(tr, base), rng, n_res),
            "area_ratio": _per_pair_metric(
                M.area_ratio(a_t, a_b), rng, n_res, "baseline area <= 0"
            ),
            "time_to_threshold_ratio": _time_ratio_metric(
                tr, base, grid, threshold, rng, n_res, baseline, method
            ),
            "prob_improvement": {
                "mean": _F(M.prob_improvement(a_t, a_b)),
                "iqm": None,
                "ci": _ci(pi_lo, pi_hi),
                "note": None,
            },
        },
        "tests": {"welch_area": {"t": _F(welch.t), "p": _F(welch.p)}},
    }


def method_rng(seed: int, method: str) -> np.random.Generator:
    """The generator for one method's bootstrap: depends on ``seed`` and the method's name only,
    so adding or removing another method does not change this method's intervals."""
    return np.random.default_rng([seed, zlib.crc32(method.encode("utf-8"))])


def analyze(
    curves: dict[str, dict[int, Curve]],
    *,
    study: str,
    baseline: str = "scratch",
    threshold: float | None,
    low: float | None = None,
    high: float | None = None,
    seed: int = 0,
    n_resamples: int = 2000,
) -> dict[str, Any]:
    """Compare every method with ``baseline`` seed pair by seed pair; see the module docstring.

    ``low``/``high`` default to the baseline's mean return at t = 0 and to ``threshold`` (or, with
    no threshold, the highest return of any curve); see :func:`metrics.score_range`.
    """
    for name, value in (("threshold", threshold), ("low", low), ("high", high)):
        if value is not None and not np.isfinite(value):
            raise UserError(f"{name} must be a finite number, got {value!r}")
    grid, returns = align_curves(curves, baseline)
    methods = [m for m in returns if m != baseline]
    if not methods:
        raise UserError(f"nothing to compare: only the baseline '{baseline}' has curves")
    base_all = stack(returns[baseline], sorted(returns[baseline]))
    everything = np.concatenate([np.ravel(list(r.values())) for r in returns.values()])
    lo, hi = M.score_range(base_all, everything, threshold=threshold, low=low, high=high)
    if not hi > lo:
        raise UserError(
            f"score range is empty: high={hi:g} is not above low={lo:g} (low is the random-policy "
            f"return, {baseline} at t=0; high is the threshold, or the best return seen); set "
            "low/high explicitly"
        )
    a_base = M.area(M.normalise(base_all, lo, hi), grid)
    t_base = None
    if threshold is not None:
        t_base = _F(M.time_to_threshold(base_all.mean(axis=0), grid, threshold))
    out_methods = {}
    for m in methods:
        seeds = sorted(returns[m])
        tr = stack(returns[m], seeds)
        base = stack(returns[baseline], seeds)
        rng = method_rng(seed, m)
        out_methods[m] = _method_summary(
            tr, base, grid, lo, hi, threshold, rng, n_resamples, baseline, m
        )
    warnings = [
        f"method '{m}': seed(s) {s} have no {baseline} run with the same seed and were left out"
        for m, s in unpaired_seeds(curves, baseline).items()
    ]
    return {
        "study": study,
        "baseline": baseline,
        "threshold": _F(threshold),
        "score_range": {"low": lo, "high": hi},
        "grid": [int(t) for t in grid],
        "bootstrap": {"resamples": n_resamples, "confidence": DEFAULT_CONFIDENCE, "seed": seed},
        "warnings": warnings,
        "baseline_stats": {
            "seeds": len(base_all),
            "final_return": _F(base_all[:, -1].mean()),
            "area": _F(a_base.mean()),
            "time_to_threshold": t_base,
        },
        "methods": out_methods,
    }
