"""Optional sections of ``report.md``: what each method transferred, forgetting, source tasks.

Each function returns Markdown lines, or ``[]`` when the summary holds nothing for it.
"""

from __future__ import annotations

from typing import Any

from rltransfer.analysis.text import fmt, fmt_metric
from rltransfer.analysis.transfer_summary import TransferSummary


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:.3g}%"


def _ratio(n: int | None, total: int | None) -> str:
    if n is None:
        return "—"
    return str(n) if total is None else f"{n}/{total}"


def _cell(text: str | None) -> str:
    return "—" if not text else text.replace("|", "\\|")


def transfer_section(summary: dict[str, Any]) -> list[str]:
    """ "What each method transferred": a table from each method's ``transfer`` record."""
    rows = {n: m["transfer"] for n, m in summary["methods"].items() if m.get("transfer")}
    if not rows:
        return []
    head = (
        "Method",
        "Transferred",
        "Tensors loaded",
        "Parameters loaded",
        "Frozen",
        "Re-initialised",
        "Skipped",
        "Normalisation",
        "Reset",
        "Layer groups",
    )
    lines = [
        "## What each method transferred",
        "",
        "From the runs' `meta.json`. Tensors loaded: source tensors copied into the target model, "
        "out of those the source offered. Parameters: % of the target model's scalar parameters "
        "(— when the method does not record them).",
        "",
        "| " + " | ".join(head) + " |",
        "|" + "---|" * len(head),
    ]
    notes = []
    for name, block in rows.items():
        t = TransferSummary.from_json(block)
        pct = t.percent
        cells = [
            name,
            _cell(t.transferred),
            _ratio(t.tensors.loaded, t.tensors.offered),
            _pct(pct.get("loaded")),
            _pct(pct.get("frozen")),
            _pct(pct.get("reinitialised")),
            str(t.skipped.count),
            _cell(t.normalization),
            _cell(", ".join(t.reset)),
            _cell(t.groups),
        ]
        lines.append("| " + " | ".join(cells) + " |")
        if t.skipped.reasons:
            why = "; ".join(
                f"{r} ({n} tensor{'s' if n != 1 else ''})" for r, n in t.skipped.reasons.items()
            )
            notes.append(f"- {name} skipped {t.skipped.count} source tensor(s): {why}.")
        if t.adapters:
            notes.append(f"- {name} added: {', '.join(t.adapters)}.")
        if t.note:
            notes.append(f"- {name}: {t.note}.")
        steps = t.distillation_steps
        if steps is not None or "distillation" in (t.transferred or ""):
            n = f"{steps:,} " if steps is not None else ""
            notes.append(
                f"- {name}: its {n}distillation env steps count toward its budget (its curve "
                "includes them), so it is compared with the baseline at equal env steps."
            )
    return lines + ([""] + notes if notes else []) + [""]


def _forgetting_sentence(name: str, f: dict[str, Any], base: str) -> str:
    if not f.get("seeds"):
        return f"- **{name}**: no source evaluation to compare ({f.get('note')})."
    drop = (f.get("drop") or {}).get("mean")
    text = (
        f"- **{name}** ({f['seeds']} seeds): source return {fmt(f.get('start'))} at t = 0, "
        f"{fmt(f.get('end'))} after {f.get('horizon', 0):,} target steps, a drop of "
        f"{fmt_metric(f.get('drop'))}"
    )
    text += " (it gained on the source)." if drop is not None and drop < 0 else "."
    vs = f.get("vs_baseline")
    if vs is not None:
        lo, hi = (vs.get("ci") or [None, None])[:2]
        text += (
            f" {base} on the same seeds went from {fmt(f.get('baseline_start'))} to "
            f"{fmt(f.get('baseline_end'))}. {name}'s drop minus {base}'s: {fmt_metric(vs)}"
        )
        if lo is not None and hi is not None and (lo > 0 or hi < 0):
            more = "more" if lo > 0 else "less"
            text += f"; the interval excludes 0: {name} lost {more} on the source than {base}."
        else:
            text += f"; the interval includes 0: no clear difference from {base}."
    return text + "".join(f" Note: {n}." for n in [f.get("note"), *f.get("warnings", [])] if n)


def forgetting_section(summary: dict[str, Any]) -> list[str]:
    """ "Forgetting (return on the source task)": per method start, end, drop and the paired
    difference with scratch, in plain words."""
    rows = {n: m["forgetting"] for n, m in summary["methods"].items() if m.get("forgetting")}
    if not rows:
        return []
    base = summary["baseline"]
    lines = [
        "## Forgetting (return on the source task)",
        "",
        f"Every target run, {base} too, was also evaluated on the source task at each grid point, "
        "with the same evaluation episodes. The drop is the source return at t = 0 minus the one "
        f"at the end (positive: forgotten). It is compared seed by seed with {base}'s drop, "
        "mean [95% bootstrap CI]. Returns are raw: the score range is defined on the target task. "
        "These numbers describe the source task only; they never change a verdict.",
        "",
    ]
    lines += [_forgetting_sentence(name, f, base) for name, f in rows.items()]
    return lines + ["", "![Curves on the source task](curves_source.png)", ""]


def source_tasks_section(summary: dict[str, Any]) -> list[str]:
    """ "Source tasks": a multi-task source's final return on each of its tasks."""
    st = summary.get("source_tasks")
    if not st or not st.get("tasks"):
        return []
    lines = [
        "## Source tasks",
        "",
        f"The source agent was trained on {len(st['tasks'])} tasks at once "
        f"({st.get('timesteps'):,} env steps in all, split evenly; `{st.get('heads')}` output "
        "layers, shared encoder and hidden layers). Its return on each task at the end of "
        "source training, mean ± std over the evaluation episodes:",
        "",
        "| Task | Environment | Final return |",
        "|---|---|---|",
    ]
    for k, t in enumerate(st["tasks"]):
        env = t.get("env") or {}
        kwargs = ", ".join(f"{a}={b}" for a, b in (env.get("kwargs") or {}).items())
        name = _cell(f"{env.get('id')}" + (f" ({kwargs})" if kwargs else ""))
        lines.append(f"| {k} | {name} | {fmt(t.get('final_return'))} ± {fmt(t.get('final_std'))} |")
    return lines + [""]
