"""Put each method's curves and the baseline's on one grid, seed pair by seed pair.

Seed ``k`` of every method uses the same environment seeds as seed ``k`` of the baseline, so a
*seed pair* is ``(method seed k, baseline seed k)``. Only seeds present for both are compared;
:func:`unpaired_seeds` lists the ones left out.

Grids are aligned per method, never globally. The *reference grid* is the baseline's (of its seed
whose curve ends last). For one method, the curves involved are its paired seeds and the
baseline's same seeds; their *horizon* ``H`` is the earliest last timestep among them.

- every grid equal to the reference: used as it is, no warning;
- grids that are prefixes of the reference (a run stopped early, a shorter budget): compared on
  the reference points up to ``H``, with a warning naming the runs that end early;
- grids with other points: each such curve is linearly interpolated onto the reference points up
  to ``H`` (plus ``H`` itself when it is not one of them), with a warning naming method, seed and
  grid.

A curve that does not start at t = 0, has fewer than 2 points, is not strictly increasing or holds
a non-finite return is rejected with a ``UserError`` naming its method and seed, as is a method
whose horizon is t = 0.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rltransfer.analysis.curves import Curve
from rltransfer.errors import UserError


@dataclass(frozen=True)
class Paired:
    """One method's seed pairs with the baseline on one grid.

    Attributes:
        method: the method's name.
        seeds: the S paired seeds, ascending; row ``k`` of both arrays is seed ``seeds[k]``.
        grid: shape (G,), int64, strictly increasing, ``grid[0] == 0``, ``grid[-1] == horizon``.
        transfer: shape (S, G), the method's returns on ``grid``.
        baseline: shape (S, G), the baseline's returns for the same seeds on ``grid``.
        budget: the last timestep of the longest of these curves (``>= horizon``).
        warnings: what was truncated or interpolated, in plain words.
    """

    method: str
    seeds: list[int]
    grid: np.ndarray
    transfer: np.ndarray
    baseline: np.ndarray
    budget: int
    warnings: tuple[str, ...] = ()

    @property
    def horizon(self) -> int:
        return int(self.grid[-1])


@dataclass(frozen=True)
class AlignedStudy:
    """A whole study, aligned.

    Attributes:
        baseline: the baseline's name.
        reference: shape (G_R,), the reference grid (the baseline's longest).
        baseline_seeds: all S_B baseline seeds, ascending.
        baseline_grid: shape (G_B,), the grid shared by all baseline seeds (their own horizon).
        baseline_returns: shape (S_B, G_B).
        pairs: ``{method: Paired}`` for every other method, in name order.
        warnings: every warning, deduplicated, in order.
    """

    baseline: str
    reference: np.ndarray
    baseline_seeds: list[int]
    baseline_grid: np.ndarray
    baseline_returns: np.ndarray
    pairs: dict[str, Paired]
    warnings: list[str] = field(default_factory=list)


def _checked(method: str, seed: int, curve: Curve) -> tuple[np.ndarray, np.ndarray]:
    """The curve's ``(timesteps int64 (G,), returns float64 (G,))`` after the basic checks."""
    who = f"method '{method}' seed {seed}"
    t = np.asarray(curve.timesteps)
    v = np.asarray(curve.return_mean, dtype=np.float64)
    if t.ndim != 1 or v.shape != t.shape:
        raise UserError(f"{who}: timesteps and return_mean must be 1-D arrays of the same length")
    if len(t) < 2:
        raise UserError(
            f"{who}: the evaluation grid has {len(t)} point(s); at least 2 are needed "
            "(t = 0 and one later step), so there is no horizon beyond t=0 to compare on"
        )
    if not np.all(np.isfinite(t)) or t[0] != 0:
        raise UserError(
            f"{who}: the evaluation grid starts at t={t[0]}, not at t=0; the return before any "
            "target training is needed (jumpstart, and the start of every curve)"
        )
    if np.any(np.diff(t) <= 0):
        raise UserError(f"{who}: timesteps must be strictly increasing")
    if not np.all(np.isfinite(v)):
        bad = int(t[np.flatnonzero(~np.isfinite(v))[0]])
        raise UserError(f"{who}: return_mean is not finite at t={bad}")
    return t.astype(np.int64), v


def _describe(grid: np.ndarray) -> str:
    return f"{len(grid)} points, t=0..{int(grid[-1]):,}"


def _on_reference(t: np.ndarray, ref: np.ndarray) -> bool:
    return len(t) <= len(ref) and bool(np.array_equal(t, ref[: len(t)]))


def _align_group(
    members: list[tuple[str, int, np.ndarray, np.ndarray]],
    ref: np.ndarray,
    ref_name: str,
    label: str,
) -> tuple[np.ndarray, list[np.ndarray], int, list[str]]:
    """Align checked curves ``(method, seed, t, v)`` onto the reference grid up to their horizon.

    Returns ``(grid (G,), [values (G,) per member], budget, warnings)``.
    """
    ends = [int(t[-1]) for _, _, t, _ in members]
    horizon, budget = min(ends), max(ends)
    grid = ref[ref <= horizon]
    if grid[-1] != horizon:
        grid = np.append(grid, np.int64(horizon))
    warnings = []
    values = []
    for method, seed, t, v in members:
        if not _on_reference(t, ref):
            warnings.append(
                f"{method} seed {seed}: evaluated at other timesteps ({_describe(t)}) than "
                f"{ref_name} ({_describe(ref)}); its returns were linearly interpolated onto "
                "that grid"
            )
        k = len(grid)
        if len(t) >= k and np.array_equal(t[:k], grid):
            values.append(v[:k].copy())
        else:
            values.append(np.interp(grid.astype(np.float64), t.astype(np.float64), v))
    if horizon < budget:
        early = [
            f"{m} seed {s} at t={e:,}"
            for (m, s, _, _), e in zip(members, ends, strict=True)
            if e < budget
        ]
        shown = "; ".join(early[:6]) + ("; ..." if len(early) > 6 else "")
        warnings.append(
            f"{label} on the first {horizon:,} of {budget:,} steps: {len(early)} run(s) end "
            f"early ({shown})"
        )
    return grid, values, budget, warnings


def unpaired_seeds(
    curves: dict[str, dict[int, Curve]], baseline: str = "scratch"
) -> dict[str, list[int]]:
    """Seeds of each non-baseline method that have no baseline run with the same seed.

    Returns ``{method: [seed, ...]}`` holding only methods with at least one such seed.
    """
    base = set(curves.get(baseline, {}))
    out = {}
    for method, runs in sorted(curves.items()):
        if method != baseline:
            missing = sorted(set(runs) - base)
            if missing:
                out[method] = missing
    return out


def align_study(curves: dict[str, dict[int, Curve]], baseline: str = "scratch") -> AlignedStudy:
    """Check every curve and align each method with the baseline (see the module docstring).

    Args:
        curves: ``{method: {seed: Curve}}``, as from ``load_study_curves``.
        baseline: the method every other one is compared with.

    Raises:
        UserError: the baseline is missing; a curve is malformed (naming method and seed); a
            method shares no seed with the baseline.
    """
    if not curves.get(baseline):
        have = ", ".join(sorted(curves)) or "none"
        raise UserError(
            f"the baseline method '{baseline}' has no curves (methods found: {have}); every method "
            f"is compared with '{baseline}' run on the same seeds"
        )
    checked = {
        m: {s: _checked(m, s, c) for s, c in sorted(runs.items())} for m, runs in curves.items()
    }
    base = checked[baseline]
    ref_seed = min(base, key=lambda s: (-int(base[s][0][-1]), -len(base[s][0]), s))
    ref = base[ref_seed][0]
    ref_name = f"{baseline} seed {ref_seed}"
    base_seeds = sorted(base)
    b_grid, b_vals, _, warnings = _align_group(
        [(baseline, s, *base[s]) for s in base_seeds],
        ref,
        ref_name,
        f"{baseline}'s own statistics computed",
    )
    pairs = {}
    for method in sorted(checked):
        if method == baseline:
            continue
        runs = checked[method]
        seeds = sorted(set(runs) & set(base))
        if not seeds:
            raise UserError(
                f"method '{method}' has no seed in common with '{baseline}' (its seeds: "
                f"{sorted(runs)}; {baseline}'s: {base_seeds}); results are compared seed by seed"
            )
        members = [(method, s, *runs[s]) for s in seeds] + [(baseline, s, *base[s]) for s in seeds]
        grid, vals, budget, w = _align_group(
            members, ref, ref_name, f"{method} compared with {baseline}"
        )
        n = len(seeds)
        pairs[method] = Paired(
            method, seeds, grid, np.stack(vals[:n]), np.stack(vals[n:]), budget, tuple(w)
        )
        warnings += w
    return AlignedStudy(
        baseline,
        ref,
        base_seeds,
        b_grid,
        np.stack(b_vals),
        pairs,
        list(dict.fromkeys(warnings)),
    )
