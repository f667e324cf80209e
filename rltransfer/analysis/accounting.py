"""The metric blocks of one method under the two accountings.

*Target-only*: the method's curve and the baseline's are compared step for step on the target
task. *Total cost* (Taylor & Stone's total-time scenario): the ``N_s`` source steps are charged to
the method, whose curve is placed after them, ``P_total(t) = low`` for ``t < N_s`` and
``P(t - N_s)`` after, and compared with the baseline on the baseline's ``[0, T]``.

Every block is ``{metric: {"mean", "iqm", "ci": [lo, hi], "note", ...}}`` with JSON-ready values
(finite floats or ``None``). ``tr`` and ``base`` are a method's seed pairs, (S, G) each, on
``grid`` (G,).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rltransfer.analysis import metrics as M
from rltransfer.analysis.stats import (
    bootstrap_indices,
    bounded_percentile_interval,
    finite_or_none,
    mean_ci,
    paired_bootstrap_ci,
)

_F = finite_or_none

METRIC_KEYS = (
    "jumpstart",
    "asymptotic_gain",
    "area_ratio",
    "time_to_threshold_ratio",
    "prob_improvement",
)


def _ci(lo: float, hi: float) -> list[float | None]:
    return [_F(lo), _F(hi)]


def _empty(note: str | None = None) -> dict[str, Any]:
    return {"mean": None, "iqm": None, "ci": [None, None], "note": note}


def per_pair_metric(
    values: np.ndarray, rng: np.random.Generator, n_res: int, why_undefined: str = "undefined"
) -> dict[str, Any]:
    """Mean, IQM and bootstrap CI of per-pair values (S,); undefined (nan) pairs are left out."""
    ok = np.isfinite(values)
    v = values[ok]
    note = None
    if not ok.all():
        note = f"{int((~ok).sum())} of {len(values)} seed pairs left out: {why_undefined}"
    if v.size == 0:
        return _empty(note)
    return {
        "mean": _F(v.mean()),
        "iqm": _F(M.iqm(v)),
        "ci": _ci(*mean_ci(v, rng, n_resamples=n_res)),
        "note": note,
    }


def window_of(grid: np.ndarray) -> dict[str, int]:
    """The asymptotic window of ``grid`` (G,) in JSON: ``{"from", "to", "points"}`` (steps)."""
    w = M.asymptotic_window(grid)
    return {"from": int(grid[w][0]), "to": int(grid[-1]), "points": int(w.sum())}


def asymptotic_metric(
    tr: np.ndarray, base: np.ndarray, grid: np.ndarray, rng: np.random.Generator, n_res: int
) -> dict[str, Any]:
    """:func:`per_pair_metric` of the asymptotic gain, with the ``window`` it averaged over."""
    out = per_pair_metric(M.asymptotic_gain(tr, base, grid), rng, n_res)
    return {**out, "window": window_of(grid)}


def resampled_means(x: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Seed-mean curve of each resample: x (S, G), idx (B, S) -> (B, G), without a (B, S, G)."""
    b, s = idx.shape
    w = np.zeros((b, s))
    np.add.at(w, (np.repeat(np.arange(b), s), idx.ravel()), 1.0)
    return (w @ x) / s


def time_ratio_metric(
    tr: np.ndarray,
    base: np.ndarray,
    grid: np.ndarray,
    threshold: float | None,
    rng: np.random.Generator,
    n_res: int,
    baseline: str,
    method: str,
    shift: float = 0.0,
) -> dict[str, Any]:
    """``t_B / (t_T + shift)`` on the seed-mean curves, censoring spelled out, not hidden.

    ``shift`` is ``N_s`` under total cost (0 target-only). A curve that never reaches the
    threshold within ``grid`` is right-censored: its time is only known to exceed ``grid[-1]``;
    ``t_T + N_s`` is exact whenever ``t_T`` is known.

    ``case`` says which of these it is: ``reached`` (both times known and the ratio informative:
    ``mean`` and a CI), ``baseline censored`` (``lower_bound``), ``method censored``
    (``upper_bound``), ``both censored``, ``method at t=0`` (the ratio is infinite: no mean, the
    CI's lower end only), ``baseline at t=0`` (any later method gives 0, which says nothing about
    its speed: not informative, no mean) or ``both at t=0`` (0/0). ``informative`` is False in
    the last three: such a ratio is never cited as evidence.

    The CI is a paired bootstrap of the ratio on resampled seed-mean curves. A resample whose
    ratio is censored or undefined is kept at its range (:func:`metrics.time_ratio_bounds`):
    its lowest possible value counts for the interval's lower end, its highest for the upper
    (:func:`stats.bounded_percentile_interval`); ``censored_resamples`` counts them.
    """
    out: dict[str, Any] = {
        **_empty(),
        "case": None,
        "informative": False,
        "censored": None,
        "baseline_time": None,
        "transfer_time": None,
        "lower_bound": None,
        "upper_bound": None,
        "censored_resamples": None,
    }
    if threshold is None:
        out["case"] = "no threshold"
        out["note"] = "no threshold set: time to threshold not measured"
        return out
    t_b = float(M.time_to_threshold(base.mean(axis=0), grid, threshold))
    t_t = float(M.time_to_threshold(tr.mean(axis=0), grid, threshold)) + shift
    out["baseline_time"], out["transfer_time"] = _F(t_b), _F(t_t)
    end = float(grid[-1])

    def interval() -> None:
        def bounds(idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            tb = M.time_to_threshold(resampled_means(base, idx), grid, threshold)
            tt = M.time_to_threshold(resampled_means(tr, idx), grid, threshold)
            return M.time_ratio_bounds(tb, tt, end, shift)

        if len(tr) < 2:
            return
        low, high = bounds(bootstrap_indices(len(tr), rng, n_res))
        out["ci"] = _ci(*bounded_percentile_interval(low, high))
        out["censored_resamples"] = int(np.sum(low != high))
        if out["censored_resamples"]:
            out["note"] = "; ".join(
                n
                for n in (
                    out["note"],
                    f"{out['censored_resamples']} of {n_res} bootstrap resamples censored or "
                    "undefined (a curve never got there, or both started there): each is kept, "
                    "at its lowest possible ratio for the lower end and its highest for the upper",
                )
                if n
            )

    if np.isinf(t_b) and np.isinf(t_t):
        out["case"] = "both censored"
        out["censored"] = "neither method reached the threshold"
        return out
    if np.isinf(t_b):
        out["censored"] = f"{baseline} never reached the threshold"
        if t_t > 0:
            out["case"] = "baseline censored"
            out["lower_bound"] = end / t_t
            out["note"] = f"ratio > {end / t_t:.3g} ({baseline} needs more than t={end:,.0f})"
        else:
            out["case"] = "method at t=0"
            out["note"] = (
                f"{method} is at the threshold before any target training (t=0) and {baseline} "
                "never gets there: ratio unbounded"
            )
        return out
    if np.isinf(t_t):
        out["case"] = "method censored"
        out["censored"] = f"{method} never reached the threshold"
        out["upper_bound"] = t_b / (end + shift)
        plus = f" plus {shift:,.0f} source steps" if shift else ""
        out["note"] = (
            f"ratio < {t_b / (end + shift):.3g} ({method} needs more than t={end:,.0f}{plus})"
        )
        return out
    if t_t == 0 and t_b == 0:
        out["case"] = "both at t=0"
        out["note"] = (
            "both methods are at the threshold before any target training (t=0): the ratio is "
            "undefined and says nothing about learning speed"
        )
        return out
    if t_b == 0:
        out["case"] = "baseline at t=0"
        out["note"] = (
            f"{baseline} is at the threshold before any training (t=0), so any method gets a "
            f"ratio of 0 however fast it is: not informative ({method} got there at "
            f"t={t_t:,.0f})"
        )
        return out
    if t_t == 0:
        out["case"] = "method at t=0"
        out["note"] = (
            f"{method} is at the threshold before any target training (t=0), {baseline} at "
            f"t={t_b:,.0f}: ratio unbounded"
        )
        interval()
        return out
    out["case"], out["informative"] = "reached", True
    out["mean"] = t_b / t_t
    interval()
    return out


def prob_improvement_metric(
    a_t: np.ndarray, a_b: np.ndarray, rng: np.random.Generator, n_res: int
) -> dict[str, Any]:
    """P(a random seed's area of the method > one of the baseline), with a paired bootstrap CI."""
    lo, hi = paired_bootstrap_ci(
        lambda idx: M.prob_improvement_batch(a_t[idx], a_b[idx]), len(a_t), rng, n_resamples=n_res
    )
    return {"mean": _F(M.prob_improvement(a_t, a_b)), "iqm": None, "ci": _ci(lo, hi), "note": None}


def target_only_metrics(
    tr: np.ndarray,
    base: np.ndarray,
    grid: np.ndarray,
    a_t: np.ndarray,
    a_b: np.ndarray,
    threshold: float | None,
    rng: np.random.Generator,
    n_res: int,
    baseline: str,
    method: str,
) -> dict[str, Any]:
    """The target-only block; ``a_t``, ``a_b`` (S,) are the per-seed normalised areas."""
    return {
        "jumpstart": per_pair_metric(M.jumpstart(tr, base), rng, n_res),
        "asymptotic_gain": asymptotic_metric(tr, base, grid, rng, n_res),
        "area_ratio": per_pair_metric(M.area_ratio(a_t, a_b), rng, n_res, "baseline area <= 0"),
        "time_to_threshold_ratio": time_ratio_metric(
            tr, base, grid, threshold, rng, n_res, baseline, method
        ),
        "prob_improvement": prob_improvement_metric(a_t, a_b, rng, n_res),
    }


def total_cost_metrics(
    tr: np.ndarray,
    base: np.ndarray,
    grid: np.ndarray,
    a_b: np.ndarray,
    low: float,
    high: float,
    source_steps: int,
    threshold: float | None,
    rng: np.random.Generator,
    n_res: int,
    baseline: str,
    method: str,
) -> dict[str, Any]:
    """The total-cost block: the method's curve placed after ``source_steps`` (see module doc).

    ``a_b`` (S,) is the baseline's per-seed normalised area on ``grid``; ``low``/``high`` are
    the normalisation's, ``low`` also being the return charged before ``N_s``.

    When ``N_s >= T = grid[-1]`` the method never starts within the compared budget: its area is
    0 (so the area ratio and P(improvement) are defined, with a note), while the asymptotic gain
    and the time ratio are not defined (``None``, ``never_starts: True``) rather than computed
    from the single boundary point ``t = T``. When ``N_s`` falls after the start of the
    asymptotic window, the asymptotic gain is not defined either (part of the window would be the
    charged untrained level).
    """
    a_total = M.total_cost_area(M.normalise(tr, low, high), grid, float(source_steps))
    shifted = M.shift_curves(tr, grid, float(source_steps), low, grid)
    late = source_steps >= grid[-1]
    out = {
        "jumpstart": _empty(
            "not defined under total cost: at t=0 the transfer learner is still in its "
            f"{source_steps:,} source steps"
        ),
        "asymptotic_gain": asymptotic_metric(shifted, base, grid, rng, n_res),
        "area_ratio": per_pair_metric(M.area_ratio(a_total, a_b), rng, n_res, "baseline area <= 0"),
        "time_to_threshold_ratio": time_ratio_metric(
            tr, base, grid, threshold, rng, n_res, baseline, method, shift=float(source_steps)
        ),
        "prob_improvement": prob_improvement_metric(a_total, a_b, rng, n_res),
    }
    if late:
        why = (
            f"the {source_steps:,} source steps use up the whole compared budget "
            f"(t=0..{int(grid[-1]):,}): the method never starts within it"
        )
        for key in ("area_ratio", "prob_improvement"):
            out[key]["note"] = "; ".join(n for n in (out[key]["note"], why) if n)
        # Not numbers from the one boundary point t = T: there is no curve of it to compare.
        undefined = f"not defined: {why}"
        out["asymptotic_gain"] = {
            **_empty(undefined),
            "window": out["asymptotic_gain"]["window"],
            "never_starts": True,
        }
        ttt = out["time_to_threshold_ratio"]
        out["time_to_threshold_ratio"] = {
            **{k: None for k in ttt},
            "baseline_time": ttt["baseline_time"],  # the times themselves stay exact
            "transfer_time": ttt["transfer_time"],
            **_empty(undefined),
            "case": "never starts",
            "informative": False,
            "never_starts": True,
        }
    elif source_steps > out["asymptotic_gain"]["window"]["from"]:
        window = out["asymptotic_gain"]["window"]
        out["asymptotic_gain"] = {
            **_empty(
                f"not defined: the method starts at t={source_steps:,}, after the start of the "
                f"asymptotic window (t={window['from']:,}..{window['to']:,}), so part of the "
                "window is the untrained level charged before it"
            ),
            "window": window,
        }
    return out
