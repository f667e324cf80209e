"""The report's "Sources" section and ``sources.png``, from ``summary["sources"]``
(:mod:`rltransfer.analysis.source_summary`).

The figure: one point per seed pair, x = the zero-shot return on the target of the source agent
the pair transferred from, y = the pair's area gain (method − baseline, normalised-area units),
one marker series per transfer method, a dashed line at y = 0 and dotted lines at the split
rule's normalised scores. Drawn like :mod:`rltransfer.report.plots` (own Agg canvas, no pyplot).
Pairs whose source has no zero-shot value are left out (the section says which).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rltransfer.analysis.text import fmt
from rltransfer.io import atomic_write_bytes
from rltransfer.report.plots import METHOD_COLOURS, png_bytes

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "<", ">")


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def source_points(summary: dict[str, Any]) -> dict[str, list[tuple[float, float]]]:
    """``{method: [(zero-shot return, area gain), ...]}``: the plottable seed pairs (methods
    with none are left out); empty when the summary has no sources."""
    block = summary.get("sources")
    if not block:
        return {}
    zero = {e["key"]: e["zero_shot"] for e in block["list"]}
    out: dict[str, list[tuple[float, float]]] = {}
    for m, info in summary["methods"].items():
        areas = info.get("areas") or {}
        keys = areas.get("source")
        if not keys:
            continue
        pts = [
            (zero[k], a - b)
            for k, a, b in zip(keys, areas["method"], areas["baseline"], strict=True)
            if zero.get(k) is not None and a is not None and b is not None
        ]
        if pts:
            out[m] = pts
    return out


def render_sources_png(summary: dict[str, Any]) -> bytes:
    """The scatter plot as PNG bytes (see the module docstring)."""
    base = summary["baseline"]
    fig = Figure(figsize=(7.5, 4.5), dpi=120, layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    methods = list(summary["methods"])
    for m, pts in source_points(summary).items():
        i = methods.index(m)
        xs, ys = zip(*pts, strict=True)
        ax.plot(
            xs,
            ys,
            ls="none",
            marker=MARKERS[i % len(MARKERS)],
            ms=7,
            alpha=0.8,
            color=METHOD_COLOURS[i % len(METHOD_COLOURS)],
            label=f"{m} ({len(pts)} pairs)",
        )
    ax.axhline(0.0, color="black", ls="--", lw=1, label=f"no gain over {base}")
    lo, hi = summary["score_range"]["low"], summary["score_range"]["high"]
    rule = summary["sources"].get("thresholds") or {}
    cuts = [rule.get("untrained"), rule.get("transfers")]
    cuts = [c for c in cuts if c is not None]
    label = "normalised zero-shot score " + " / ".join(fmt(c) for c in cuts)
    for j, c in enumerate(cuts):
        x = lo + c * (hi - lo)
        ax.axvline(x, color="grey", ls=":", lw=1, label=None if j else label)
        ax.text(
            x,
            1.0,
            f" {fmt(c)}",
            transform=ax.get_xaxis_transform(),
            va="top",
            color="grey",
            fontsize="small",
        )
    ax.set_xlabel("zero-shot return on the target of the pair's source agent")
    ax.set_ylabel(f"area gain over {base} (normalised area)")
    ax.set_title(f"{summary.get('study', '')}: each seed pair's gain vs its source's zero-shot")
    ax.grid(alpha=0.3)
    ax.legend(loc="best", fontsize="small")
    return png_bytes(fig)


def plot_sources(summary: dict[str, Any], path: str | Path) -> Path:
    """Write ``sources.png`` to ``path`` atomically and return the path."""
    path = Path(path)
    atomic_write_bytes(path, render_sources_png(summary))
    return path


def sources_section(summary: dict[str, Any]) -> list[str]:
    """ "Sources": a table per source agent, the split and sign sentences and the plot."""
    block = summary.get("sources")
    if not block or not block.get("list"):
        return []
    base, entries = summary["baseline"], block["list"]
    methods = [m for m in summary["methods"] if any(m in e["area_gain"] for e in entries)]
    n = block.get("replicas", len(entries))
    who = (
        "Every seed pair transferred from the same source agent, so differences between "
        "sources are not in these data."
        if n == 1
        else f"The transfer runs used {n} source agents; each row lists the seed pairs that "
        "transferred from it."
    )
    rule = block.get("thresholds") or {}
    lines = [
        "## Sources",
        "",
        f"{who} *Final return*: the source agent's last evaluation on the source task "
        "(`curve.csv`). *Zero-shot*: the trained source agent evaluated on the target task "
        "before any target training (`meta.json`), with its normalised score in brackets "
        f"(0 = {base} at t = 0, an untrained policy; 1 = high). *Area gain*: the method's "
        f"normalised area minus {base}'s, per seed pair, averaged over the source's pairs "
        "(the verdict's statistic). Sources split when some score below "
        f"{fmt(rule.get('untrained'))} zero-shot and others above {fmt(rule.get('transfers'))}. "
        "These numbers describe the sources; they are not a test and never change a verdict.",
        "",
    ]
    head = ["Source", "Training seed", "Pairs", "Final return (source)", "Zero-shot (target)"]
    head += [f"Area gain: {m}" for m in methods]
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    notes = []
    for e in entries:
        zero = fmt(e["zero_shot"])
        if e["zero_shot_normalised"] is not None:
            zero += f" ({fmt(e['zero_shot_normalised'])})"
        cells = [
            f"`{e['key']}`",
            "—" if e["seed"] is None else str(e["seed"]),
            ", ".join(str(s) for s in e["pairs"]),
            fmt(e["final_return"]),
            zero,
        ] + [fmt(e["area_gain"].get(m)) for m in methods]
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
        if e.get("note"):
            notes.append(f"- `{e['key']}`: {e['note']}.")
    for sentence in (block.get("split"), block.get("sign")):
        lines += ["", sentence] if sentence else []
    lines += (["", *notes] if notes else []) + [""]
    if source_points(summary):
        left = f" {block['note']}." if block.get("note") else ""
        lines += [
            f"Each point is a seed pair: its source's zero-shot return on the target (x) and "
            f"its area gain over {base} (y); dotted lines at the split rule's scores.{left}",
            "",
            "![Area gain vs zero-shot return of the source](sources.png)",
            "",
        ]
    else:
        lines += ["No source has a zero-shot return on the target, so there is no plot.", ""]
    return lines
