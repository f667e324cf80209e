"""Method against method: the verdict test between two transfer methods, seed pair by seed pair.

A study's verdicts compare each method with scratch. Some questions compare two methods: did a
multi-task source help more than a single source? ``compare: [[A, B], ...]`` in the study asks
them. Each pair is decided exactly as a verdict is (``rltransfer.analysis.verdict.decide``: a
two-sided Welch t-test on the per-seed area under the normalised curve, target-only, α = 0.05),
with B in the baseline's place, on the seeds both ran and the grid they share, normalised with
the study's score range (so the areas are those of the main table).
"""

from __future__ import annotations

from typing import Any

from rltransfer.analysis import metrics as M
from rltransfer.analysis.align import align_study
from rltransfer.analysis.curves import Curve
from rltransfer.analysis.verdict import decide, fmt_p

WORDS = {
    "positive": "better than",
    "negative": "worse than",
    "inconclusive": "not clearly different from",
}


def compare_methods(
    curves: dict[str, dict[int, Curve]], pairs: list[list[str]], low: float, high: float
) -> list[dict[str, Any]]:
    """One record per requested pair ``[A, B]``: ``{a, b, verdict, evidence, p, diff, seeds}``.

    ``verdict`` reads "A is positive/negative/inconclusive against B". A pair naming a method
    without curves is reported with ``verdict: None`` and a note, not an error (its runs may
    have failed).
    """
    out = []
    for a, b in pairs:
        missing = [m for m in (a, b) if not curves.get(m)]
        if missing:
            note = f"no curves for {', '.join(missing)}"
            out.append({"a": a, "b": b, "verdict": None, "evidence": note, "seeds": 0})
            continue
        aligned = align_study({a: curves[a], b: curves[b]}, b)
        pair = aligned.pairs.get(a)
        if pair is None:
            out.append({"a": a, "b": b, "verdict": None, "evidence": "no common seeds", "seeds": 0})
            continue
        area_a = M.area(M.normalise(pair.transfer, low, high), pair.grid)
        area_b = M.area(M.normalise(pair.baseline, low, high), pair.grid)
        dec = decide(area_a, area_b, baseline=b)
        head = f"area {area_a.mean():.3g} vs {area_b.mean():.3g}"
        if dec.p is None:
            evidence = f"{head}; no test: {dec.reason}"
        else:
            evidence = f"{head} (Welch t={dec.t:.3g}, {fmt_p(dec.p)}, {len(pair.seeds)} seed pairs)"
        out.append(
            {
                "a": a,
                "b": b,
                "verdict": dec.verdict,
                "evidence": evidence,
                "p": dec.p,
                "diff": dec.diff,
                "seeds": len(pair.seeds),
                "horizon": int(pair.grid[-1]),
            }
        )
    return out


def comparison_lines(records: list[dict[str, Any]]) -> list[str]:
    """Markdown bullets for the report's "Method against method" section."""
    lines = []
    for r in records:
        if r["verdict"] is None:
            lines.append(f"- **{r['a']} vs {r['b']}**: not compared ({r['evidence']}).")
            continue
        words = WORDS[r["verdict"]]
        lines.append(f"- **{r['a']}** is {words} **{r['b']}** — {r['evidence']}")
    return lines
