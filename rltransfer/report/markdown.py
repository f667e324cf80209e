"""``report.md``: the study's answer in words a reader who never saw the code understands."""

from __future__ import annotations

from typing import Any

from rltransfer.analysis.metrics import tail_length
from rltransfer.analysis.verdict import ALPHA

TABLE_METRICS = (
    ("jumpstart", "Jumpstart"),
    ("asymptotic_gain", "Asymptotic gain"),
    ("area_ratio", "Area ratio"),
    ("time_to_threshold_ratio", "Time-to-threshold ratio"),
    ("prob_improvement", "P(improvement)"),
)


def fmt(x: float | None) -> str:
    """A number for a human: 3 significant digits, whole numbers from 1000 up, '—' for none."""
    if x is None:
        return "—"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.3g}"


def fmt_metric(m: dict[str, Any]) -> str:
    """``mean [lo, hi]``, with censoring and missing values written out."""
    if m.get("mean") is None:
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


def _answers(summary: dict[str, Any]) -> list[str]:
    lines = []
    for name, m in summary["methods"].items():
        head = "inconclusive" if m["verdict"] == "inconclusive" else f"{m['verdict']} transfer"
        lines.append(f"- **{name}: {head}** — {m['evidence']}")
    return lines


def _table(summary: dict[str, Any]) -> list[str]:
    head = ["Method", "Verdict", "Seeds"] + [label for _, label in TABLE_METRICS]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, m in summary["methods"].items():
        cells = [name, m["verdict"], str(m["seeds"])]
        cells += [fmt_metric(m["metrics"][key]) for key, _ in TABLE_METRICS]
        rows.append("| " + " | ".join(cells) + " |")
    return rows


def _notes(summary: dict[str, Any]) -> list[str]:
    lines = []
    for name, m in summary["methods"].items():
        for key, label in TABLE_METRICS:
            metric = m["metrics"][key]
            parts = [p for p in (metric.get("censored"), metric.get("note")) if p]
            if parts:
                lines.append(f"- {name}, {label.lower()}: {'; '.join(parts)}.")
    return lines


def _how_to_read(summary: dict[str, Any]) -> list[str]:
    base = summary["baseline"]
    lo, hi = summary["score_range"]["low"], summary["score_range"]["high"]
    k = tail_length(len(summary["grid"]))
    boot = summary.get("bootstrap", {})
    high_src = "the threshold" if summary.get("threshold") is not None else "the best return seen"
    return [
        "## How to read this",
        "",
        f"Every method was trained on the target task with the same seeds as **{base}** (training "
        f"from scratch). Seed *k* of a method and seed *k* of {base} share environment seeds, "
        f"budget and evaluation grid: they form a *seed pair*. *P(t)* is the mean evaluation "
        "return after *t* target timesteps.",
        "",
        f"- **Normalised score**: (P − low) / (high − low), with low = {fmt(lo)} (the return of "
        f"{base} at t = 0, averaged over seeds: an untrained policy) and high = {fmt(hi)} "
        f"({high_src}). 0 is untrained, 1 is the target level.",
        "- **Area**: the area under the normalised curve divided by the length of training, i.e. "
        "the average normalised score over the training budget. Higher means learned faster "
        "and/or better.",
        f"- **Jumpstart**: P(0) of the method minus P(0) of {base}: how much better the method is "
        "before any training on the target task.",
        f"- **Asymptotic gain**: mean return over the last {k} evaluation point(s) (the last 10% "
        f"of the grid), method minus {base}: the difference at the end of training.",
        f"- **Area ratio**: (area of the method − area of {base}) / area of {base}, per seed "
        f"pair. 0.25 means 25% more area. Undefined when {base}'s area is 0 or below.",
        f"- **Time-to-threshold ratio**: time for {base}'s seed-mean curve to first reach the "
        "threshold, divided by the method's time. Above 1 means the method got there sooner. A "
        "curve that never reaches the threshold is *censored*: its time is only known to exceed "
        "the budget, so the ratio is reported as a bound, not a number.",
        f"- **P(improvement)**: the probability that a random seed of the method has a larger "
        f"area than a random seed of {base} (ties count half; Mann–Whitney U / (n·m)). 0.5 means "
        "no difference.",
        f"- **mean [lo, hi]**: the mean over seed pairs and its {boot.get('confidence', 0.95):.0%} "
        f"confidence interval from a paired percentile bootstrap over seeds "
        f"({boot.get('resamples', '?')} resamples, generator seed {boot.get('seed', '?')}). "
        "summary.json also holds the interquartile mean (IQM) of each per-pair metric.",
        "",
        f"**Verdict rule.** The per-seed areas of the method and of {base} are compared with a "
        f"two-sided Welch t-test. If p < {ALPHA:g} the verdict is *positive* when the method's "
        f"mean area is higher and *negative* when it is lower; otherwise, or when the test "
        "cannot be run (fewer than 2 seed pairs, no variation across seeds), it is "
        "*inconclusive*: the data do not show a difference, which is not proof that there is "
        "none.",
    ]


def _baseline_line(summary: dict[str, Any]) -> str:
    base, bs, thr = summary["baseline"], summary["baseline_stats"], summary.get("threshold")
    line = (
        f"Baseline **{base}** ({bs['seeds']} seeds): final return {fmt(bs['final_return'])}, "
        f"area {fmt(bs['area'])}"
    )
    if thr is not None:
        t = bs.get("time_to_threshold")
        reached = "never reached" if t is None else f"reached at t = {fmt(t)}"
        line += f", threshold {fmt(thr)} {reached}"
    return line + "."


def render_report(summary: dict[str, Any]) -> str:
    """The full Markdown report for a summary made by ``analyze``."""
    base = summary["baseline"]
    lines = [f"# Transfer report: {summary['study']}", "", "## Answer", ""]
    lines += _answers(summary) or [f"- No method besides {base} was run."]
    lines += ["", "## Results", ""]
    lines += _table(summary)
    lines += ["", _baseline_line(summary), ""]
    for name, m in summary["methods"].items():
        lines.append(
            f"- {name}: final return {fmt(m['final_return'])}, area {fmt(m['area'])}, "
            f"{m['seeds']} seed pairs."
        )
    notes = _notes(summary)
    if notes:
        lines += ["", "Notes:", ""] + notes
    if summary.get("warnings"):
        lines += ["", "Warnings:", ""] + [f"- {w}" for w in summary["warnings"]]
    lines += ["", "## Learning curves", "", "![Learning curves](curves.png)", ""]
    lines += _how_to_read(summary)
    return "\n".join(lines) + "\n"
