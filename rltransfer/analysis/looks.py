"""The verdict's test statistic, with replicated sources, and its sequential looks.

*Sources.* A seed pair's method run transfers from one source agent; pairs that share one are not
independent. ``groups`` maps each seed to its source (``rltransfer.config.replicas``):

- one source per pair (``paired``), or no ``groups`` (curves from another tool): the S per-pair
  areas are the units, as before;
- 1 < R < S sources: the method's areas are averaged per source first, so the test compares R
  independent source means with the baseline's S per-pair areas (the baseline uses no source);
- one source shared by every pair: the per-pair test, whose answer is *conditional on that one
  agent* (between-source variation is not in the data); ``shared`` says so.

*Looks* (sequential seeding, ``seeds: {min, max, step}``): look k uses the pairs among the first
``n_k`` seed ids of the study, aligned exactly as a study holding only those runs would be, and
rejects when Welch's p is below the look's nominal boundary
(``rltransfer.analysis.sequential``). The first rejecting look decides. Areas here are of the
raw returns (the normalised area is an affine map of them, which leaves Welch's t unchanged), so
the decisions taken while a study runs and those replayed later from its curves are the same
numbers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from rltransfer.analysis import metrics as M
from rltransfer.analysis.align import Paired, align_study
from rltransfer.analysis.curves import Curve
from rltransfer.analysis.stats import finite_or_none
from rltransfer.analysis.verdict import welch_batch


@dataclass(frozen=True)
class Units:
    """The test's units for one method: ``method`` (R or S values), ``baseline`` (S values)."""

    method: np.ndarray
    baseline: np.ndarray
    sources: int | None
    """Distinct source agents behind the pairs; None when unknown (no ``groups``)."""

    @property
    def shared(self) -> bool:
        """Every pair transferred from one source agent (and there are several pairs)."""
        return self.sources == 1 and len(self.baseline) > 1

    @property
    def by_source(self) -> bool:
        """The method's areas were averaged per source (1 < R < S)."""
        return self.sources is not None and 1 < self.sources < len(self.baseline)


def verdict_units(
    area_method: np.ndarray,
    area_baseline: np.ndarray,
    seeds: list[int],
    groups: dict[int, str] | None,
) -> Units:
    """The verdict's units from per-pair areas (S,) of ``seeds`` (see the module docstring)."""
    if groups is None:
        return Units(area_method, area_baseline, None)
    keys = [groups.get(s, f"seed {s}") for s in seeds]
    distinct = list(dict.fromkeys(keys))
    if len(distinct) in (1, len(keys)):
        return Units(area_method, area_baseline, len(distinct))
    means = np.array([area_method[[k == d for k in keys]].mean() for d in distinct])
    return Units(means, area_baseline, len(distinct))


@dataclass(frozen=True)
class LookPlan:
    """Sequential seeding as the analysis needs it: the study's seed ids in order, the seed
    pairs at each look and each look's nominal two-sided alpha."""

    seeds: list[int]
    looks: tuple[int, ...]
    boundaries: tuple[float, ...]
    spending: str
    alpha: float

    def describe(self) -> dict[str, Any]:
        """For ``summary.json``'s ``sequential``."""
        return {
            "looks": list(self.looks),
            "boundaries": list(self.boundaries),
            "spending": self.spending,
            "alpha": self.alpha,
            "seeds": list(self.seeds),
        }


def _raw_areas(pair: Paired) -> tuple[np.ndarray, np.ndarray]:
    return M.area(pair.transfer, pair.grid), M.area(pair.baseline, pair.grid)


def look_pair(
    curves: dict[str, dict[int, Curve]], method: str, baseline: str, ids: set[int]
) -> Paired | None:
    """``method``'s pairs with ``baseline`` among the seeds ``ids`` only, aligned as a folder
    holding only those runs would be; None when either side has no run there."""
    sub = {m: {s: c for s, c in curves.get(m, {}).items() if s in ids} for m in (method, baseline)}
    if not sub[baseline] or not sub[method]:
        return None
    return align_study(sub, baseline).pairs[method]


def method_looks(
    curves: dict[str, dict[int, Curve]],
    method: str,
    baseline: str,
    plan: LookPlan,
    groups: dict[int, str] | None = None,
) -> list[dict[str, Any]]:
    """Replay the looks of ``method`` against ``baseline``; stops at the first decision.

    ``curves``: ``{method: {seed: Curve}}`` (other methods are ignored); look k uses the seeds
    ``plan.seeds[:plan.looks[k]]``; ``groups``: each seed's source (see :func:`verdict_units`).

    Returns:
        ``[{"look", "planned_seeds", "seeds", "sources", "t", "p", "boundary", "decision"}]``
        for each look the curves reach (a later look is reached when the method has a run among
        its new seeds), ``decision`` in positive | negative | inconclusive.
    """
    out: list[dict[str, Any]] = []
    seeds, looks, boundaries = plan.seeds, plan.looks, plan.boundaries
    for k, n in enumerate(looks):
        ids = set(seeds[:n])
        new = set(seeds[looks[k - 1] : n]) if k else ids
        if not new & set(curves.get(method, {})):
            break  # the study did not get to this look
        pair = look_pair(curves, method, baseline, ids)
        if pair is None:
            break
        units = verdict_units(*_raw_areas(pair), pair.seeds, groups)
        t, p = (float(x) for x in welch_batch(units.method, units.baseline))
        decision = "inconclusive"
        if np.isfinite(p) and p < boundaries[k]:
            decision = "positive" if t > 0 else "negative"
        out.append(
            {
                "look": k + 1,
                "planned_seeds": n,
                "seeds": len(pair.seeds),
                "sources": units.sources,
                "t": finite_or_none(t),
                "p": finite_or_none(p),
                "boundary": boundaries[k],
                "decision": decision,
            }
        )
        if decision != "inconclusive":
            break
    return out


def decided_at(looks: list[dict[str, Any]]) -> int | None:
    """The seed ids (``planned_seeds``) of the look that decided, or None if none did."""
    last = looks[-1] if looks else None
    return last["planned_seeds"] if last and last["decision"] != "inconclusive" else None


def design_clauses(units: Units, looks: list[dict[str, Any]] | None, n_looks: int) -> list[str]:
    """Plain-words clauses on how the verdict was reached: the look that decided (sequential
    seeding) and what the sources allow it to claim."""
    out = []
    if looks:
        last = looks[-1]
        k, n, bound = last["look"], last["seeds"], last["boundary"]
        if last["decision"] != "inconclusive":
            out.append(
                f"decided at look {k} of {n_looks} ({n} seed pairs), where p had to be below "
                f"{bound:.3g} (a group-sequential boundary: over all looks the false-positive "
                "rate stays at most 5%)"
            )
        elif k == n_looks:
            out.append(f"still inconclusive after all {n_looks} looks ({n} seed pairs)")
        else:
            out.append(
                f"only {k} of {n_looks} looks were reached ({n} seed pairs): the study stopped "
                "before its last look, so this is not its final answer"
            )
    if units.shared:
        out.append(
            "conditional on a single source agent: every pair transferred from the same one, so "
            "between-source variation was not measured (source.replicas: paired measures it)"
        )
    if units.by_source:
        out.append(
            f"the {len(units.baseline)} pairs share {units.sources} source agents, so the "
            "method's areas were averaged per source before the test"
        )
    return out
