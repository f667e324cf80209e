"""The forest plot of a report: every metric's mean and 95 % CI per method, both accountings.

One panel per metric (rows), one line per method; a filled circle is the target-only accounting
(the one the verdict uses), a hollow diamond the total-cost one. The dashed vertical line is "no
effect" (0 for differences and the area ratio, 1 for the time ratio, 0.5 for P(improvement)). A
CI with an unbounded end is drawn to the panel's edge with an arrow head; a censored
time-to-threshold ratio, known only as a bound, is drawn as a ``>``/``<`` marker at the bound.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rltransfer.io import atomic_write_bytes
from rltransfer.report.plots import METHOD_COLOURS, png_bytes

PANELS = (
    ("jumpstart", "Jumpstart (return)", 0.0),
    ("asymptotic_gain", "Asymptotic gain (return)", 0.0),
    ("area_ratio", "Area ratio", 0.0),
    ("time_to_threshold_ratio", "Time-to-threshold ratio", 1.0),
    ("prob_improvement", "P(improvement)", 0.5),
)
ACCOUNTINGS = (
    ("metrics", "target-only", "o", 0.14),
    ("metrics_total_cost", "total cost", "D", -0.14),
)


def _points(m: dict[str, Any] | None) -> tuple[float | None, float | None, float | None, str]:
    """``(x, lo, hi, kind)`` for one metric: kind is 'mean', 'lower', 'upper' or 'none'.

    ``lo``/``hi`` are ``-inf``/``inf`` for an unbounded CI end, ``None`` when there is no CI.
    """
    if not m:
        return None, None, None, "none"
    if m.get("mean") is None:
        if m.get("lower_bound") is not None:
            return m["lower_bound"], None, None, "lower"
        if m.get("upper_bound") is not None:
            return m["upper_bound"], None, None, "upper"
        return None, None, None, "none"
    lo, hi = (m.get("ci") or [None, None])[:2]
    if lo is None and hi is None:
        return m["mean"], None, None, "mean"
    lo = -np.inf if lo is None else lo
    hi = np.inf if hi is None else hi
    return m["mean"], lo, hi, "mean"


def _limits(values: list[float], null: float) -> tuple[float, float]:
    finite = [v for v in values if v is not None and np.isfinite(v)] + [null]
    lo, hi = min(finite), max(finite)
    pad = 0.08 * (hi - lo) if hi > lo else max(abs(hi), 1.0) * 0.1
    return lo - pad, hi + pad


def _panel(ax: Any, summary: dict[str, Any], key: str, title: str, null: float) -> None:
    methods = list(summary["methods"])
    pts = {
        (m, acc): _points((summary["methods"][m].get(acc) or {}).get(key))
        for m in methods
        for acc, *_ in ACCOUNTINGS
    }
    x0, x1 = _limits([v for p in pts.values() for v in p[:3]], null)
    ax.set_xlim(x0, x1)
    ax.axvline(null, color="black", ls="--", lw=0.8, zorder=0)
    for i, m in enumerate(methods):
        colour = METHOD_COLOURS[i % len(METHOD_COLOURS)]
        y = len(methods) - 1 - i
        for acc, _, marker, dy in ACCOUNTINGS:
            x, lo, hi, kind = pts[(m, acc)]
            if x is None:
                if summary["methods"][m].get(acc) is not None:
                    ax.text(null, y + dy, " n/a", color="grey", fontsize="x-small", va="center")
                continue
            face = colour if marker == "o" else "white"
            if lo is not None and hi is not None:
                a, b = max(lo, x0), min(hi, x1)
                ax.plot([a, b], [y + dy] * 2, color=colour, lw=1.6)
                if np.isinf(hi):
                    ax.plot(x1, y + dy, marker=">", color=colour, ms=5, clip_on=False)
                if np.isinf(lo):
                    ax.plot(x0, y + dy, marker="<", color=colour, ms=5, clip_on=False)
            if kind != "mean":
                marker = ">" if kind == "lower" else "<"
            ax.plot(x, y + dy, marker=marker, color=colour, mfc=face, ms=7, lw=0)
    ax.set_yticks(range(len(methods)), list(reversed(methods)))
    ax.set_ylim(-0.6, len(methods) - 0.4)
    ax.set_title(f"{title} — no effect = {null:g}", fontsize="medium", loc="left")
    ax.grid(axis="x", alpha=0.3)


def render_forest_png(summary: dict[str, Any]) -> bytes:
    """The forest plot as PNG bytes (see the module docstring)."""
    n = max(1, len(summary["methods"]))
    fig = Figure(
        figsize=(7.5, 1.2 + len(PANELS) * (0.55 + 0.45 * n)), dpi=120, layout="constrained"
    )
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(PANELS), 1)
    for ax, (key, title, null) in zip(axes, PANELS, strict=True):
        _panel(ax, summary, key, title, null)
    handles = [
        axes[0].plot([], [], marker="o", color="black", lw=0, label="target-only (verdict)")[0],
        axes[0].plot([], [], marker="D", color="black", mfc="white", lw=0, label="total cost")[0],
        axes[0].plot([], [], marker=">", color="black", lw=0, label="censored: only a bound")[0],
    ]
    steps = summary.get("source_steps")
    cost = "source steps unknown" if steps is None else f"{steps:,} source steps charged"
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize="small")
    fig.suptitle(f"{summary.get('study', '')}: mean and 95% CI per metric ({cost})")
    return png_bytes(fig)


def plot_forest(summary: dict[str, Any], path: str | Path) -> Path:
    """Write the forest plot PNG to ``path`` atomically and return the path."""
    path = Path(path)
    atomic_write_bytes(path, render_forest_png(summary))
    return path
