"""Put the curves of a study on one shared grid and pair each method's seeds with the baseline's.

Seed ``k`` of every method uses the same environment seeds, budget and evaluation grid as seed
``k`` of the baseline, so a *seed pair* is ``(method seed k, baseline seed k)``. Only seeds present
for both are compared; :func:`unpaired_seeds` lists the ones left out.
"""

from __future__ import annotations

import numpy as np

from rltransfer.analysis.curves import Curve
from rltransfer.errors import UserError


def _grid_mismatch(ref: np.ndarray, grid: np.ndarray) -> int | None:
    """First grid timestep (of ``grid``) where ``grid`` differs from ``ref``; ``None`` if equal."""
    n = min(len(ref), len(grid))
    diff = np.flatnonzero(ref[:n] != grid[:n])
    if diff.size:
        return int(grid[diff[0]])
    if len(ref) == len(grid):
        return None
    longer = ref if len(ref) > len(grid) else grid
    return int(longer[n])


def _check_curve(method: str, seed: int, curve: Curve, ref: np.ndarray, base: str) -> None:
    t = np.asarray(curve.timesteps)
    bad = _grid_mismatch(ref, t)
    if bad is not None:
        raise UserError(
            f"method '{method}' seed {seed}: its evaluation grid ({len(t)} points, last t={t[-1]}) "
            f"differs from the grid of '{base}' ({len(ref)} points, last t={ref[-1]}); first "
            f"differing timestep t={bad}. All runs of a study must be evaluated on the same grid."
        )
    if not np.all(np.isfinite(np.asarray(curve.return_mean, dtype=float))):
        raise UserError(
            f"method '{method}' seed {seed}: return_mean holds a value that is not finite"
        )


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


def align_curves(
    curves: dict[str, dict[int, Curve]], baseline: str = "scratch"
) -> tuple[np.ndarray, dict[str, dict[int, np.ndarray]]]:
    """Check that every curve shares the baseline's grid and return the aligned returns.

    Args:
        curves: ``{method: {seed: Curve}}``, as from ``load_study_curves``.
        baseline: the method every other one is compared with.

    Returns:
        ``(grid, returns)``: ``grid`` has shape (G,), int64, starting at t = 0; ``returns`` is
        ``{method: {seed: return_mean of shape (G,)}}``. The baseline keeps all its seeds; every
        other method keeps only the seeds the baseline also has (its seed pairs), in seed order.

    Raises:
        UserError: the baseline is missing; a grid differs from the baseline's (naming the method,
            the seed and the first differing timestep); the grid does not start at t = 0 or has
            fewer than 2 points; a method shares no seed with the baseline.
    """
    if not curves.get(baseline):
        have = ", ".join(sorted(curves)) or "none"
        raise UserError(
            f"the baseline method '{baseline}' has no curves (methods found: {have}); every method "
            f"is compared with '{baseline}' run on the same seeds"
        )
    base_runs = curves[baseline]
    first_seed = min(base_runs)
    grid = np.asarray(base_runs[first_seed].timesteps, dtype=np.int64)
    if len(grid) < 2:
        raise UserError(
            f"method '{baseline}' seed {first_seed}: the evaluation grid has {len(grid)} point(s); "
            "at least 2 are needed (t = 0 and one later step)"
        )
    if grid[0] != 0:
        raise UserError(
            f"method '{baseline}' seed {first_seed}: the evaluation grid starts at t={grid[0]}, "
            "not at t=0; the return before any target training is needed for the jumpstart"
        )
    out: dict[str, dict[int, np.ndarray]] = {}
    for method in sorted(curves):
        runs = curves[method]
        seeds = sorted(runs) if method == baseline else sorted(set(runs) & set(base_runs))
        if not seeds:
            raise UserError(
                f"method '{method}' has no seed in common with '{baseline}' (its seeds: "
                f"{sorted(runs)}; {baseline}'s: {sorted(base_runs)}); results are compared "
                "seed by seed"
            )
        for seed in sorted(runs):
            _check_curve(method, seed, runs[seed], grid, baseline)
        out[method] = {s: np.asarray(runs[s].return_mean, dtype=np.float64) for s in seeds}
    return grid, out


def stack(returns: dict[int, np.ndarray], seeds: list[int]) -> np.ndarray:
    """Stack per-seed return arrays into shape (S, G) in the order of ``seeds``."""
    return np.stack([returns[s] for s in seeds])
