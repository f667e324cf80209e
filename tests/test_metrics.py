"""Transfer metrics and curve alignment, pinned on tiny hand-computed arrays."""

from __future__ import annotations

import numpy as np
import pytest

from rltransfer.analysis import metrics as M
from rltransfer.analysis.align import align_curves, unpaired_seeds
from rltransfer.analysis.curves import Curve
from rltransfer.errors import UserError

GRID = np.array([0, 10, 20])
T = np.array([[1.0, 3.0, 5.0], [2.0, 4.0, 8.0]])
B = np.array([[0.0, 1.0, 2.0], [1.0, 1.0, 4.0]])


def test_jumpstart_per_pair() -> None:
    np.testing.assert_array_equal(M.jumpstart(T, B), [1.0, 1.0])
    np.testing.assert_array_equal(M.jumpstart(B, T), [-1.0, -1.0])


@pytest.mark.parametrize(("g", "k"), [(1, 1), (3, 1), (10, 1), (11, 2), (20, 2), (30, 3)])
def test_tail_length_is_ceil_of_ten_percent(g: int, k: int) -> None:
    assert M.tail_length(g) == k


def test_asymptotic_gain_uses_last_ten_percent() -> None:
    np.testing.assert_array_equal(M.asymptotic_gain(T, B), [3.0, 4.0])
    t = np.arange(20.0)[None, :]
    b = np.zeros((1, 20))
    assert M.asymptotic_gain(t, b)[0] == pytest.approx(18.5)  # mean of 18 and 19


def test_score_range_defaults_and_overrides() -> None:
    base = np.array([[0.0, 5.0], [2.0, 7.0]])
    everything = np.array([0.0, 5.0, 2.0, 7.0, 9.0])
    assert M.score_range(base, everything, threshold=6.0) == (1.0, 6.0)
    assert M.score_range(base, everything, threshold=None) == (1.0, 9.0)
    assert M.score_range(base, everything, threshold=6.0, low=-1.0, high=3.0) == (-1.0, 3.0)


def test_normalise_and_area() -> None:
    np.testing.assert_allclose(M.normalise(np.array([10.0, 20.0, 30.0]), 10.0, 30.0), [0, 0.5, 1])
    assert M.area(np.array([0.0, 0.5, 1.0]), GRID) == pytest.approx(0.5)
    # non-uniform grid: (0+1)/2*10 + 1*30 = 35 over a span of 40
    assert M.area(np.array([0.0, 1.0, 1.0]), np.array([0, 10, 40])) == pytest.approx(0.875)
    np.testing.assert_allclose(
        M.area(np.array([[1.0, 1.0, 1.0], [0.0, 0.0, 1.0]]), GRID), [1, 0.25]
    )


def test_area_ratio_guards_a_non_positive_baseline() -> None:
    r = M.area_ratio(np.array([0.6, 0.5, 0.3]), np.array([0.4, 0.0, -0.1]))
    assert r[0] == pytest.approx(0.5)
    assert np.isnan(r[1]) and np.isnan(r[2])


def test_time_to_threshold_first_crossing_and_censoring() -> None:
    curves = np.array([[0.0, 1.0, 2.0], [0.0, 3.0, 3.0], [0.0, 0.0, 0.0], [2.0, 0.0, 0.0]])
    times = M.time_to_threshold(curves, GRID, 2.0)
    np.testing.assert_array_equal(times, [20.0, 10.0, np.inf, 0.0])
    assert M.time_to_threshold(np.array([0.0, 1.0, 1.0]), GRID, 5.0) == np.inf  # not the budget


def test_time_ratio_cases() -> None:
    r = M.time_ratio(np.array([20.0, np.inf, 10.0, np.inf]), np.array([10.0, 10.0, np.inf, np.inf]))
    assert r[0] == 2.0 and r[1] == np.inf and r[2] == 0.0 and np.isnan(r[3])


def test_prob_improvement_counts_ties_as_half() -> None:
    # pairs x>y: 1>0; 2>0, 2=2 (half); 3>0, 3>2 -> 1 + 1.5 + 2 = 4.5 of 9
    assert M.prob_improvement(np.array([1, 2, 3]), np.array([0, 2, 4])) == pytest.approx(0.5)
    # 1>0; 2>0 and two ties; 3 beats all -> 1 + 2 + 3 = 6 of 9
    assert M.prob_improvement(np.array([1, 2, 3]), np.array([0, 2, 2])) == pytest.approx(2 / 3)
    assert M.prob_improvement(np.array([5.0]), np.array([1.0])) == 1.0


def test_prob_improvement_batch_matches_scipy_version() -> None:
    rng = np.random.default_rng(0)
    x = rng.integers(0, 4, size=(6, 5)).astype(float)
    y = rng.integers(0, 4, size=(6, 5)).astype(float)
    batch = M.prob_improvement_batch(x, y)
    np.testing.assert_allclose(batch, [M.prob_improvement(a, b) for a, b in zip(x, y, strict=True)])


def test_iqm() -> None:
    assert M.iqm(np.array([[1, 2], [2, 2], [1, 1], [2, 1]])) == pytest.approx(1.5)
    assert M.iqm(np.array([0, 1, 2, 3, 4, 5, 6, 100])) == pytest.approx(3.5)


def _curve(grid: list[int], values: list[float] | None = None) -> Curve:
    g = np.asarray(grid, dtype=np.int64)
    v = np.zeros(len(g)) if values is None else np.asarray(values, dtype=float)
    return Curve(g, v, np.zeros(len(g)), np.full(len(g), 5))


def test_align_returns_grid_and_paired_seeds() -> None:
    curves = {
        "scratch": {0: _curve([0, 5, 10], [1, 2, 3]), 1: _curve([0, 5, 10])},
        "finetune": {1: _curve([0, 5, 10], [4, 5, 6]), 7: _curve([0, 5, 10])},
    }
    grid, ret = align_curves(curves)
    np.testing.assert_array_equal(grid, [0, 5, 10])
    assert sorted(ret["scratch"]) == [0, 1]
    assert sorted(ret["finetune"]) == [1]  # seed 7 has no scratch pair
    np.testing.assert_array_equal(ret["finetune"][1], [4, 5, 6])
    assert unpaired_seeds(curves) == {"finetune": [7]}


def test_misaligned_grid_names_method_seed_and_timestep() -> None:
    curves = {"scratch": {0: _curve([0, 5, 10])}, "finetune": {0: _curve([0, 6, 10])}}
    with pytest.raises(UserError, match=r"'finetune' seed 0.*t=6"):
        align_curves(curves)


def test_shorter_grid_is_rejected_not_truncated() -> None:
    curves = {"scratch": {0: _curve([0, 5, 10])}, "finetune": {3: _curve([0, 5])}}
    curves["scratch"][3] = _curve([0, 5, 10])
    with pytest.raises(UserError, match=r"'finetune' seed 3.*t=10"):
        align_curves(curves)


def test_align_rejects_missing_baseline_and_unpaired_methods() -> None:
    with pytest.raises(UserError, match="'scratch'"):
        align_curves({"finetune": {0: _curve([0, 5])}})
    with pytest.raises(UserError, match="'finetune' has no seed in common"):
        align_curves({"scratch": {0: _curve([0, 5])}, "finetune": {1: _curve([0, 5])}})


def test_align_rejects_grids_not_starting_at_zero_or_too_short() -> None:
    with pytest.raises(UserError, match="t=0"):
        align_curves({"scratch": {0: _curve([5, 10])}})
    with pytest.raises(UserError, match="at least 2"):
        align_curves({"scratch": {0: _curve([0])}})
