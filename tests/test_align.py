"""Alignment of curves with unequal lengths or grids: kept, truncated, interpolated or rejected."""

from __future__ import annotations

import numpy as np
import pytest

from rltransfer.analysis.align import align_study, unpaired_seeds
from rltransfer.analysis.curves import Curve
from rltransfer.analysis.summary import analyze
from rltransfer.errors import UserError

FULL = list(range(0, 50_001, 5_000))  # 11 points, 0..50,000


def _curve(grid: list[int], values: list[float] | np.ndarray | None = None) -> Curve:
    g = np.asarray(grid, dtype=np.int64)
    v = g / 1000.0 if values is None else np.asarray(values, dtype=float)
    return Curve(g, v, np.zeros(len(g)), np.full(len(g), 5))


def test_identical_grids_pass_through_without_warnings() -> None:
    curves = {
        "scratch": {0: _curve([0, 5, 10], [1, 2, 3]), 1: _curve([0, 5, 10], [0, 0, 0])},
        "finetune": {1: _curve([0, 5, 10], [4, 5, 6]), 7: _curve([0, 5, 10])},
    }
    a = align_study(curves)
    np.testing.assert_array_equal(a.reference, [0, 5, 10])
    np.testing.assert_array_equal(a.baseline_grid, [0, 5, 10])
    assert a.baseline_seeds == [0, 1] and a.warnings == []
    p = a.pairs["finetune"]
    assert p.seeds == [1]  # seed 7 has no scratch pair
    np.testing.assert_array_equal(p.transfer, [[4, 5, 6]])
    np.testing.assert_array_equal(p.baseline, [[0, 0, 0]])  # scratch's seed 1, not seed 0
    assert p.horizon == 10 and p.budget == 10 and p.warnings == ()
    assert unpaired_seeds(curves) == {"finetune": [7]}


def test_early_stopped_runs_use_the_common_prefix_per_method() -> None:
    curves = {
        "scratch": {k: _curve(FULL) for k in range(3)},
        "finetune": {0: _curve(FULL[:7]), 1: _curve(FULL[:7]), 2: _curve(FULL)},
        "other": {k: _curve(FULL, np.ones(11)) for k in range(3)},
    }
    a = align_study(curves)
    fin, other = a.pairs["finetune"], a.pairs["other"]
    np.testing.assert_array_equal(fin.grid, FULL[:7])
    assert fin.transfer.shape == (3, 7) and fin.baseline.shape == (3, 7)
    np.testing.assert_array_equal(fin.transfer[2], np.asarray(FULL[:7]) / 1000)  # exact values
    assert fin.horizon == 30_000 and fin.budget == 50_000
    assert fin.warnings == (
        "finetune compared with scratch on the first 30,000 of 50,000 steps: 2 run(s) end "
        "early (finetune seed 0 at t=30,000; finetune seed 1 at t=30,000)",
    )
    # not global: the other method keeps the whole budget and has nothing to report
    np.testing.assert_array_equal(other.grid, FULL)
    assert other.warnings == () and a.warnings == list(fin.warnings)


def test_an_early_scratch_run_only_shortens_the_methods_paired_with_it() -> None:
    curves = {
        "scratch": {0: _curve(FULL), 1: _curve(FULL), 2: _curve(FULL[:9])},
        "finetune": {k: _curve(FULL) for k in range(3)},
        "other": {k: _curve(FULL) for k in range(2)},  # no seed 2
    }
    a = align_study(curves)
    assert a.pairs["finetune"].horizon == 40_000
    assert "scratch seed 2 at t=40,000" in a.pairs["finetune"].warnings[0]
    assert a.pairs["other"].horizon == 50_000 and a.pairs["other"].warnings == ()
    assert a.baseline_grid[-1] == 40_000  # scratch's own statistics: all its seeds
    assert any(
        w.startswith("scratch's own statistics computed on the first 40,000") for w in a.warnings
    )


def test_other_grid_points_are_interpolated_onto_the_baseline_grid() -> None:
    curves = {
        "scratch": {0: _curve([0, 10, 20, 30, 40])},
        "finetune": {0: _curve([0, 15, 30, 40], [0.0, 3.0, 3.0, 7.0])},
    }
    p = align_study(curves).pairs["finetune"]
    np.testing.assert_array_equal(p.grid, [0, 10, 20, 30, 40])
    # 10 -> 2/3 of the way to 15: 2.0; 20 -> a third of 15..30: 3.0; 30 and 40 exact
    np.testing.assert_allclose(p.transfer, [[0.0, 2.0, 3.0, 3.0, 7.0]])
    assert p.warnings == (
        "finetune seed 0: evaluated at other timesteps (4 points, t=0..40) than scratch seed 0 "
        "(5 points, t=0..40); its returns were linearly interpolated onto that grid",
    )


def test_interpolation_within_a_shorter_horizon_ends_at_the_horizon() -> None:
    curves = {
        "scratch": {0: _curve([0, 10, 20, 30], [0.0, 1.0, 2.0, 4.0])},
        "finetune": {0: _curve([0, 15, 25], [0.0, 1.5, 2.5])},
    }
    p = align_study(curves).pairs["finetune"]
    np.testing.assert_array_equal(p.grid, [0, 10, 20, 25])  # the horizon itself is added
    np.testing.assert_allclose(p.transfer, [[0.0, 1.0, 2.0, 2.5]])
    np.testing.assert_allclose(p.baseline, [[0.0, 1.0, 2.0, 3.0]])  # halfway from 2 to 4
    assert len(p.warnings) == 2 and "first 25 of 30 steps" in p.warnings[1]


def test_reference_is_the_longest_baseline_grid() -> None:
    curves = {
        "scratch": {0: _curve([0, 10]), 1: _curve([0, 10, 20])},
        "finetune": {1: _curve([0, 10, 20])},
    }
    a = align_study(curves)
    np.testing.assert_array_equal(a.reference, [0, 10, 20])
    assert a.pairs["finetune"].horizon == 20 and a.pairs["finetune"].warnings == ()


@pytest.mark.parametrize(
    ("curve", "message"),
    [
        (_curve([5, 10]), r"'finetune' seed 3: .*starts at t=5, not at t=0"),
        (_curve([0]), r"'finetune' seed 3: .*1 point\(s\); at least 2 .*beyond t=0"),
        (_curve([0, 10, 10]), r"'finetune' seed 3: timesteps must be strictly increasing"),
        (_curve([0, 5, 10], [0.0, np.nan, 1.0]), r"'finetune' seed 3: .*not finite at t=5"),
        (_curve([0, 5, 10], [0.0, np.inf, 1.0]), r"'finetune' seed 3: .*not finite at t=5"),
    ],
)
def test_impossible_curves_are_rejected_naming_method_and_seed(curve: Curve, message: str) -> None:
    curves = {"scratch": {3: _curve([0, 5, 10])}, "finetune": {3: curve}}
    with pytest.raises(UserError, match=message):
        align_study(curves)


def test_align_rejects_missing_baseline_and_unpaired_methods() -> None:
    with pytest.raises(UserError, match="'scratch'"):
        align_study({"finetune": {0: _curve([0, 5])}})
    with pytest.raises(UserError, match="'finetune' has no seed in common"):
        align_study({"scratch": {0: _curve([0, 5])}, "finetune": {1: _curve([0, 5])}})
    with pytest.raises(UserError, match="'scratch' seed 0: .*not at t=0"):
        align_study({"scratch": {0: _curve([5, 10])}})


def _noisy(rng: np.random.Generator, grid: list[int], rate: float) -> Curve:
    g = np.asarray(grid)
    return _curve(grid, 100 * (1 - np.exp(-rate * g / 10_000)) + rng.normal(0, 3, len(g)))


def test_analyze_on_a_prefix_equals_analyze_on_truncated_curves() -> None:
    rng = np.random.default_rng(5)
    scratch = {k: _noisy(rng, FULL, 0.3) for k in range(4)}
    fin = {k: _noisy(rng, FULL, 0.8) for k in range(4)}
    fin[1] = _curve(FULL[:7], fin[1].return_mean[:7])  # stopped early at 30,000
    s = analyze({"scratch": scratch, "finetune": fin}, study="x", threshold=60.0, low=0, high=100)
    cut = {k: _curve(FULL[:7], c.return_mean[:7]) for k, c in scratch.items()}
    fin_cut = {k: _curve(FULL[:7], c.return_mean[:7]) for k, c in fin.items()}
    t = analyze({"scratch": cut, "finetune": fin_cut}, study="x", threshold=60.0, low=0, high=100)
    m, ref = s["methods"]["finetune"], t["methods"]["finetune"]
    assert m["metrics"] == ref["metrics"] and m["tests"] == ref["tests"]
    assert m["verdict"] == ref["verdict"] and m["horizon"] == 30_000 and m["budget"] == 50_000
    assert m["warnings"] == [
        "finetune compared with scratch on the first 30,000 of 50,000 steps: 1 run(s) end early "
        "(finetune seed 1 at t=30,000)"
    ]
    assert m["warnings"][0] in s["warnings"] and ref["warnings"] == []
    assert s["grid"] == FULL and s["baseline_stats"]["horizon"] == 50_000
