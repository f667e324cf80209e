"""Transfer metrics and curve alignment, pinned on tiny hand-computed arrays."""

from __future__ import annotations

import numpy as np
import pytest

from rltransfer.analysis import metrics as M

GRID = np.array([0, 10, 20])
T = np.array([[1.0, 3.0, 5.0], [2.0, 4.0, 8.0]])
B = np.array([[0.0, 1.0, 2.0], [1.0, 1.0, 4.0]])


def test_jumpstart_per_pair() -> None:
    np.testing.assert_array_equal(M.jumpstart(T, B), [1.0, 1.0])
    np.testing.assert_array_equal(M.jumpstart(B, T), [-1.0, -1.0])


@pytest.mark.parametrize(("steps", "k"), [(1, 1), (5, 1), (9, 1), (10, 2), (19, 2), (20, 3)])
def test_asymptotic_window_is_the_last_tenth_of_the_steps(steps: int, k: int) -> None:
    # a uniform grid of n steps has floor(n / 10) + 1 points with 0.9 T <= t <= T
    grid = np.arange(steps + 1) * 2500
    w = M.asymptotic_window(grid)
    assert w.sum() == k and w[-1] and not w[: steps + 1 - k].any()


def test_asymptotic_window_of_the_default_grid_and_an_uneven_one() -> None:
    grid = np.arange(21) * 2500  # the default study: 21 points up to 50,000
    np.testing.assert_array_equal(grid[M.asymptotic_window(grid)], [45000, 47500, 50000])
    uneven = np.array([0, 3000, 44999, 45000, 48000, 50000])  # 45,000 is exactly 0.9 T
    np.testing.assert_array_equal(uneven[M.asymptotic_window(uneven)], [45000, 48000, 50000])


def test_asymptotic_gain_averages_the_window() -> None:
    np.testing.assert_array_equal(M.asymptotic_gain(T, B, GRID), [3.0, 4.0])  # t=20 only
    t = np.arange(21.0)[None, :]  # P_T(t) = t on 0..20: window t = 18, 19, 20
    b = np.zeros((1, 21))
    assert M.asymptotic_gain(t, b, np.arange(21))[0] == pytest.approx(19.0)


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


def test_iqm_is_the_mean_of_exactly_the_middle_half() -> None:
    # divisible by 4: whole values are trimmed, as scipy.stats.trim_mean (rliable) does
    assert M.iqm(np.array([[1, 2], [2, 2], [1, 1], [2, 1]])) == pytest.approx(1.5)
    assert M.iqm(np.array([0, 1, 2, 3, 4, 5, 6, 100])) == pytest.approx(3.5)
    # 5 seeds: the middle value fully, its neighbours 3/4 each (mass 2.5 of 5)
    assert M.iqm(np.array([100.0, 2.0, 8.0, 1.0, 4.0])) == pytest.approx(11.5 / 2.5)
    # 6 seeds: 1.5 values cut from each end; the 2nd and 5th count 1/2
    assert M.iqm(np.arange(6.0) ** 2) == pytest.approx((0.5 * 1 + 4 + 9 + 0.5 * 16) / 3)
    assert M.iqm(np.array([7.0])) == 7.0 and M.iqm(np.array([1.0, 3.0])) == 2.0


def test_iqm_equals_scipy_trim_mean_when_divisible_by_four() -> None:
    from scipy import stats

    rng = np.random.default_rng(3)
    for n in (4, 8, 12, 20):
        x = rng.normal(size=n)
        assert M.iqm(x) == pytest.approx(float(stats.trim_mean(x, 0.25)))
    x = rng.normal(size=5)  # not divisible: scipy keeps the middle 3 whole, we do not
    assert M.iqm(x) != pytest.approx(float(stats.trim_mean(x, 0.25)))


def test_interp_rows_is_np_interp_per_row() -> None:
    grid = np.array([0, 10, 40])
    vals = np.array([[0.0, 1.0, 4.0], [2.0, 2.0, -1.0]])
    x = np.array([0.0, 5.0, 10.0, 25.0, 40.0])
    got = M.interp_rows(x, grid, vals)
    np.testing.assert_allclose(got, [np.interp(x, grid, v) for v in vals])
    np.testing.assert_allclose(got[0], [0.0, 0.5, 1.0, 2.5, 4.0])


def test_shift_curves_places_the_curve_after_the_source_steps() -> None:
    grid = np.array([0, 10, 20, 30, 40])
    tr = np.array([[2.0, 4.0, 6.0, 8.0, 10.0]])
    # low (-1) before N_s = 15; at t >= 15 the curve at t - 15: 15 -> P(0), 25 -> P(10), ...
    got = M.shift_curves(tr, grid, 15.0, -1.0, np.array([0, 10, 15, 20, 30, 40]))
    np.testing.assert_allclose(got, [[-1.0, -1.0, 2.0, 3.0, 5.0, 7.0]])
    np.testing.assert_allclose(M.shift_curves(tr, grid, 0.0, -1.0, grid), tr)


GRID5 = np.array([0, 10, 20, 30, 40])
STEP = np.array([[0.0, 1.0, 1.0, 1.0, 1.0]])


@pytest.mark.parametrize(
    ("n_s", "expected"),
    [
        (0.0, 35 / 40),  # no shift: the ordinary area (5 + 30) / 40
        (10.0, 25 / 40),  # 0 on [0, 10), 0 -> 1 on [10, 20] (5), then 1 for 20 steps
        (5.0, 30 / 40),  # off the grid: 0 -> 1 on [5, 15] (5), then 1 for 25 steps
        (35.0, 1.25 / 40),  # only the first 5 steps of the climb fit: 5 * 0.25
        (40.0, 0.0),  # the source uses up the whole budget
        (90.0, 0.0),
    ],
)
def test_total_cost_area_is_the_exact_integral(n_s: float, expected: float) -> None:
    assert M.total_cost_area(STEP, GRID5, n_s)[0] == pytest.approx(expected)


def test_total_cost_area_has_a_step_not_a_ramp_at_the_source_cost() -> None:
    flat = np.full((1, 5), 0.5)
    # 0 before 15, then 0.5 for the remaining 25 steps; a ramp from 10 to 20 would give 12.5 + 2.5
    assert M.total_cost_area(flat, GRID5, 15.0)[0] == pytest.approx(0.5 * 25 / 40)
    np.testing.assert_allclose(M.total_cost_area(np.vstack([STEP, flat]), GRID5, 0.0), [0.875, 0.5])
