"""Numbers and intervals in words, shared by the evidence sentences and ``report.md``."""

from __future__ import annotations

from typing import Any


def fmt(x: float | None) -> str:
    """A number for a human: 3 significant digits, whole numbers from 1000 up, '—' for none."""
    if x is None:
        return "—"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def fmt_metric(m: dict[str, Any] | None) -> str:
    """``mean [lo, hi]``, with censoring and missing values written out."""
    if m is None:
        return "n/a"
    if m.get("mean") is None:
        case = m.get("case")
        if case == "method at t=0":
            lo = (m.get("ci") or [None, None])[0]
            return "∞ (at the threshold at t=0)" + ("" if lo is None else f" [{fmt(lo)}, ∞)")
        if case in ("baseline at t=0", "both at t=0"):
            return (
                "not informative ("
                + ("both" if case == "both at t=0" else "baseline")
                + (" at the threshold at t=0)")
            )
        if m.get("never_starts"):
            return "— (never starts)"
        if m.get("lower_bound") is not None:
            return f"> {fmt(m['lower_bound'])} (censored)"
        if m.get("upper_bound") is not None:
            return f"< {fmt(m['upper_bound'])} (censored)"
        return "n/a"
    lo, hi = m.get("ci", [None, None])
    if lo is None and hi is None:
        return f"{fmt(m['mean'])} [no CI]"
    hi_s = "∞)" if hi is None else f"{fmt(hi)}]"
    return f"{fmt(m['mean'])} [{fmt(lo)}, {hi_s}"
