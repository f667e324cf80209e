"""One plain-words paragraph per method: what the verdict compared, and what else to know."""

from __future__ import annotations

from typing import Any

from rltransfer.analysis.text import fmt, fmt_metric
from rltransfer.analysis.verdict import ALPHA, fmt_p, seeds_sentence


def _headline(verdict: str) -> str:
    return "inconclusive" if verdict == "inconclusive" else f"{verdict} transfer"


def headline(m: dict[str, Any], base: str) -> str:
    """The verdict word, and for an inconclusive one with an equivalence test its answer:
    ``"inconclusive, but equivalent to scratch within ±0.05"``."""
    eq = m.get("equivalence")
    if m["verdict"] != "inconclusive" or not eq:
        return _headline(m["verdict"])
    margin = f"±{eq['margin']:.3g}"
    if eq["result"] == "equivalent":
        return f"inconclusive, but equivalent to {base} within {margin}"
    return f"inconclusive, equivalence within {margin} not shown"


def _equivalence_sentences(name: str, m: dict[str, Any], base: str) -> list[str]:
    """The TOST of an inconclusive verdict in words (``[]`` when the study set no margin)."""
    eq = m.get("equivalence")
    if not eq:
        return []
    margin = eq["margin"]
    within = f"within ±{margin:.3g} normalised area (the study's `equivalence_margin`)"
    if eq.get("reason"):
        return [f"Equivalence {within} could not be tested either ({eq['reason']})."]
    lo, hi = eq["ci90"]
    ci = f"[{lo:.2g}, {hi:.2g}]"
    ps = f"one-sided {fmt_p(eq['p_lower'])} and {fmt_p(eq['p_upper'])}"
    if eq["result"] == "equivalent":
        return [
            f"Two one-sided tests (TOST, Welch, each at α = {eq['alpha']:g}) show {name} "
            f"equivalent to {base} {within}: the 90% confidence interval of the difference, "
            f"{ci}, lies inside ±{margin:.3g} ({ps}). Whatever difference there is, it is "
            "smaller than the margin the study set as negligible."
        ]
    n = eq.get("seeds_needed")
    if n is None:
        more = "more than 1000 seed pairs would be needed to show it"
    else:
        more = (
            f"about {n} seed pairs would show it {eq['power']:.0%} of the time if the true "
            f"difference were {eq['assumed_diff']:g} and the spread across seeds as observed"
        )
    diff = eq.get("diff")
    outside = ""
    if diff is not None and abs(diff) >= margin:
        outside = (
            f" The observed difference itself, {diff:+.2g}, is outside the margin, so more seeds "
            "may as well show a difference."
        )
    return [
        f"Nor could two one-sided tests (TOST, Welch, each at α = {eq['alpha']:g}) show {name} "
        f"equivalent to {base} {within}: the 90% confidence interval of the difference, {ci}, "
        f"is not inside ±{margin:.3g} ({ps}). The study is underpowered for this question: "
        f"{more}.{outside}"
    ]


def _test_sentences(name: str, m: dict[str, Any], base: str) -> list[str]:
    welch = m["tests"]["welch_area"]
    alpha = welch.get("alpha", ALPHA)
    n, horizon = m["seeds"], m.get("horizon")
    span = f"the first {horizon:,} target steps" if horizon is not None else "the training budget"
    seeds = f"{n} seed" + ("s" if n != 1 else "")
    out = [
        f"The verdict compares, seed by seed, the area under each run's normalised learning "
        f"curve, i.e. its average normalised score over {span}: {name} ({seeds}, mean "
        f"{fmt(m['area'])}) against {base} on the same seeds (mean {fmt(m.get('area_baseline'))})."
    ]
    if welch.get("p") is None:
        why = m["evidence"].split("no test: ", 1)[-1].rstrip(".")
        out.append(f"The two-sided Welch t-test could not be run ({why}), so it is inconclusive.")
        return out + _equivalence_sentences(name, m, base)
    diff = welch.get("diff") or 0.0
    verb = "is" if welch["p"] < alpha else "is not"
    out.append(
        f"A two-sided Welch t-test finds the difference of {diff:+.3g} (t = {fmt(welch['t'])}) "
        f"{'' if welch['p'] < alpha else 'not '}significant: {fmt_p(welch['p'])}, which {verb} "
        f"below {alpha:g}."
    )
    if m["verdict"] == "positive":
        out.append(
            f"So {name} scored higher than {base} on average over the target budget: a better "
            "start, faster learning and/or a better end."
        )
    elif m["verdict"] == "negative":
        out.append(
            f"So {name} scored lower than {base} on average over the target budget: a worse "
            "start, slower learning and/or a worse end."
        )
    elif (m.get("equivalence") or {}).get("result") == "equivalent":
        out.append(f"A difference that is not significant does not by itself show that {name}")
        out[-1] += f" and {base} are equal, but here a test of equivalence does."
        out += _equivalence_sentences(name, m, base)
    else:
        out.append(
            f"This does not show that {name} and {base} are equal: "
            f"{seeds_sentence(m.get('seeds_needed'), diff)}."
        )
        out += _equivalence_sentences(name, m, base)
    return out


def _course_sentences(name: str, m: dict[str, Any], summary: dict[str, Any]) -> list[str]:
    """The dip below the method's own start and a late return to the threshold, in words."""
    course, base = m.get("course") or {}, summary["baseline"]
    d, th = course.get("dip") or {}, course.get("threshold") or {}
    horizon = m.get("horizon")
    end = f"t = {horizon:,}" if horizon is not None else "the end"
    out = []
    if d.get("dipped"):
        lead = "That is not learning faster. T" if m["verdict"] == "positive" else "T"
        back = (
            f"it was back at its start by t = {d['recovered_at']:,}"
            if d.get("recovered_at") is not None
            else f"it had not got back to its start by {end}"
        )
        out.append(
            f"{lead}arget training first made {name} worse than it started: its mean return "
            f"fell from {fmt(d['start'])} at t = 0 (before any target training) to "
            f"{fmt(d['lowest'])} at t = {d['lowest_at']:,}, and {back} ({d['seeds_dipped']} of "
            f"{d['seeds']} seeds fell more than {d['tolerance']:.0%} of the score range below "
            "their own start)."
        )
    if th.get("late"):
        thr = fmt(summary.get("threshold"))
        first = th["first_reached"]
        when = "from t = 0" if first == 0 else f"at t = {first:,}"
        base_at = th["baseline_reached"]
        if th.get("back_at") is None:
            tail = f"and did not get back to it by {end}, while {base} reached it at t = "
            tail += f"{base_at:,}"
        else:
            tail = (
                f"and got back to it only at t = {th['back_at']:,}, after {base} first reached it "
                f"(t = {base_at:,})"
            )
        out.append(
            f"{name} reached the threshold ({thr}) {when}, fell below it at t = "
            f"{th['lost_at']:,} {tail}."
        )
    return out


def _notable_sentence(m: dict[str, Any]) -> list[str]:
    clauses = [n["text"].removeprefix("but ") for n in m.get("notable_metrics") or []]
    if not clauses:
        return []
    return ["Worth noting, though it does not change the verdict: " + "; ".join(clauses) + "."]


def _total_cost_sentence(name: str, m: dict[str, Any], summary: dict[str, Any]) -> list[str]:
    total, steps = m.get("metrics_total_cost"), summary.get("source_steps")
    if total is None or steps is None:
        return []
    return [
        f"Charging {name} its {steps:,} source steps (total cost), its area ratio is "
        f"{fmt_metric(total['area_ratio'])}, its P(improvement) "
        f"{fmt_metric(total['prob_improvement'])} and its time-to-threshold ratio "
        f"{fmt_metric(total['time_to_threshold_ratio'])}; the verdict does not use this "
        "accounting."
    ]


def method_paragraph(name: str, summary: dict[str, Any]) -> list[str]:
    """Markdown lines: a heading and one paragraph explaining the method's verdict."""
    m, base = summary["methods"][name], summary["baseline"]
    sentences = _test_sentences(name, m, base)
    sentences += _course_sentences(name, m, summary)
    sentences += _notable_sentence(m)
    sentences += _total_cost_sentence(name, m, summary)
    sentences += [f"Note: {w}." for w in m.get("warnings") or []]
    return [f"### {name}: {headline(m, base)}", "", " ".join(sentences), ""]
