"""Forgetting: what training on the target costs a run on the source task (``eval.on_source``).

With ``eval.on_source`` every target run, scratch too, is also evaluated on the source env at
each grid point, with the same evaluation seed as on the target. Its curve then carries the
source columns (:attr:`Curve.source_return_mean`). Per method and seed pair:

- ``start``: the return on the source at t = 0 (for a transfer method: the source agent as
  transferred; for scratch: an untrained policy);
- ``end``: the return on the source at the last compared grid point (the method's horizon, as
  for the target metrics);
- ``drop`` = start − end, in return units: positive means the run forgot, negative that target
  training helped on the source too;
- ``vs_baseline`` = drop of the method − drop of scratch on the same seed: how much more the
  method lost on the source than training from scratch on the target did.

Returns are raw, not normalised: the study's score range (``low``/``high``) is defined on the
target task, and the source task has no threshold of its own in the study, so no scale applies.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rltransfer.analysis.accounting import per_pair_metric
from rltransfer.analysis.align import align_study
from rltransfer.analysis.curves import Curve
from rltransfer.analysis.stats import finite_or_none

UNITS = "return on the source task (raw: the score range is defined on the target task)"


def source_curves(
    curves: dict[str, dict[int, Curve]],
) -> tuple[dict[str, dict[int, Curve]], dict[str, list[int]]]:
    """Split the runs that carry source columns into usable and not evaluable.

    Returns ``({method: {seed: source-task Curve}}, {method: [seeds whose source returns are
    nan]})``; runs without source columns are in neither.
    """
    usable: dict[str, dict[int, Curve]] = {}
    nan: dict[str, list[int]] = {}
    for method, runs in curves.items():
        for seed, curve in sorted(runs.items()):
            if not curve.has_source:
                continue
            src = curve.on_source()
            if np.all(np.isfinite(src.return_mean)):
                usable.setdefault(method, {})[seed] = src
            else:
                nan.setdefault(method, []).append(seed)
    return usable, nan


def _not_evaluable(seeds: list[int]) -> str:
    return (
        f"seed(s) {seeds} could not be evaluated on the source (its observation or action space "
        "differs from the target's; see source_eval in their meta.json) and were left out"
    )


def _empty(note: str) -> dict[str, Any]:
    return {"units": UNITS, "seeds": 0, "note": note}


def _block(
    tr: np.ndarray,
    base: np.ndarray | None,
    horizon: int,
    rng: np.random.Generator,
    n_res: int,
    notes: list[str],
    warnings: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Numbers for one method from its source returns (S, G) and scratch's on the same seeds."""
    drop = tr[:, 0] - tr[:, -1]
    out: dict[str, Any] = {
        "units": UNITS,
        "seeds": int(len(tr)),
        "horizon": int(horizon),
        "start": finite_or_none(tr[:, 0].mean()),
        "end": finite_or_none(tr[:, -1].mean()),
        "drop": per_pair_metric(drop, rng, n_res),
        "baseline_start": None,
        "baseline_end": None,
        "baseline_drop": None,
        "vs_baseline": None,
    }
    if base is not None:
        b_drop = base[:, 0] - base[:, -1]
        out["baseline_start"] = finite_or_none(base[:, 0].mean())
        out["baseline_end"] = finite_or_none(base[:, -1].mean())
        out["baseline_drop"] = per_pair_metric(b_drop, rng, n_res)
        out["vs_baseline"] = per_pair_metric(drop - b_drop, rng, n_res)
    out["warnings"] = list(warnings)
    out["note"] = "; ".join(notes) or None
    return out


def forgetting_summary(
    curves: dict[str, dict[int, Curve]],
    baseline: str,
    rng_for: Callable[[str], np.random.Generator],
    n_resamples: int,
) -> dict[str, dict[str, Any]]:
    """``{method: forgetting block}`` for every non-baseline method whose runs carry source
    columns; ``{}`` when no run does (the study did not set ``eval.on_source``).

    ``rng_for(method)`` gives the method's own generator, so its intervals do not depend on the
    other methods. Source curves are aligned with scratch's exactly as the target curves are
    (:func:`rltransfer.analysis.align.align_study`), so ``end`` is at the same horizon.
    """
    usable, nan = source_curves(curves)
    methods = sorted(m for m in set(usable) | set(nan) if m != baseline)
    if not methods:
        return {}
    base_notes = []
    if baseline in nan:
        base_notes.append(f"{baseline} {_not_evaluable(nan[baseline])}")
    paired: dict[str, dict[int, Curve]] = {}
    if baseline in usable:
        paired[baseline] = usable[baseline]
        for m in methods:
            common = {s: c for s, c in usable.get(m, {}).items() if s in usable[baseline]}
            if common:
                paired[m] = common
    aligned = align_study(paired, baseline) if len(paired) > 1 else None
    out = {}
    for m in methods:
        notes = list(base_notes)
        if m in nan:
            notes.append(_not_evaluable(nan[m]))
        if aligned is not None and m in aligned.pairs:
            p = aligned.pairs[m]
            left = sorted(set(usable[m]) - set(p.seeds))
            if left:
                notes.append(f"seed(s) {left} have no {baseline} source curve to pair with")
            rng = rng_for(m)
            out[m] = _block(p.transfer, p.baseline, p.horizon, rng, n_resamples, notes, p.warnings)
        elif m in usable:
            # No scratch source curve on these seeds: the method's own drop, unpaired.
            notes.append(f"{baseline} has no source curve on these seeds: no paired difference")
            runs = usable[m]
            horizon = min(int(c.timesteps[-1]) for c in runs.values())
            tr = np.array(
                [
                    [c.return_mean[0], np.interp(horizon, c.timesteps, c.return_mean)]
                    for c in runs.values()
                ]
            )
            out[m] = _block(tr, None, horizon, rng_for(m), n_resamples, notes)
        else:
            out[m] = _empty("; ".join(notes))
    return out
