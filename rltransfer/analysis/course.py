"""The course of a method's curve in words' terms: did target training make it worse first?

A positive area can come entirely from a transferred start: a source that already scores 500 on
the target at t = 0, which fine-tuning drags down to 282 before it recovers, has a larger area
than scratch without learning anything faster. :func:`curve_course` finds the two facts a reader
needs then, on the seed-mean curves:

- a **dip**: the mean curve falls below its own start ``P(0)`` by more than ``tolerance`` of the
  score range ``high - low`` (and how many seeds dip like that on their own curve);
- a **late return to the threshold**: the mean curve reached the threshold, fell below it, and
  got back to it only after the baseline first reached it (or never got back).

Pure numpy; the words are written by ``rltransfer.report.explain``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

DIP_TOLERANCE = 0.1
"""A dip counts when it is deeper than this fraction of the score range (``high - low``)."""


def _first(mask: np.ndarray, grid: np.ndarray, after: int = -1) -> int | None:
    """Index of the first True of ``mask`` (G,) strictly after index ``after``, or None."""
    idx = np.flatnonzero(mask[after + 1 :])
    return None if idx.size == 0 else int(idx[0]) + after + 1


def _t(grid: np.ndarray, i: int | None) -> int | None:
    return None if i is None else int(grid[i])


def dip(curve: np.ndarray, grid: np.ndarray) -> dict[str, Any]:
    """The deepest fall of one curve below its own start.

    ``curve`` (G,) returns on ``grid`` (G,), ``grid[0] == 0``, G >= 2. Returns ``{"start"
    (P(0)), "lowest" (min of P(t) for t > 0), "lowest_at", "depth" (start - lowest, return
    units, may be <= 0: no dip), "recovered_at"}``; ``recovered_at`` is the first grid time after
    ``lowest_at`` with ``P(t) >= start``, ``None`` when it never got back.
    """
    c = np.asarray(curve, dtype=np.float64)
    i = int(np.argmin(c[1:])) + 1
    back = _first(c >= c[0], grid, after=i)
    return {
        "start": float(c[0]),
        "lowest": float(c[i]),
        "lowest_at": int(grid[i]),
        "depth": float(c[0] - c[i]),
        "recovered_at": _t(grid, back),
    }


def threshold_course(
    curve: np.ndarray, baseline_curve: np.ndarray, grid: np.ndarray, threshold: float
) -> dict[str, Any]:
    """When one curve reached, lost and regained the threshold, against the baseline's first.

    ``curve``, ``baseline_curve`` (G,) on ``grid`` (G,). Returns ``{"first_reached",
    "lost_at", "back_at", "baseline_reached", "late"}`` (grid times or ``None``): ``lost_at`` is
    the first time after ``first_reached`` below the threshold, ``back_at`` the first time after
    ``lost_at`` at or above it. ``late`` is True when the curve lost the threshold and the
    baseline reached it before the curve got back (``back_at > baseline_reached``, or no
    ``back_at`` at all).
    """
    c = np.asarray(curve, dtype=np.float64)
    b = np.asarray(baseline_curve, dtype=np.float64)
    first = _first(c >= threshold, grid)
    lost = None if first is None else _first(c < threshold, grid, after=first)
    back = None if lost is None else _first(c >= threshold, grid, after=lost)
    base = _first(b >= threshold, grid)
    late = lost is not None and base is not None and (back is None or back > base)
    return {
        "first_reached": _t(grid, first),
        "lost_at": _t(grid, lost),
        "back_at": _t(grid, back),
        "baseline_reached": _t(grid, base),
        "late": bool(late),
    }


def curve_course(
    transfer: np.ndarray,
    baseline: np.ndarray,
    grid: np.ndarray,
    threshold: float | None,
    low: float,
    high: float,
    tolerance: float = DIP_TOLERANCE,
) -> dict[str, Any]:
    """The dip and the threshold course of a method's seed-mean curve (see the module doc).

    Args:
        transfer, baseline: (S, G) returns of the method and the baseline, seed pairs in rows.
        grid: (G,) timesteps, ``grid[0] == 0``.
        threshold: the study's threshold, or None (no threshold course then).
        low, high: the score range; a dip counts when ``depth > tolerance * (high - low)``.

    Returns ``{"dip": {start, lowest, lowest_at, depth, depth_normalised, recovered_at,
    dipped, seeds_dipped, seeds, tolerance}, "threshold": threshold_course(...) or None}``,
    JSON-ready. ``seeds_dipped`` counts the seeds whose own curve dips by more than the
    tolerance below their own start.
    """
    tr = np.asarray(transfer, dtype=np.float64)
    span = high - low
    d = dip(tr.mean(axis=0), grid)
    per_seed = [dip(row, grid)["depth"] for row in tr]
    d["depth_normalised"] = d["depth"] / span
    d["dipped"] = bool(d["depth_normalised"] > tolerance)
    d["seeds_dipped"] = int(sum(x / span > tolerance for x in per_seed))
    d["seeds"] = int(len(tr))
    d["tolerance"] = tolerance
    course = None
    if threshold is not None:
        course = threshold_course(tr.mean(axis=0), baseline.mean(axis=0), grid, threshold)
    return {"dip": d, "threshold": course}


def _steps(t: int | None) -> str:
    return "—" if t is None else f"{t:,}"


def course_clauses(
    course: dict[str, Any] | None, method: str, baseline: str, verdict: str = "positive"
) -> list[str]:
    """Short clauses for the evidence sentence: the dip and a late return, or ``[]``.

    E.g. ``"but target training first made finetune worse than it started (mean 500 at t=0,
    282 at t=5,000)"`` ("but" only after a positive verdict) and ``"finetune got back to the
    threshold only at t=37,500, after scratch reached it (t=35,000)"``.
    """
    if not course:
        return []
    out = []
    d = course.get("dip") or {}
    if d.get("dipped"):
        but = "but " if verdict == "positive" else ""
        out.append(
            f"{but}target training first made {method} worse than it started (mean "
            f"{d['start']:.3g} at t=0, {d['lowest']:.3g} at t={d['lowest_at']:,})"
        )
    th = course.get("threshold") or {}
    if th.get("late"):
        if th.get("back_at") is None:
            out.append(
                f"{method} fell below the threshold at t={_steps(th['lost_at'])} and did not get "
                f"back to it, while {baseline} reached it (t={_steps(th['baseline_reached'])})"
            )
        else:
            out.append(
                f"{method} got back to the threshold only at t={_steps(th['back_at'])}, after "
                f"{baseline} reached it (t={_steps(th['baseline_reached'])})"
            )
    return out
