"""Write a study's report: ``summary.json``, ``report.md``, ``curves.png`` and ``forest.png``
(and ``curves_source.png`` when the runs were evaluated on the source task, ``sources.png`` when
the summary's ``sources`` has a zero-shot return to plot)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rltransfer.analysis.curves import Curve
from rltransfer.io import atomic_write_json, atomic_write_text
from rltransfer.report.forest import plot_forest
from rltransfer.report.markdown import render_report
from rltransfer.report.plots import plot_curves, plot_source_curves
from rltransfer.report.sources import plot_sources, source_points

__all__ = [
    "render_report",
    "plot_curves",
    "plot_forest",
    "plot_source_curves",
    "plot_sources",
    "write_report",
]


def write_report(
    out_dir: Path, summary: dict[str, Any], curves: dict[str, dict[int, Curve]]
) -> dict[str, Path]:
    """Write the four report files into ``out_dir`` (created if needed), each atomically.

    Returns ``{"summary": .../summary.json, "report": .../report.md, "curves": .../curves.png,
    "forest": .../forest.png}``, plus ``"curves_source"`` when a method has a forgetting block
    and ``"sources"`` (``sources.png``) when ``summary["sources"]`` has a pair to plot.
    The figures are written first so ``report.md`` never links to a missing image.
    """
    out_dir = Path(out_dir)
    paths = {
        "summary": out_dir / "summary.json",
        "report": out_dir / "report.md",
        "curves": out_dir / "curves.png",
        "forest": out_dir / "forest.png",
    }
    plot_curves(curves, summary, paths["curves"])
    plot_forest(summary, paths["forest"])
    if any(m.get("forgetting") for m in summary["methods"].values()):
        paths["curves_source"] = plot_source_curves(curves, summary, out_dir / "curves_source.png")
    if source_points(summary):
        paths["sources"] = plot_sources(summary, out_dir / "sources.png")
    atomic_write_json(paths["summary"], summary)
    atomic_write_text(paths["report"], render_report(summary))
    return paths
