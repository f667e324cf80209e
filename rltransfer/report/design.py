"""The report's words on the study's design: its source agents and its sequential looks.

``looks_section`` is the table of every look (``methods.NAME.looks``) when the study used
sequential seeding; ``design_paragraphs`` explains, for "How to read this", what replicated
sources and the group-sequential rule mean.
"""

from __future__ import annotations

from typing import Any

from rltransfer.analysis.text import fmt
from rltransfer.analysis.verdict import fmt_p


def looks_section(summary: dict[str, Any]) -> list[str]:
    """``## Sequential looks``: per method, each look's seed pairs, p, boundary and decision."""
    seq = summary.get("sequential")
    if not seq:
        return []
    looks = seq["looks"]
    lines = [
        "## Sequential looks",
        "",
        f"Seeds were added in looks of {', '.join(str(n) for n in looks)} seed pairs. At each "
        "look a method is decided when Welch's p is below that look's boundary; a decided "
        "method trains no more seeds, and its numbers above are those of the deciding look.",
        "",
        "| method | look | seed pairs | sources | t | p | boundary | decision |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, m in summary["methods"].items():
        for x in m.get("looks") or []:
            p = "—" if x["p"] is None else fmt_p(x["p"])
            lines.append(
                f"| {name} | {x['look']} of {len(looks)} | {x['seeds']} | "
                f"{x['sources'] if x['sources'] is not None else '—'} | {fmt(x['t'])} | {p} | "
                f"{x['boundary']:.3g} | {x['decision']} |"
            )
    return [*lines, ""]


def design_paragraphs(summary: dict[str, Any]) -> list[str]:
    """ "How to read this" paragraphs on the sources and, when used, the sequential rule."""
    counts = {m.get("sources") for m in summary["methods"].values()} - {None}
    pairs = {m.get("seeds") for m in summary["methods"].values()}
    out = []
    if counts:
        if counts == {1} and pairs != {1}:
            how = (
                "Here every pair of a method transferred from one shared source agent, so each "
                "verdict is conditional on that agent: another source, trained the same way "
                "with another seed, may transfer differently, and this study did not measure "
                "by how much."
            )
        else:
            how = (
                "Here the pairs transferred from their own source agents (or from a few shared "
                "round-robin, whose pairs are averaged per source before the test, so each "
                "source counts once), so the verdict's uncertainty includes the source's own "
                "randomness."
            )
        out += [
            "**Source agents.** A source agent is itself one draw of a random training run: two "
            "sources trained alike can transfer very differently (one scoring at the target "
            "level zero-shot, the next no better than an untrained policy). A verdict meant to "
            "hold when the study is re-run elsewhere must count that variation. " + how,
            "",
        ]
    seq = summary.get("sequential")
    if seq:
        bounds = ", ".join(f"{b:.3g}" for b in seq["boundaries"])
        out += [
            "**Sequential seeding.** The study trained the first "
            f"{seq['looks'][0]} seed pairs and decided; while a method was inconclusive it "
            f"added more, up to {seq['looks'][-1]}. Testing at α = {seq['alpha']:g} at every "
            "look would call a difference that is not there far more often than 5%, so each "
            f"look has a stricter boundary for p ({bounds}), from the '{seq['spending']}' "
            "alpha-spending function (Lan–DeMets): over all looks together, the chance of a "
            f"positive or negative verdict with no true difference stays at most {seq['alpha']:g}. "
            "`rltransfer report` replays the same looks from the curves alone.",
            "",
        ]
    return out
