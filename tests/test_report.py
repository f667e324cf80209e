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
        assert set(m["tests"]["welch_area"]) == {"t", "p"}
        for key in METRICS + ("prob_improvement",):
            assert {"mean", "iqm", "ci"} <= set(m["metrics"][key]) and len(m["metrics"][key]["ci"])
        assert "censored" in m["metrics"]["time_to_threshold_ratio"]
    fin = s["methods"]["finetune"]
    assert fin["verdict"] == "positive" and s["methods"]["bad"]["verdict"] == "negative"
    assert fin["metrics"]["jumpstart"]["mean"] == pytest.approx(40, abs=5)
    lo, hi = fin["metrics"]["time_to_threshold_ratio"]["ci"]
    assert lo <= fin["metrics"]["time_to_threshold_ratio"]["mean"] <= hi
    assert fin["metrics"]["prob_improvement"]["mean"] == 1.0


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
    assert fin["tests"]["welch_area"] == {"t": None, "p": None}


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
    assert set(paths) == {"summary", "report", "curves"}
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
    assert not list((tmp_path / "out").glob(".*.tmp"))  # atomic writes left nothing behind


def test_render_report_table_has_one_row_per_method() -> None:
    md = render_report(analyze(_study(), study="toy", threshold=80.0))
    rows = [ln for ln in md.splitlines() if ln.startswith("| ")]
    assert len(rows) == 3  # header + finetune + bad
    assert any(r.startswith("| finetune | positive | 5 |") for r in rows)
