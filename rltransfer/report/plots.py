"""The learning-curve figure of a report.

Drawn on a ``matplotlib.figure.Figure`` with its own Agg canvas: no pyplot, no global backend
switch, nothing left open in the caller's process.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy import stats

from rltransfer.analysis.align import align_study
from rltransfer.analysis.curves import Curve
from rltransfer.analysis.forgetting import source_curves
from rltransfer.io import atomic_write_bytes

BASELINE_COLOUR = "#6b6b6b"
# matplotlib's tab10 without its grey, which is kept for the baseline.
METHOD_COLOURS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#bcbd22",
    "#17becf",
)


def mean_band(returns: np.ndarray, confidence: float = 0.95) -> tuple[np.ndarray, np.ndarray]:
    """Seed mean and t-interval half-width across seeds: (S, G) -> (G,), (G,).

    ``half = t_{(1+c)/2, S-1} * sd / sqrt(S)``; zero (no band) with a single seed.
    """
    mean = returns.mean(axis=0)
    s = returns.shape[0]
    if s < 2:
        return mean, np.zeros_like(mean)
    q = stats.t.ppf((1.0 + confidence) / 2.0, s - 1)
    return mean, q * returns.std(axis=0, ddof=1) / np.sqrt(s)


def _draw(ax: Any, grid: np.ndarray, data: np.ndarray, colour: str, label: str, z: float) -> None:
    mean, half = mean_band(data)
    ax.plot(grid, mean, color=colour, lw=1.8, label=label, zorder=z + 1)
    if np.any(half > 0):
        ax.fill_between(grid, mean - half, mean + half, color=colour, alpha=0.18, lw=0, zorder=z)


def render_curves_png(
    curves: dict[str, dict[int, Curve]], summary: dict[str, Any], *, on_source: bool = False
) -> bytes:
    """The figure as PNG bytes: mean curve and 95 % t-band per method, dashed threshold.

    Each method is drawn over its paired seeds up to its compared horizon, the baseline over all
    its seeds up to theirs (see :func:`rltransfer.analysis.align.align_study`). ``on_source``:
    ``curves`` are returns on the source task (forgetting), drawn without the target threshold.
    """
    baseline = summary["baseline"]
    fig = Figure(figsize=(7.5, 4.5), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if on_source and len(curves.get(baseline, {})) == 0:
        ax.text(0.5, 0.5, f"{baseline} has no source evaluation", ha="center", va="center")
        ax.set_axis_off()
        return png_bytes(fig)
    aligned = align_study(curves, baseline)
    base = aligned.baseline_returns
    label = f"{baseline} ({len(base)} seeds)"
    _draw(ax, aligned.baseline_grid, base, BASELINE_COLOUR, label, 3)
    for i, (m, pair) in enumerate(aligned.pairs.items()):
        info = summary.get("methods", {}).get(m, {})
        upto = f", to t={pair.horizon:,}" if pair.horizon < pair.budget else ""
        verdict = "" if on_source else f"{info.get('verdict', '?')}, "
        label = f"{m} ({verdict}{len(pair.seeds)} seeds{upto})"
        colour = METHOD_COLOURS[i % len(METHOD_COLOURS)]
        _draw(ax, pair.grid, pair.transfer, colour, label, 1)
    if summary.get("threshold") is not None and not on_source:
        ax.axhline(summary["threshold"], color="black", ls="--", lw=1, label="threshold")
    ax.set_xlabel("target timesteps")
    ax.set_ylabel("evaluation return on the source task" if on_source else "evaluation return")
    what = "return on the source task during target training, " if on_source else ""
    ax.set_title(f"{summary.get('study', '')}: {what}mean over seeds, 95% band")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return png_bytes(fig)


def png_bytes(fig: Figure) -> bytes:
    """``fig`` rendered as PNG bytes."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def plot_curves(
    curves: dict[str, dict[int, Curve]], summary: dict[str, Any], path: str | Path
) -> Path:
    """Write the learning-curve PNG to ``path`` atomically and return the path."""
    path = Path(path)
    atomic_write_bytes(path, render_curves_png(curves, summary))
    return path


def plot_source_curves(
    curves: dict[str, dict[int, Curve]], summary: dict[str, Any], path: str | Path
) -> Path:
    """Write ``curves_source.png``: the return on the source task of every run that could be
    evaluated there (``eval.on_source``), drawn like the learning curves."""
    path = Path(path)
    usable, _ = source_curves(curves)
    atomic_write_bytes(path, render_curves_png(usable, summary, on_source=True))
    return path
