"""Time-to-threshold ratio: censored bootstrap resamples are kept, t = 0 cases are not evidence.

Hand-built curves on the grid t = 0, 10, 20 with threshold 8 (issue 14, item 5).
"""

from __future__ import annotations

import numpy as np
import pytest

from rltransfer.analysis import metrics as M
from rltransfer.analysis.accounting import time_ratio_metric
from rltransfer.analysis.curves import Curve
from rltransfer.analysis.stats import bounded_percentile_interval, percentile_interval
from rltransfer.analysis.summary import analyze
from rltransfer.analysis.text import fmt_metric
from rltransfer.report.markdown import render_report

GRID = np.array([0, 10, 20])
THRESHOLD = 8.0


def _curves(rows: list[list[float]]) -> dict[int, Curve]:
    n = len(GRID)
    return {
        k: Curve(GRID, np.asarray(r, dtype=np.float64), np.ones(n), np.full(n, 10))
        for k, r in enumerate(rows)
    }


def test_time_ratio_bounds_by_hand() -> None:
    inf = np.inf
    t_b = np.array([10.0, inf, 10.0, inf, 0.0, 0.0, 20.0])
    t_t = np.array([5.0, 10.0, inf, inf, 0.0, 10.0, 0.0])
    lower, upper = M.time_ratio_bounds(t_b, t_t, end=20.0)
    # known; baseline censored (> 20): [20/10, inf]; method censored: [0, 10/20]; both: [0, inf];
    # 0/0: [0, inf]; baseline at 0: 0; method at 0: inf
    np.testing.assert_array_equal(lower, [2.0, 2.0, 0.0, 0.0, 0.0, 0.0, inf])
    np.testing.assert_array_equal(upper, [2.0, inf, 0.5, inf, inf, 0.0, inf])
    # total cost: t_T + N_s; a censored method needs more than end + N_s
    lower, upper = M.time_ratio_bounds(np.array([10.0, 10.0]), np.array([5.0, inf]), 20.0, 30.0)
    np.testing.assert_array_equal(lower, [10 / 35, 0.0])
    np.testing.assert_array_equal(upper, [10 / 35, 10 / 50])


def test_bounded_interval_keeps_unknown_resamples() -> None:
    # 70 resamples at exactly 1, 30 whose ratio is unknown (both censored)
    value = np.array([1.0] * 70 + [np.nan] * 30)
    lower = np.where(np.isnan(value), 0.0, value)
    upper = np.where(np.isnan(value), np.inf, value)
    assert percentile_interval(value) == (1.0, 1.0)  # dropping them: ends at the point estimate
    assert bounded_percentile_interval(lower, upper) == (0.0, np.inf)
    # nothing unknown: the plain percentile interval
    x = np.arange(101.0)
    assert bounded_percentile_interval(x, x) == percentile_interval(x)


def test_censored_resamples_widen_the_interval_instead_of_vanishing() -> None:
    # Seed 0 reaches 10, seeds 1 and 2 stop at 7, for both methods: the seed-mean curves reach
    # 8 at t=10 (ratio 1), but a resample without seed 0 ((2/3)^3 = 8/27 of them) has both
    # mean curves at 7: both censored, ratio unknown.
    rows = [[0.0, 10.0, 10.0], [0.0, 7.0, 7.0], [0.0, 7.0, 7.0]]
    x = np.array(rows)
    n_res = 4000
    m = time_ratio_metric(
        x, x, GRID, THRESHOLD, np.random.default_rng(5), n_res, "scratch", "finetune"
    )
    assert m["case"] == "reached" and m["informative"] and m["mean"] == 1.0
    assert m["censored_resamples"] / n_res == pytest.approx(8 / 27, abs=0.03)
    assert m["ci"] == [0.0, None]  # [0, inf): not [1, 1]
    assert "censored or undefined" in m["note"] and "kept" in m["note"]
    # through analyze and the report
    s = analyze(
        {"scratch": _curves(rows), "finetune": _curves(rows)},
        study="toy",
        threshold=THRESHOLD,
        low=0.0,
        high=10.0,
    )
    ttt = s["methods"]["finetune"]["metrics"]["time_to_threshold_ratio"]
    assert ttt["ci"] == [0.0, None] and ttt["censored_resamples"] > 0
    assert fmt_metric(ttt) == "1 [0, ∞)"
    assert "bootstrap resamples censored or undefined" in render_report(s)


def test_no_censored_resamples_no_note() -> None:
    rng = np.random.default_rng(0)
    base = np.array([[0.0, 9.0, 9.0]] * 3) + rng.uniform(0, 0.5, (3, 3))
    tr = np.array([[0.0, 5.0, 9.0]] * 3) + rng.uniform(0, 0.5, (3, 3))
    m = time_ratio_metric(tr, base, GRID, THRESHOLD, np.random.default_rng(1), 500, "s", "m")
    assert m["mean"] == pytest.approx(0.5) and m["censored_resamples"] == 0
    assert m["note"] is None and m["ci"] == [0.5, 0.5]


def test_method_at_threshold_at_t0_is_unbounded_with_a_lower_end_and_not_evidence() -> None:
    # the method's mean is 8 at t=0 (10, 10, 4); scratch gets there at t=20. Resamples with two
    # or more copies of seed 2 start below 8 and reach at t=10: ratio 20/10 = 2.
    method = [[10.0, 9.0, 9.0], [10.0, 9.0, 9.0], [4.0, 9.0, 9.0]]
    scratch = [[0.0, 1.0, 9.0], [0.0, 2.0, 9.5], [0.0, 1.5, 8.5]]
    s = analyze(
        {"scratch": _curves(scratch), "finetune": _curves(method)},
        study="toy",
        threshold=THRESHOLD,
        low=0.0,
        high=10.0,
    )
    fin = s["methods"]["finetune"]
    ttt = fin["metrics"]["time_to_threshold_ratio"]
    assert ttt["case"] == "method at t=0" and not ttt["informative"]
    assert ttt["mean"] is None and ttt["transfer_time"] == 0.0 and ttt["baseline_time"] == 20.0
    assert ttt["ci"] == [2.0, None]  # 7/27 of the resamples give 2, the rest infinity
    assert fmt_metric(ttt) == "∞ (at the threshold at t=0) [2, ∞)"
    assert all(n["metric"] != "time_to_threshold_ratio" for n in fin["notable_metrics"])
    assert "time-to-threshold" not in fin["evidence"]


def test_scratch_at_threshold_at_t0_is_not_informative_and_not_cited() -> None:
    # an untrained scratch policy already scores 9 >= 8: every method gets ratio 0 however fast
    rng = np.random.default_rng(2)
    scratch = (np.array([[9.0, 9.0, 9.0]] * 4) + rng.uniform(0, 0.3, (4, 3))).tolist()
    method = (np.array([[0.0, 9.0, 9.0]] * 4) + rng.uniform(0, 0.3, (4, 3))).tolist()
    s = analyze(
        {"scratch": _curves(scratch), "finetune": _curves(method)},
        study="toy",
        threshold=THRESHOLD,
        low=0.0,
        high=10.0,
    )
    fin = s["methods"]["finetune"]
    ttt = fin["metrics"]["time_to_threshold_ratio"]
    assert ttt["case"] == "baseline at t=0" and not ttt["informative"]
    assert ttt["mean"] is None and ttt["ci"] == [None, None]
    assert "not informative" in ttt["note"]
    assert fmt_metric(ttt) == "not informative (baseline at the threshold at t=0)"
    assert all(n["metric"] != "time_to_threshold_ratio" for n in fin["notable_metrics"])
    assert "time-to-threshold ratio is clearly below 1" not in render_report(s)


def test_both_at_threshold_at_t0_is_undefined() -> None:
    x = np.array([[9.0, 9.0, 9.0], [9.5, 9.0, 9.0]])
    m = time_ratio_metric(x, x, GRID, THRESHOLD, np.random.default_rng(0), 100, "s", "m")
    assert m["case"] == "both at t=0" and m["mean"] is None and not m["informative"]
    assert fmt_metric(m) == "not informative (both at the threshold at t=0)"
