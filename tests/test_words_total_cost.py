"""Total cost when the source steps use up the budget, and what the source really trained.

Hand-built curves (issue 14, item 5): the default study's grid, 21 points every 2,500 steps to
T = 50,000, a method that starts at 500 and scratch that reaches the threshold 475 at 35,000.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from rltransfer.analysis.curves import Curve, write_curve
from rltransfer.analysis.summary import analyze
from rltransfer.reanalysis import AnalysisOptions, analyse_study_dir, trained_source_steps
from rltransfer.report.markdown import render_report

GRID = np.arange(21) * 2500
THRESHOLD = 475.0


def _scratch(rng: np.random.Generator) -> np.ndarray:
    # 20 at t=0, rising linearly to 500 at 35,000, then flat; small per-seed noise
    return np.minimum(20 + GRID * (480 / 35000), 500.0) + rng.uniform(0, 3, GRID.size)


def _method(rng: np.random.Generator) -> np.ndarray:
    return np.full(GRID.size, 500.0) - rng.uniform(0, 3, GRID.size)


def _curves(seeds: int = 4) -> dict[str, dict[int, Curve]]:
    rng = np.random.default_rng(7)
    n = GRID.size

    def c(v: np.ndarray) -> Curve:
        return Curve(GRID, v, np.ones(n), np.full(n, 10))

    return {
        "scratch": {k: c(_scratch(rng)) for k in range(seeds)},
        "finetune": {k: c(_method(rng)) for k in range(seeds)},
    }


@pytest.mark.parametrize("source_steps", [50_000, 50_176])
def test_a_method_that_never_starts_has_no_asymptotic_gain_or_time_ratio(
    source_steps: int,
) -> None:
    s = analyze(_curves(), study="toy", threshold=THRESHOLD, source_steps=source_steps)
    json.dumps(s, allow_nan=False)
    total = s["methods"]["finetune"]["metrics_total_cost"]
    gain, ttt = total["asymptotic_gain"], total["time_to_threshold_ratio"]
    assert gain["mean"] is None and gain["ci"] == [None, None] and gain["never_starts"]
    assert ttt["mean"] is None and ttt["ci"] == [None, None] and ttt["never_starts"]
    assert ttt["lower_bound"] is None and ttt["upper_bound"] is None and not ttt["informative"]
    assert "never starts" in gain["note"] and "never starts" in ttt["note"]
    # the area is 0 (nothing of the method's curve lies in [0, T]): defined, with the note
    assert total["area_ratio"]["mean"] == pytest.approx(-1.0)
    assert total["prob_improvement"]["mean"] == 0.0
    # the report's table and paragraph show a dash, not a number from the point t = T
    text = render_report(s)
    row = next(r for r in text.splitlines() if r.startswith("| finetune | total cost |"))
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells[5] == "— (never starts)" and cells[7] == "— (never starts)"
    assert "time-to-threshold ratio — (never starts)" in text
    # target-only is untouched
    assert s["methods"]["finetune"]["metrics"]["asymptotic_gain"]["mean"] is not None


def test_a_method_starting_inside_the_asymptotic_window_has_no_asymptotic_gain() -> None:
    # window 45,000..50,000; a start at 46,000 would mix the charged untrained level into it
    late = analyze(_curves(), study="toy", threshold=THRESHOLD, source_steps=46_000)
    gain = late["methods"]["finetune"]["metrics_total_cost"]["asymptotic_gain"]
    assert gain["mean"] is None and "after the start of the asymptotic window" in gain["note"]
    ttt = late["methods"]["finetune"]["metrics_total_cost"]["time_to_threshold_ratio"]
    assert ttt["transfer_time"] == 46_000.0  # at the threshold from its own t=0
    # a start at 45,000 exactly is fine: every window point is on the method's own curve
    ok = analyze(_curves(), study="toy", threshold=THRESHOLD, source_steps=45_000)
    gain = ok["methods"]["finetune"]["metrics_total_cost"]["asymptotic_gain"]
    assert gain["mean"] is not None and gain["note"] is None


def _study_dir(root: Path, meta: dict | None) -> Path:
    for method, seeds in _curves().items():
        for k, curve in seeds.items():
            write_curve(root / "target" / method / f"seed_{k}" / "curve.csv", curve)
    (root / "study.yaml").write_text(f"threshold: {THRESHOLD}\nsource: {{timesteps: 50000}}\n")
    if meta is not None:
        (root / "source").mkdir()
        (root / "source" / "meta.json").write_text(json.dumps(meta))
    return root


def test_total_cost_charges_what_the_source_really_trained(tmp_path: Path) -> None:
    root = _study_dir(tmp_path, {"status": "complete", "env_steps_trained": 50_176})
    assert trained_source_steps(root, 50_000)[0] == 50_176
    summary, _, _ = analyse_study_dir(root, AnalysisOptions.from_folder(root))
    assert summary["source_steps"] == 50_176
    assert "env_steps_trained" in summary["source_steps_from"]
    assert "charged 50,176 source steps" in summary["total_cost_note"]
    assert "50,176 here, from env_steps_trained" in (root / "report.md").read_text()


@pytest.mark.parametrize(
    "meta",
    [None, {"status": "running", "env_steps_trained": 10}, {"status": "complete"}],
)
def test_total_cost_falls_back_to_the_nominal_source_steps(tmp_path: Path, meta) -> None:
    root = _study_dir(tmp_path, meta)
    steps, origin = trained_source_steps(root, 50_000)
    assert steps == 50_000 and origin.startswith("source.timesteps")
    assert trained_source_steps(root, None) == (None, None)
    summary, _, _ = analyse_study_dir(root, AnalysisOptions.from_folder(root))
    assert summary["source_steps"] == 50_000 and "nominal" in summary["source_steps_from"]
