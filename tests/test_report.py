"""``analyze`` output contract and the written report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image as mpimg

from rltransfer.analysis.curves import Curve
from rltransfer.analysis.summary import analyze
from rltransfer.errors import UserError
from rltransfer.report import write_report
from rltransfer.report.markdown import render_report

GRID = np.arange(0, 21) * 500
METRICS = ("jumpstart", "asymptotic_gain", "area_ratio", "time_to_threshold_ratio")


def _curve(rng: np.random.Generator, rate: float, start: float = 0.0) -> Curve:
    r = start + (100.0 - start) * (1 - np.exp(-rate * GRID / 1000)) + rng.normal(0, 2, GRID.size)
    return Curve(GRID, r, np.ones(GRID.size), np.full(GRID.size, 10))


def _study(seeds: int = 5, extra: bool = False) -> dict[str, dict[int, Curve]]:
    rng = np.random.default_rng(0)
    curves = {
        "scratch": {k: _curve(rng, 0.2) for k in range(seeds)},
        "finetune": {k: _curve(rng, 0.6, 40.0) for k in range(seeds)},
        "bad": {k: _curve(rng, 0.05) for k in range(seeds)},
    }
    if extra:
        curves["other"] = {k: _curve(rng, 0.3) for k in range(seeds)}
    return curves


def test_analyze_contract_and_json() -> None:
    s = analyze(_study(), study="toy", threshold=80.0)
    json.dumps(s, allow_nan=False)
    assert {"study", "baseline", "threshold", "score_range", "grid", "methods"} <= set(s)
    assert s["baseline"] == "scratch" and s["threshold"] == 80.0 and s["grid"][0] == 0
    assert set(s["score_range"]) == {"low", "high"} and s["score_range"]["high"] == 80.0
    assert set(s["methods"]) == {"finetune", "bad"}  # the baseline is not a method
    assert {"seeds", "final_return", "area"} <= set(s["baseline_stats"])
    for m in s["methods"].values():
        assert {"verdict", "evidence", "seeds", "metrics", "tests", "final_return", "area"} <= set(
            m
        )
        assert {"t", "p", "alpha", "diff"} <= set(m["tests"]["welch_area"])
        assert m["metrics_total_cost"] is None and "seeds_needed" in m
        assert m["horizon"] == GRID[-1] and m["warnings"] == []
        for key in METRICS + ("prob_improvement",):
            assert {"mean", "iqm", "ci"} <= set(m["metrics"][key]) and len(m["metrics"][key]["ci"])
        assert "censored" in m["metrics"]["time_to_threshold_ratio"]
    fin = s["methods"]["finetune"]
    assert fin["verdict"] == "positive" and s["methods"]["bad"]["verdict"] == "negative"
    assert fin["metrics"]["jumpstart"]["mean"] == pytest.approx(40, abs=5)
    lo, hi = fin["metrics"]["time_to_threshold_ratio"]["ci"]
    assert lo <= fin["metrics"]["time_to_threshold_ratio"]["mean"] <= hi
    assert fin["metrics"]["prob_improvement"]["mean"] == 1.0
    assert s["source_steps"] is None and "not computed" in s["total_cost_note"]
    assert s["verdict_rule"]["accounting"] == "target-only"


def test_censoring_is_reported_not_hidden() -> None:
    s = analyze(_study(), study="toy", threshold=80.0)  # "bad" never gets there
    ttt = s["methods"]["bad"]["metrics"]["time_to_threshold_ratio"]
    assert ttt["mean"] is None and ttt["transfer_time"] is None
    assert ttt["censored"] == "bad never reached the threshold"
    assert 0 < ttt["upper_bound"] < 1
    s = analyze(_study(), study="toy", threshold=90.0)  # scratch tops out near 86
    ttt = s["methods"]["finetune"]["metrics"]["time_to_threshold_ratio"]
    assert ttt["mean"] is None and ttt["baseline_time"] is None
    assert ttt["censored"] == "scratch never reached the threshold"
    assert ttt["lower_bound"] == pytest.approx(GRID[-1] / ttt["transfer_time"])
    assert f"> {ttt['lower_bound']:.3g} (censored)" in render_report(s)
    s = analyze(_study(), study="toy", threshold=1000.0)
    ttt = s["methods"]["finetune"]["metrics"]["time_to_threshold_ratio"]
    assert ttt["mean"] is None and ttt["censored"] == "neither method reached the threshold"
    s = analyze(_study(), study="toy", threshold=None)
    ttt = s["methods"]["finetune"]["metrics"]["time_to_threshold_ratio"]
    assert ttt["mean"] is None and "no threshold" in ttt["note"]
    assert s["score_range"]["high"] == pytest.approx(
        max(np.max(c.return_mean) for r in _study().values() for c in r.values())
    )


def test_area_ratio_leaves_out_pairs_with_a_non_positive_baseline_area() -> None:
    curves = _study()
    for k, c in curves["scratch"].items():  # scratch gets worse than where it started
        curves["scratch"][k] = Curve(GRID, 50.0 - c.return_mean, c.return_std, c.episodes)
    s = analyze(curves, study="toy", threshold=80.0)
    ratio = s["methods"]["finetune"]["metrics"]["area_ratio"]
    assert ratio["mean"] is None and ratio["ci"] == [None, None]
    assert ratio["note"] == "5 of 5 seed pairs left out: baseline area <= 0"
    json.dumps(s, allow_nan=False)


def test_single_seed_gives_nulls_not_a_crash() -> None:
    s = analyze(_study(seeds=1), study="toy", threshold=80.0)
    json.dumps(s, allow_nan=False)
    fin = s["methods"]["finetune"]
    assert fin["verdict"] == "inconclusive" and "at least 2" in fin["evidence"]
    assert fin["metrics"]["jumpstart"]["ci"] == [None, None]
    assert fin["tests"]["welch_area"]["t"] is None and fin["tests"]["welch_area"]["p"] is None
    assert fin["seeds_needed"] is None


def test_bootstrap_depends_on_seed_and_not_on_other_methods() -> None:
    a = analyze(_study(), study="toy", threshold=80.0, seed=1)
    b = analyze(_study(), study="toy", threshold=80.0, seed=1)
    c = analyze(_study(), study="toy", threshold=80.0, seed=2)
    d = analyze(_study(extra=True), study="toy", threshold=80.0, seed=1)
    ci = [x["methods"]["finetune"]["metrics"]["jumpstart"]["ci"] for x in (a, b, c)]
    assert ci[0] == ci[1] and ci[0] != ci[2]
    assert a["methods"]["finetune"] == d["methods"]["finetune"]


def test_empty_score_range_is_a_user_error() -> None:
    with pytest.raises(UserError, match="score range"):
        analyze(_study(), study="toy", threshold=-50.0)


def test_write_report(tmp_path: Path) -> None:
    curves = _study()
    s = analyze(curves, study="toy", threshold=80.0)
    paths = write_report(tmp_path / "out", s, curves)
    assert set(paths) == {"summary", "report", "curves", "forest"}
    assert json.loads(paths["summary"].read_text()) == s
    md = paths["report"].read_text()
    assert md.startswith("# Transfer report: toy")
    assert "**finetune: positive transfer**" in md and "**bad: negative transfer**" in md
    assert "## How to read this" in md and "![Learning curves](curves.png)" in md
    assert "bad never reached the threshold" in md
    png = paths["curves"].read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(paths["curves"])
    assert img.ndim == 3 and img.shape[0] > 200 and img.shape[1] > 200
    forest = mpimg.imread(paths["forest"])
    assert forest.ndim == 3 and forest.shape[0] > 400 and forest.shape[1] > 400
    assert "![Forest plot](forest.png)" in md
    assert not list((tmp_path / "out").glob(".*.tmp"))  # atomic writes left nothing behind


def test_render_report_table_has_one_row_per_method() -> None:
    md = render_report(analyze(_study(), study="toy", threshold=80.0))
    rows = [ln for ln in md.splitlines() if ln.startswith("| ")]
    assert len(rows) == 3  # header + finetune + bad: no total-cost rows without source steps
    assert any(r.startswith("| finetune | target-only | positive | 5 |") for r in rows)
    assert "Total cost: not computed (source steps unknown" in md
    md = render_report(analyze(_study(), study="toy", threshold=80.0, source_steps=3000))
    rows = [ln for ln in md.splitlines() if ln.startswith("| ")]
    assert len(rows) == 5
    assert any(r.startswith("| finetune | total cost | (not used) | 5 | n/a |") for r in rows)
    assert "Total cost: not computed" not in md


G5 = np.array([0, 10, 20, 30, 40])


def _fixed(values: list[float]) -> Curve:
    return Curve(G5, np.asarray(values, dtype=float), np.zeros(5), np.full(5, 10))


def _tiny(source_steps: int | None) -> dict:
    """Hand-computable: scratch normalised (0, .5, 1, 1, 1), the method (0, .4, .8, 1, 1)."""
    curves = {
        "scratch": {k: _fixed([0, 5, 10, 10, 10]) for k in range(2)},
        "finetune": {k: _fixed([0, 4, 8, 10, 10]) for k in range(2)},
    }
    return analyze(
        curves, study="tiny", threshold=8.0, low=0.0, high=10.0, source_steps=source_steps
    )


def test_total_cost_metrics_by_hand() -> None:
    s = _tiny(20)
    json.dumps(s, allow_nan=False)
    assert s["source_steps"] == 20 and "charged 20 source steps" in s["total_cost_note"]
    only, total = (
        s["methods"]["finetune"]["metrics"],
        s["methods"]["finetune"]["metrics_total_cost"],
    )
    # target-only: areas 27/40 vs 30/40; both reach 8 at t=20
    assert only["area_ratio"]["mean"] == pytest.approx(-0.1)
    assert only["time_to_threshold_ratio"]["mean"] == pytest.approx(1.0)
    assert only["asymptotic_gain"]["mean"] == pytest.approx(0.0)
    # total cost, N_s = 20: the curve on [20, 40] is P(0..20) = 0 -> .4 -> .8 (area 8 of 40)
    assert total["jumpstart"]["mean"] is None and "not defined" in total["jumpstart"]["note"]
    assert total["area_ratio"]["mean"] == pytest.approx((0.2 - 0.75) / 0.75)
    assert total["asymptotic_gain"]["mean"] == pytest.approx(8.0 - 10.0)  # P(20) vs 10 at t=40
    ttt = total["time_to_threshold_ratio"]
    assert ttt["mean"] == pytest.approx(20 / (20 + 20))  # t_B / (t_T + N_s)
    assert ttt["transfer_time"] == 40.0 and ttt["baseline_time"] == 20.0
    assert total["prob_improvement"]["mean"] == 0.0
    assert set(total) == set(only)


def test_total_cost_censoring_and_a_source_longer_than_the_budget() -> None:
    total = _tiny(40)["methods"]["finetune"]["metrics_total_cost"]
    # N_s = T = 40: the method never starts within the budget. Its time t_T + N_s = 60 is exact,
    # but neither the time ratio nor the asymptotic gain is a number from the one point t = T.
    ttt = total["time_to_threshold_ratio"]
    assert ttt["mean"] is None and ttt["ci"] == [None, None] and ttt["never_starts"]
    assert ttt["transfer_time"] == 60.0 and ttt["case"] == "never starts"
    gain = total["asymptotic_gain"]
    assert gain["mean"] is None and gain["never_starts"] and "never starts" in gain["note"]
    assert total["area_ratio"]["mean"] == pytest.approx(-1.0)  # never started: area 0
    assert "never starts" in total["area_ratio"]["note"]
    s = analyze(
        {
            "scratch": {k: _fixed([0, 1, 2, 3, 4]) for k in range(2)},  # never reaches 8
            "finetune": {k: _fixed([0, 9, 9, 9, 9]) for k in range(2)},
        },
        study="tiny",
        threshold=8.0,
        low=0.0,
        high=10.0,
        source_steps=30,
    )
    ttt = s["methods"]["finetune"]["metrics_total_cost"]["time_to_threshold_ratio"]
    assert ttt["mean"] is None and ttt["censored"] == "scratch never reached the threshold"
    assert ttt["lower_bound"] == pytest.approx(40 / (10 + 30))  # censored at the budget


def test_source_steps_zero_matches_target_only_and_leaves_it_unchanged() -> None:
    curves = _study()
    a = analyze(curves, study="toy", threshold=80.0)
    b = analyze(curves, study="toy", threshold=80.0, source_steps=0)
    for name, m in b["methods"].items():
        assert m["metrics"] == a["methods"][name]["metrics"]  # own generator stream
        assert m["verdict"] == a["methods"][name]["verdict"]
        for key in ("asymptotic_gain", "area_ratio", "time_to_threshold_ratio", "prob_improvement"):
            assert m["metrics_total_cost"][key]["mean"] == pytest.approx(m["metrics"][key]["mean"])


@pytest.mark.parametrize("bad", [-1, 1.5, True, "100"])
def test_source_steps_must_be_a_whole_number(bad: object) -> None:
    with pytest.raises(UserError, match="source_steps"):
        analyze(_study(), study="toy", threshold=80.0, source_steps=bad)  # type: ignore[arg-type]


def test_other_clear_metrics_are_mentioned_but_do_not_change_the_verdict() -> None:
    rng = np.random.default_rng(4)
    fast_low = {  # starts far ahead, learns fast, but levels off below scratch (80 vs ~86)
        k: Curve(
            GRID,
            80 * (1 - 0.5 * np.exp(-GRID / 500)) + rng.normal(0, 1, GRID.size),
            np.ones(GRID.size),
            np.full(GRID.size, 10),
        )
        for k in range(5)
    }
    curves = {"scratch": _study()["scratch"], "fastlow": fast_low}
    m = analyze(curves, study="toy", threshold=None, high=100.0)["methods"]["fastlow"]
    assert m["verdict"] == "positive"  # more area: the single test decides
    notable = {n["metric"]: n for n in m["notable_metrics"]}
    assert notable["asymptotic_gain"]["direction"] == "negative"
    assert notable["asymptotic_gain"]["text"].startswith(
        "but its asymptotic gain is clearly negative"
    )
    assert notable["jumpstart"]["text"].startswith("its jumpstart is also clearly positive")
    assert "; but its asymptotic gain is clearly negative: -" in m["evidence"]
    assert "area_ratio" not in notable and "prob_improvement" not in notable


def test_inconclusive_says_how_many_seeds_would_resolve_it() -> None:
    rng = np.random.default_rng(11)
    curves = {
        "scratch": {k: _curve(rng, 0.2) for k in range(4)},
        "close": {k: _curve(rng, 0.21) for k in range(4)},
    }
    for k in range(4):  # seed-level spread so that a small difference stays unresolved
        for name in curves:
            c = curves[name][k]
            curves[name][k] = Curve(
                GRID, c.return_mean + rng.normal(0, 6), c.return_std, c.episodes
            )
    s = analyze(curves, study="toy", threshold=80.0)
    m = s["methods"]["close"]
    assert m["verdict"] == "inconclusive" and m["seeds_needed"] is not None
    assert m["seeds_needed"] > 4
    assert f"about {m['seeds_needed']} seeds per method would detect" in m["evidence"]
    md = render_report(s)
    assert "### close: inconclusive" in md
    assert f"about {m['seeds_needed']} seeds per method would detect" in md
    assert "This does not show that close and scratch are equal" in md


def test_report_explains_each_verdict_and_the_rule() -> None:
    curves = _study()
    curves["finetune"][2] = Curve(
        GRID[:15],
        *(
            x[:15]
            for x in (
                curves["finetune"][2].return_mean,
                curves["finetune"][2].return_std,
                curves["finetune"][2].episodes,
            )
        ),
    )
    s = analyze(curves, study="toy", threshold=80.0, source_steps=3000)
    md = render_report(s)
    para = md.split("### finetune: positive transfer", 1)[1].split("###", 1)[0]
    assert "two-sided Welch t-test" in para and "p<0.001" in para
    assert "over the first 7,000 target steps" in para
    assert "Note: finetune compared with scratch on the first 7,000 of 10,000 steps" in para
    assert "Charging finetune its 3,000 source steps (total cost)" in para
    assert "the verdict does not use this accounting" in para
    assert "**Verdict rule.** One test decides, on the target-only accounting" in md
    assert "4.4% of the time with 5 seeds" in md  # the measured calibration
    assert "`rltransfer report DIR`" in md and "`source.timesteps`" in md
    assert "`score_range: {low, high}`" in md


def test_forest_plot_copes_with_missing_and_censored_values(tmp_path: Path) -> None:
    from rltransfer.report.forest import plot_forest

    s = analyze(_study(), study="toy", threshold=90.0, source_steps=2000)  # scratch censored
    assert s["methods"]["finetune"]["metrics"]["time_to_threshold_ratio"]["lower_bound"]
    path = plot_forest(s, tmp_path / "f.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    s1 = analyze(_study(seeds=1), study="toy", threshold=None)  # no CI, no total cost
    img = mpimg.imread(plot_forest(s1, tmp_path / "g.png"))
    assert img.shape[0] > 300


def test_report_names_the_asymptotic_window_and_summary_records_it() -> None:
    s = analyze(_study(), study="toy", threshold=80.0)
    window = s["methods"]["finetune"]["metrics"]["asymptotic_gain"]["window"]
    assert window == {"from": 9000, "to": 10000, "points": 3}  # 0.9 T <= t <= T, T = 10,000
    text = render_report(s)
    assert "the 3 of 21 points at t = 9,000, 9,500, 10,000" in text
    assert "last 10% of the grid" not in text


def test_how_to_read_explains_the_time_ratio_edge_cases() -> None:
    text = render_report(analyze(_study(), study="toy", threshold=80.0))
    assert "has an unbounded ratio (∞)" in text and "reported as not informative" in text
    assert "Bootstrap resamples in which a curve never gets there are kept" in text
