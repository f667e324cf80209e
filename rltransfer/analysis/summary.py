"""Turn a study's curves into the JSON summary behind ``summary.json`` and ``report.md``.

Shape of the result (every number is finite or ``None``; nothing else is NaN-like)::

    {"study", "baseline", "threshold", "score_range": {"low", "high"},
     "score_range_source": {"low", "high"} (in words), "grid": [t, ...],
     "source_steps", "source_steps_from", "total_cost_note",
     "verdict_rule": {"test", "statistic", "accounting", "alpha", "equivalence_margin"},
     "sequential": {"looks", "boundaries", "spending", "alpha", "seeds"} or None,
     "bootstrap": {"resamples", "confidence", "seed"}, "warnings": [str, ...],
     "baseline_stats": {"seeds", "final_return", "area", "time_to_threshold", "horizon"},
     "methods": {name: {"verdict", "evidence", "seeds", "sources", "seeds_needed",
                        "final_return", "area",
                        "area_baseline", "horizon", "budget", "warnings": [str, ...],
                        "notable_metrics": [{"metric", "mean", "ci", "direction", "text"}],
                        "course": {"dip": {...}, "threshold": {...} or None} (see
                                   :mod:`rltransfer.analysis.course`),
                        "metrics": {metric: {"mean", "iqm", "ci": [lo, hi], "note", ...}},
                        "metrics_total_cost": same shape as "metrics", or None,
                        "tests": {"welch_area": {"t", "p", "alpha", "diff", "ci95",
                                                 "units", "sd_method", "sd_baseline"}},
                        "areas": {"seeds", "method", "baseline", "source"} (per pair),
                        "looks": [{"look", "planned_seeds", "seeds", "sources", "t", "p",
                                   "boundary", "decision"}] (only with sequential seeding,
                                  :mod:`rltransfer.analysis.looks`),
                        "equivalence": {"margin", "ci90": [lo, hi], "p_lower", "p_upper",
                                        "result", "seeds_needed", ...} or None (only when the
                                       study sets ``equivalence_margin``; None unless the
                                       verdict is inconclusive, see
                                       :mod:`rltransfer.analysis.equivalence`),
                        "forgetting": {...} (only with source columns, see
                                      :mod:`rltransfer.analysis.forgetting`)}}}

``grid`` is the reference grid (the baseline's longest); a method is compared on the reference
points up to its own ``horizon`` (see :mod:`rltransfer.analysis.align`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rltransfer.analysis import metrics as M
from rltransfer.analysis.accounting import target_only_metrics, total_cost_metrics
from rltransfer.analysis.align import Paired, align_study, unpaired_seeds
from rltransfer.analysis.comparisons import compare_methods
from rltransfer.analysis.course import course_clauses, curve_course
from rltransfer.analysis.curves import Curve
from rltransfer.analysis.forgetting import forgetting_summary
from rltransfer.analysis.looks import (
    LookPlan,
    design_clauses,
    look_pair,
    method_looks,
    verdict_units,
)
from rltransfer.analysis.stats import DEFAULT_CONFIDENCE, finite_or_none
from rltransfer.analysis.verdict import ALPHA, decide, notable_metrics, with_notes
from rltransfer.errors import UserError
from rltransfer.seeds import method_rng

_F = finite_or_none


def _method_summary(
    pair: Paired,
    lo: float,
    hi: float,
    threshold: float | None,
    source_steps: int | None,
    seed: int,
    n_res: int,
    baseline: str,
    margin: float | None = None,
    groups: dict[int, str] | None = None,
    looks: list[dict[str, Any]] | None = None,
    n_looks: int = 1,
) -> dict[str, Any]:
    """Everything about one method, from its seed pairs with the baseline (with sequential
    seeding, the pairs of the look that decided, and that look's boundary as alpha)."""
    m, tr, base, grid = pair.method, pair.transfer, pair.baseline, pair.grid
    a_t = M.area(M.normalise(tr, lo, hi), grid)
    a_b = M.area(M.normalise(base, lo, hi), grid)
    units = verdict_units(a_t, a_b, pair.seeds, groups)
    alpha = looks[-1]["boundary"] if looks else ALPHA
    dec = decide(units.method, units.baseline, baseline=baseline, margin=margin, alpha=alpha)
    rng = method_rng(seed, m)
    metrics = target_only_metrics(tr, base, grid, a_t, a_b, threshold, rng, n_res, baseline, m)
    total = None
    if source_steps is not None:
        total = total_cost_metrics(
            tr,
            base,
            grid,
            a_b,
            lo,
            hi,
            source_steps,
            threshold,
            method_rng(seed, m, 1),
            n_res,
            baseline,
            m,
        )
    notable = notable_metrics(metrics, dec.verdict)
    course = curve_course(tr, base, grid, threshold, lo, hi)
    clauses = course_clauses(course, m, baseline, dec.verdict)
    clauses = design_clauses(units, looks, n_looks) + clauses
    ttt, th = metrics["time_to_threshold_ratio"], course["threshold"] or {}
    if th.get("lost_at") is not None:  # the ratio uses the first crossing: say what followed
        back = th["back_at"]
        later = f"it fell below the threshold again at t={th['lost_at']:,} and " + (
            "did not get back to it" if back is None else f"got back to it at t={back:,}"
        )
        ttt["note"] = "; ".join(n for n in (ttt["note"], later) if n)
    out: dict[str, Any] = {
        "verdict": dec.verdict,
        "evidence": with_notes(dec.evidence, notable, clauses),
        "seeds": int(len(tr)),
        "sources": units.sources,
        "seeds_needed": dec.seeds_needed,
        "final_return": _F(tr[:, -1].mean()),
        "area": _F(a_t.mean()),
        "area_baseline": _F(a_b.mean()),
        "horizon": pair.horizon,
        "budget": pair.budget,
        "warnings": list(pair.warnings),
        "notable_metrics": notable,
        "course": course,
        "metrics": metrics,
        "metrics_total_cost": total,
        "tests": {
            "welch_area": {
                "t": _F(dec.t),
                "p": _F(dec.p),
                "alpha": alpha,
                "diff": _F(dec.diff),
                "ci95": None if dec.ci95 is None else [_F(x) for x in dec.ci95],
                "units": "source means vs seeds" if units.by_source else "seed pairs",
                "sd_method": _F(dec.sd_method),
                "sd_baseline": _F(dec.sd_baseline),
            }
        },
    }
    if margin is not None:  # the key only when asked for: other summaries keep their shape
        out["equivalence"] = dec.equivalence
    if looks is not None:
        out["looks"] = looks
    out["areas"] = {  # per pair, for the Sources section and anyone re-testing
        "seeds": [int(x) for x in pair.seeds],
        "method": [_F(x) for x in a_t],
        "baseline": [_F(x) for x in a_b],
        "source": [groups.get(x) for x in pair.seeds] if groups else None,
    }
    return out


def _check_inputs(
    threshold: float | None,
    low: float | None,
    high: float | None,
    source_steps: int | None,
    margin: float | None = None,
) -> None:
    for name, value in (("threshold", threshold), ("low", low), ("high", high)):
        if value is not None and not np.isfinite(value):
            raise UserError(f"{name} must be a finite number, got {value!r}")
    if source_steps is not None and (
        isinstance(source_steps, bool)
        or not isinstance(source_steps, int | np.integer)
        or source_steps < 0
    ):
        raise UserError(f"source_steps must be a whole number >= 0, got {source_steps!r}")
    if margin is not None and (
        isinstance(margin, bool)
        or not isinstance(margin, int | float | np.integer | np.floating)
        or not (np.isfinite(margin) and margin > 0)
    ):
        raise UserError(f"equivalence_margin must be a finite number > 0, got {margin!r}")


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
    source_steps: int | None = None,
    source_steps_from: str | None = None,
    compare: list[list[str]] | None = None,
    equivalence_margin: float | None = None,
    groups: dict[str, dict[int, str]] | None = None,
    look_plan: LookPlan | None = None,
) -> dict[str, Any]:
    """Compare every method with ``baseline`` seed pair by seed pair; see the module docstring.

    ``compare``: pairs ``[A, B]`` of methods also compared with each other
    (``rltransfer.analysis.comparisons``), under ``comparisons`` in the result.

    ``low``/``high`` default to the baseline's mean return at t = 0 and to ``threshold`` (or, with
    no threshold, the highest return of any compared curve); see :func:`metrics.score_range`.
    ``source_steps`` (``N_s``) enables the total-cost accounting, which charges ``N_s`` to every
    method but the baseline; the verdict always uses the target-only accounting.
    ``source_steps_from`` says in words where ``N_s`` came from (``summary["source_steps_from"]``).
    ``equivalence_margin`` (normalised-area units, > 0): an inconclusive verdict also gets a TOST
    of equivalence within ``±margin`` (``methods.NAME.equivalence``); the verdict word is kept.
    ``groups``: ``{method: {seed: source key}}``, which source agent each pair transferred from
    (pairs sharing one are averaged per source; see :mod:`rltransfer.analysis.looks`).
    ``look_plan``: sequential seeding; each method is decided at its first rejecting look and
    summarised over that look's pairs (``methods.NAME.looks``).
    """
    _check_inputs(threshold, low, high, source_steps, equivalence_margin)
    aligned = align_study(curves, baseline)
    if not aligned.pairs:
        raise UserError(f"nothing to compare: only the baseline '{baseline}' has curves")
    base_all = aligned.baseline_returns
    compared = [curves[baseline][s] for s in aligned.baseline_seeds] + [
        curves[m][s] for m, p in aligned.pairs.items() for s in p.seeds
    ]
    everything = np.concatenate([np.asarray(c.return_mean, dtype=np.float64) for c in compared])
    lo, hi = M.score_range(base_all, everything, threshold=threshold, low=low, high=high)
    if not hi > lo:
        raise UserError(
            f"score range is empty: high={hi:g} is not above low={lo:g} (low is the random-policy "
            f"return, {baseline} at t=0; high is the threshold, or the best return seen); set "
            "low/high explicitly"
        )
    b_grid = aligned.baseline_grid
    a_base = M.area(M.normalise(base_all, lo, hi), b_grid)
    t_base = None
    if threshold is not None:
        t_base = _F(M.time_to_threshold(base_all.mean(axis=0), b_grid, threshold))
    out_methods = {}
    for m, pair in aligned.pairs.items():
        own = (groups or {}).get(m)
        looks = None
        if look_plan is not None:
            looks = method_looks(curves, m, baseline, look_plan, own)
            if looks:  # the pairs of the deciding (or last reached) look, aligned as then
                ids = set(look_plan.seeds[: looks[-1]["planned_seeds"]])
                pair = look_pair(curves, m, baseline, ids) or pair
        out_methods[m] = _method_summary(
            pair,
            lo,
            hi,
            threshold,
            source_steps,
            seed,
            n_resamples,
            baseline,
            None if equivalence_margin is None else float(equivalence_margin),
            own,
            looks,
            len(look_plan.looks) if look_plan else 1,
        )
    forgetting = forgetting_summary(
        {m: curves[m] for m in [baseline, *aligned.pairs]},
        baseline,
        lambda m: method_rng(seed, m, 2),
        n_resamples,
    )
    for m, block in forgetting.items():
        out_methods[m]["forgetting"] = block
    comparisons = compare_methods(curves, compare, lo, hi) if compare else []
    warnings = [
        f"method '{m}': seed(s) {s} have no {baseline} run with the same seed and were left out"
        for m, s in unpaired_seeds(curves, baseline).items()
    ] + aligned.warnings
    if source_steps is None:
        total_note = (
            "source steps unknown: the total-cost accounting (source steps charged to each "
            "transfer method) was not computed"
        )
    else:
        origin = f" ({source_steps_from})" if source_steps_from else ""
        total_note = (
            f"each method other than {baseline} is charged {source_steps:,} source "
            f"steps{origin}: its "
            f"target curve starts after them (at the untrained level low before) and is compared "
            f"with {baseline} on {baseline}'s grid"
        )
    return {
        "study": study,
        "baseline": baseline,
        "threshold": _F(threshold),
        "score_range": {"low": lo, "high": hi},
        "score_range_source": {
            "low": "given" if low is not None else f"{baseline} at t=0, averaged over seeds",
            "high": "given"
            if high is not None
            else ("the threshold" if threshold is not None else "the best return seen"),
        },
        "grid": [int(t) for t in aligned.reference],
        "source_steps": None if source_steps is None else int(source_steps),
        "source_steps_from": source_steps_from if source_steps is not None else None,
        "total_cost_note": total_note,
        "verdict_rule": {
            "test": "two-sided Welch t-test",
            "statistic": "per-seed area under the normalised curve",
            "accounting": "target-only",
            "alpha": ALPHA,
            "equivalence_margin": None if equivalence_margin is None else float(equivalence_margin),
        },
        "sequential": look_plan.describe() if look_plan is not None else None,
        "bootstrap": {"resamples": n_resamples, "confidence": DEFAULT_CONFIDENCE, "seed": seed},
        "warnings": warnings,
        "comparisons": comparisons,
        "baseline_stats": {
            "seeds": len(base_all),
            "final_return": _F(base_all[:, -1].mean()),
            "area": _F(a_base.mean()),
            "time_to_threshold": t_base,
            "horizon": int(b_grid[-1]),
        },
        "methods": out_methods,
    }
