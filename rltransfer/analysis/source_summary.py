"""Per source agent: how it trained, what it does on the target zero-shot, what its pairs gained.

``summary["sources"]`` (the report's "Sources" section and ``sources.png``), built from the
summary's per-pair areas (``methods.NAME.areas``) and each source run's files::

    {"replicas": R, "thresholds": {"untrained": 0.1, "transfers": 0.5, "near_zero": 0.05},
     "list": [{"key", "seed", "final_return", "zero_shot", "zero_shot_normalised",
               "pairs": [seed id, ...], "area_gain": {method: mean gain}, "note"}],
     "split": str or None, "sign": str or None, "note": str or None}

None when no method has ``areas.source`` (curves from another tool, or no transfer method).

- ``list``: one entry per distinct source key behind the pairs (``R`` of them), in the order the
  pairs first use them. ``seed`` is ``meta.json``'s training seed; ``final_return`` the last
  point of its ``curve.csv`` (its return on the source task); ``zero_shot`` the return mean of
  ``meta.json``'s ``zero_shot`` (the trained agent on the target, before target training).
  All three are None, with the reason in ``note``, for a run that is ``running``/``failed``
  (:data:`rltransfer.layout.UNFINISHED`), a key without a run folder (a checkpoint) or an
  older run that did not record it. ``zero_shot_normalised``: ``(zero_shot − low)/(high −
  low)`` with the summary's ``score_range`` (low is scratch's return at t = 0, an untrained
  policy's). A pair's *area gain* is the method's normalised area minus scratch's on that seed
  (the verdict's statistic); ``area_gain[m]`` is its mean over ``m``'s pairs with this source.
- ``split`` (the rule, deliberately simple): among the sources with a zero-shot value, those
  below 0.1 normalised "transfer nothing zero-shot" (near an untrained policy), those above 0.5
  do transfer; when both groups are non-empty the sentence gives each method's mean area gain
  over the pairs of either group (sources in between are in neither and said so). None
  otherwise.
- ``sign``: for each method with two or more sources, when some sources' mean gains are above
  +0.05 and others below −0.05 (gains within ±0.05 of the area, 5% of the score range over the
  budget, count as about 0, so a ±0.002 pair of gains is no sign difference), a sentence with
  the counts and range. None when no method's gains differ so.
- ``note``: the sources with no zero-shot value (left out of ``sources.png``), or None.

These numbers describe the sources; they are not a test and never change a verdict. A source's
gain rests on its few pairs, each with its own scratch run, so it carries seed noise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from rltransfer.analysis.curves import read_curve
from rltransfer.analysis.stats import finite_or_none
from rltransfer.analysis.text import fmt
from rltransfer.errors import UserError
from rltransfer.layout import CURVE_FILE, META_FILE, UNFINISHED, read_meta, source_dir

UNTRAINED = 0.1
"""A normalised zero-shot score below this is near an untrained policy's."""
TRANSFERS = 0.5
"""A normalised zero-shot score above this transfers something zero-shot."""
NEAR_ZERO = 0.05
"""An area gain within ±this counts as about 0 for the sign sentence."""

Gains = dict[str, dict[str, list[tuple[int, float | None]]]]
"""``{source key: {method: [(seed id, area gain or None), ...]}}``."""


def pair_gains(summary: dict[str, Any]) -> Gains:
    """Every pair's area gain, grouped by source key and method (pairs without a key are left
    out)."""
    out: Gains = {}
    for m, block in summary["methods"].items():
        areas = block.get("areas") or {}
        keys = areas.get("source")
        if not keys:
            continue
        for seed, a, b, key in zip(
            areas["seeds"], areas["method"], areas["baseline"], keys, strict=True
        ):
            if key is None:
                continue
            gain = None if a is None or b is None else finite_or_none(a - b)
            out.setdefault(key, {}).setdefault(m, []).append((int(seed), gain))
    return out


def _mean(values: list[float | None]) -> float | None:
    xs = [v for v in values if v is not None]
    return finite_or_none(np.mean(xs)) if xs else None


def _number(x: Any) -> float | None:
    ok = isinstance(x, int | float) and not isinstance(x, bool)
    return finite_or_none(x) if ok else None


def _run(folder: Path) -> tuple[int | None, float | None, float | None, str | None]:
    """``(seed, final_return, zero_shot, note)`` of one source run folder."""
    meta = read_meta(folder)
    curve = folder / CURVE_FILE
    if meta is None and not curve.is_file():
        return None, None, None, "no source run in the folder (a checkpoint, or another tool)"
    seed = meta.get("seed") if meta else None
    seed = seed if isinstance(seed, int) and not isinstance(seed, bool) else None
    status = (meta or {}).get("status")
    if status in UNFINISHED:
        return seed, None, None, f"its run is {status}: no result"
    notes, final = [], None
    try:
        final = finite_or_none(read_curve(curve).return_mean[-1]) if curve.is_file() else None
    except UserError as e:
        notes.append(str(e))
    if final is None and not notes:
        notes.append(f"no {CURVE_FILE}")
    zs = (meta or {}).get("zero_shot")
    zero = _number(zs.get("return_mean")) if isinstance(zs, dict) else None
    if not isinstance(zs, dict):
        notes.append(f"no zero-shot evaluation in {META_FILE} (a run from before it was recorded)")
    elif zero is None:
        notes.append(str(zs.get("note") or "no zero-shot return"))
    return seed, final, zero, "; ".join(notes) or None


def _group_gains(gains: Gains, keys: list[str], method: str) -> float | None:
    return _mean([g for k in keys for _, g in gains[k].get(method, [])])


def _split(entries: list[dict[str, Any]], gains: Gains, methods: list[str]) -> str | None:
    scored = [e for e in entries if e["zero_shot_normalised"] is not None]
    low = [e["key"] for e in scored if e["zero_shot_normalised"] < UNTRAINED]
    high = [e["key"] for e in scored if e["zero_shot_normalised"] > TRANSFERS]
    if not low or not high:
        return None
    middle = len(scored) - len(low) - len(high)
    other = f"the other {len(high)}" if not middle else f"the {len(high)} above {TRANSFERS:g}"
    text = (
        f"{len(low)} of {len(scored)} sources transfer nothing zero-shot (their return on the "
        f"target is near an untrained policy's, normalised score below {UNTRAINED:g})"
    )
    parts = []
    for m in methods:
        a, b = _group_gains(gains, low, m), _group_gains(gains, high, m)
        if a is not None and b is not None:
            parts.append(f"{fmt(a)} vs {fmt(b)} for {other} ({m})")
    if parts:
        text += ": their pairs' mean area gain is " + "; ".join(parts)
    else:
        text += f", {other} transfer (above {TRANSFERS:g}); no method has pairs in both groups"
    if middle:
        are = "s in between are" if middle > 1 else " in between is"
        text += f". {middle} source{are} in neither group"
    return text + "."


def _sign(entries: list[dict[str, Any]], methods: list[str]) -> str | None:
    out = []
    for m in methods:
        g = [e["area_gain"][m] for e in entries if e["area_gain"].get(m) is not None]
        pos, neg = sum(x > NEAR_ZERO for x in g), sum(x < -NEAR_ZERO for x in g)
        if pos and neg:
            rest = len(g) - pos - neg
            about = f", {rest} within ±{NEAR_ZERO:g}" if rest else ""
            out.append(
                f"{m}'s mean area gain is above +{NEAR_ZERO:g} for {pos} of its {len(g)} sources "
                f"and below -{NEAR_ZERO:g} for {neg} (from {fmt(min(g))} to {fmt(max(g))}{about})"
            )
    if not out:
        return None
    return "; ".join(out) + (
        ". Each source's gain rests on its own few pairs, each with its own scratch run, so part "
        "of this spread is seed noise."
    )


def source_summary(root: Path, summary: dict[str, Any]) -> dict[str, Any] | None:
    """``summary["sources"]`` for the study folder ``root`` (see the module docstring)."""
    gains = pair_gains(summary)
    if not gains:
        return None
    lo, hi = summary["score_range"]["low"], summary["score_range"]["high"]
    methods = [m for m in summary["methods"] if any(m in g for g in gains.values())]
    entries = []
    for key, by_method in gains.items():
        seed, final, zero, note = _run(source_dir(root, key))
        norm = None if zero is None or not hi > lo else finite_or_none((zero - lo) / (hi - lo))
        pairs = sorted({s for rows in by_method.values() for s, _ in rows})
        entries.append(
            {
                "key": key,
                "seed": seed,
                "final_return": final,
                "zero_shot": zero,
                "zero_shot_normalised": norm,
                "pairs": pairs,
                "area_gain": {m: _mean([g for _, g in by_method[m]]) for m in by_method},
                "note": note,
            }
        )
    missing = [e["key"] for e in entries if e["zero_shot"] is None]
    return {
        "replicas": len(entries),
        "thresholds": {"untrained": UNTRAINED, "transfers": TRANSFERS, "near_zero": NEAR_ZERO},
        "list": entries,
        "split": _split(entries, gains, methods),
        "sign": _sign(entries, methods),
        "note": None
        if not missing
        else f"{len(missing)} of {len(entries)} sources have no zero-shot return on the target "
        f"and are left out of the plot: {', '.join(missing)}",
    }
