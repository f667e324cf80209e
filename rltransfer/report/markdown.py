"""``report.md``: the study's answer in words a reader who never saw the code understands."""

from __future__ import annotations

from typing import Any

import numpy as np

from rltransfer.analysis.comparisons import comparison_lines
from rltransfer.analysis.metrics import asymptotic_window
from rltransfer.analysis.text import fmt, fmt_metric
from rltransfer.analysis.verdict import ALPHA, CALIBRATION
from rltransfer.report.design import design_paragraphs, looks_section
from rltransfer.report.explain import headline, method_paragraph
from rltransfer.report.sections import (
    forgetting_section,
    source_tasks_section,
    transfer_section,
)
from rltransfer.report.sources import sources_section

__all__ = ["fmt", "fmt_metric", "render_report"]

TABLE_METRICS = (
    ("jumpstart", "Jumpstart"),
    ("asymptotic_gain", "Asymptotic gain"),
    ("area_ratio", "Area ratio"),
    ("time_to_threshold_ratio", "Time-to-threshold ratio"),
    ("prob_improvement", "P(improvement)"),
)
ACCOUNTINGS = (("metrics", "target-only"), ("metrics_total_cost", "total cost"))


def _answers(summary: dict[str, Any]) -> list[str]:
    lines = []
    for name, m in summary["methods"].items():
        head = headline(m, summary["baseline"])
        lines.append(f"- **{name}: {head}** — {m['evidence']}")
    return lines


def _table(summary: dict[str, Any]) -> list[str]:
    head = ["Method", "Accounting", "Verdict", "Seeds"] + [label for _, label in TABLE_METRICS]
    rows = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, m in summary["methods"].items():
        for key, accounting in ACCOUNTINGS:
            block = m.get(key)
            if block is None:
                continue
            verdict = m["verdict"] if key == "metrics" else "(not used)"
            cells = [name, accounting, verdict, str(m["seeds"])]
            cells += [fmt_metric(block.get(k)) for k, _ in TABLE_METRICS]
            rows.append("| " + " | ".join(cells) + " |")
    return rows


def _notes(summary: dict[str, Any]) -> list[str]:
    lines = []
    for name, m in summary["methods"].items():
        for key, accounting in ACCOUNTINGS:
            block = m.get(key) or {}
            for metric, label in TABLE_METRICS:
                entry = block.get(metric) or {}
                parts = [p for p in (entry.get("censored"), entry.get("note")) if p]
                if parts:
                    lines.append(f"- {name}, {label.lower()} ({accounting}): {'; '.join(parts)}.")
    return lines


def _metric_lines(summary: dict[str, Any]) -> list[str]:
    base = summary["baseline"]
    lo, hi = summary["score_range"]["low"], summary["score_range"]["high"]
    src = summary.get("score_range_source") or {}
    grid = np.asarray(summary["grid"])
    window = grid[asymptotic_window(grid)]
    boot = summary.get("bootstrap", {})
    return [
        f"- **Normalised score**: (P − low) / (high − low), with low = {fmt(lo)} "
        f"({src.get('low', 'the untrained level')}) and high = {fmt(hi)} "
        f"({src.get('high', 'the target level')}). 0 is untrained, 1 is the target level.",
        "- **Area**: the area under the normalised curve divided by the length of the compared "
        "budget, i.e. the average normalised score over it. Higher means a better start, faster "
        "learning and/or a better end; the other metrics and each method's paragraph say which.",
        f"- **Jumpstart**: P(0) of the method minus P(0) of {base}: how much better the method is "
        "before any training on the target task.",
        f"- **Asymptotic gain**: mean return over the evaluation points in the last tenth of the "
        f"compared steps (0.9·T ≤ t ≤ T; here the {len(window)} of {len(grid)} points at "
        f"t = {', '.join(f'{int(t):,}' for t in window)}), method minus {base}: the difference "
        "at the end of training. A method compared on a shorter horizon uses the last tenth of "
        "its own.",
        f"- **Area ratio**: (area of the method − area of {base}) / area of {base}, per seed "
        f"pair. 0.25 means 25% more area. Undefined when {base}'s area is 0 or below.",
        f"- **Time-to-threshold ratio**: time for {base}'s seed-mean curve to first reach the "
        "threshold, divided by the method's time. Above 1 means the method got there sooner. A "
        "curve that never reaches the threshold is *censored*: its time is only known to exceed "
        "the budget, so the ratio is reported as a bound, not a number. A method already at the "
        f"threshold at t = 0 has an unbounded ratio (∞); if {base} is already there at t = 0 "
        "the ratio says nothing about speed and is reported as not informative. Bootstrap "
        "resamples in which a curve never gets there are kept, at their lowest possible ratio "
        "for the interval's lower end and their highest for its upper end.",
        f"- **P(improvement)**: the probability that a random seed of the method has a larger "
        f"area than a random seed of {base} (ties count half; Mann–Whitney U / (n·m)). 0.5 means "
        "no difference.",
        f"- **mean [lo, hi]**: the mean over seed pairs and its {boot.get('confidence', 0.95):.0%} "
        f"confidence interval from a paired percentile bootstrap over seeds "
        f"({boot.get('resamples', '?')} resamples, generator seed {boot.get('seed', '?')}). "
        "summary.json also holds the interquartile mean (IQM) of each per-pair metric: the mean "
        "of exactly the middle 50% of the seed pairs' values (with 5 seeds: the middle one and "
        "three quarters of each of its neighbours).",
    ]


def _equivalence_rule(summary: dict[str, Any]) -> str:
    """The equivalence test in the verdict rule's words ('' when the study set no margin)."""
    margin = (summary.get("verdict_rule") or {}).get("equivalence_margin")
    if margin is None:
        return ""
    return (
        f"This study also set an equivalence margin of ±{margin:.3g} normalised area (the "
        "average normalised score over the budget): for an inconclusive verdict, two one-sided "
        f"Welch tests (TOST, each at α = {ALPHA:g}) ask whether the difference is inside it, "
        "which holds when the 90% confidence interval of the difference lies within "
        "±margin. If it does, the method is *equivalent* to "
        f"{summary['baseline']} within the margin; if not, the report says how many seed pairs "
        "would show equivalence 80% of the time if the true difference were 0. The verdict word "
        "stays *inconclusive* either way. "
    )


def _how_to_read(summary: dict[str, Any]) -> list[str]:
    base = summary["baseline"]
    steps = summary.get("source_steps")
    origin = summary.get("source_steps_from")
    charged = "unknown here" if steps is None else f"{steps:,} here"
    charged += f", from {origin}" if steps is not None and origin else ""
    return [
        "## How to read this",
        "",
        f"Every method was trained on the target task with the same seeds as **{base}** (training "
        f"from scratch). Seed *k* of a method and seed *k* of {base} share environment seeds, "
        f"budget and evaluation grid: they form a *seed pair*. *P(t)* is the mean evaluation "
        "return after *t* target timesteps. A method is compared with "
        f"{base} up to the last step that all of their paired runs reached.",
        "",
        *_metric_lines(summary),
        "",
        "**Two accountings.** *Target-only* compares the curves step for step on the target "
        "task, ignoring what the source cost. *Total cost* charges every transfer method its "
        f"source training steps ({charged}): its curve is moved right by that many steps, with "
        f"the untrained level before, and compared with {base} over {base}'s own budget. There "
        "the jumpstart is not defined and the time to threshold includes the source steps.",
        "",
        f"**Verdict rule.** One test decides, on the target-only accounting: the per-seed areas "
        f"of the method and of {base} are compared with a two-sided Welch t-test (which does "
        f"not assume equal spreads). If p < {ALPHA:g} the verdict is *positive* when the method's "
        f"mean area is higher and *negative* when it is lower; otherwise, or when the test "
        "cannot be run (fewer than 2 seed pairs, no variation across seeds), it is "
        "*inconclusive*: the data do not show a difference, which is not proof that there is "
        "none. Then the report estimates how many seeds per method would detect the observed "
        "difference 80% of the time (Colas, Sigaud & Oudeyer, 2018). "
        f"{_equivalence_rule(summary)}Other metrics are shown, "
        "and those whose interval excludes no effect are pointed out, but they never change the "
        f"verdict: testing each of them too would raise the rate of false alarms. {CALIBRATION}",
        "",
        *design_paragraphs(summary),
        "**Curves from other tools.** Any folder of `target/<method>/seed_<k>/curve.csv` files "
        "(columns `timesteps,return_mean,return_std,episodes`, first row at t = 0, one method "
        "named `scratch`) can be analysed with `rltransfer report DIR`; an optional "
        "`DIR/study.yaml` may give `threshold`, `score_range: {low, high}`, "
        "`source.timesteps` (the source's cost, for the total-cost accounting) and "
        "`equivalence_margin` (the equivalence test). Optional columns "
        "`source_return_mean,source_return_std,source_episodes` (the return on the source task, "
        "from `eval.on_source`) add the forgetting section.",
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
    if summary.get("source_steps") is None:
        lines += ["", f"Total cost: not computed ({summary.get('total_cost_note')})."]
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
    if summary.get("comparisons"):
        lines += ["", "## Method against method", ""]
        lines += [
            "Each pair is decided by the verdict's own test (Welch, per-seed area under the "
            "normalised curve, α = 0.05, seeds both ran), with the second method in scratch's "
            "place.",
            "",
        ]
        lines += comparison_lines(summary["comparisons"])
    lines += [""] + looks_section(summary)
    lines += transfer_section(summary)
    lines += forgetting_section(summary)
    lines += source_tasks_section(summary)
    lines += sources_section(summary)
    lines += ["## Why each verdict", ""]
    for name in summary["methods"]:
        lines += method_paragraph(name, summary)
    lines += ["## Learning curves", "", "![Learning curves](curves.png)", ""]
    lines += ["## Every metric at a glance", "", "![Forest plot](forest.png)", ""]
    lines += _how_to_read(summary)
    return "\n".join(lines) + "\n"
