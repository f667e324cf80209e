"""`rltransfer report` on curves from elsewhere: only curve.csv files and an optional study.yaml."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rltransfer.analysis.curves import Curve, write_curve
from rltransfer.cli import main
from rltransfer.reanalysis import AnalysisOptions

GRID = np.arange(0, 11) * 100


def _write(root, method, seed, values):
    curve = Curve(GRID, np.asarray(values, float), np.zeros(len(values)), np.full(len(values), 5))
    write_curve(root / "target" / method / f"seed_{seed}" / "curve.csv", curve)


@pytest.fixture
def foreign(tmp_path):
    rng = np.random.default_rng(0)
    for seed in range(6):
        base = np.linspace(10, 100, len(GRID)) + rng.normal(0, 3, len(GRID))
        _write(tmp_path, "scratch", seed, base)
        _write(tmp_path, "warmstart", seed, np.minimum(base + 60, 150))
    return tmp_path


def test_report_on_curves_alone(foreign, capsys):
    assert main(["report", str(foreign), "--threshold", "90"]) == 0
    summary = json.loads((foreign / "summary.json").read_text())
    assert summary["study"] == foreign.name
    assert summary["threshold"] == 90
    assert summary["methods"]["warmstart"]["verdict"] == "positive"
    assert (foreign / "report.md").is_file()
    assert "warmstart: positive" in capsys.readouterr().out


def test_study_yaml_supplies_threshold_score_range_and_source_cost(foreign):
    (foreign / "study.yaml").write_text(
        "name: borrowed\nthreshold: 90\nscore_range: {low: 0, high: 150}\n"
        "source: {timesteps: 400}\nsomething_else: ignored\n"
    )
    options = AnalysisOptions.from_folder(foreign)
    assert options == AnalysisOptions("borrowed", 90.0, 0.0, 150.0, 400)
    assert main(["report", str(foreign)]) == 0
    summary = json.loads((foreign / "summary.json").read_text())
    assert summary["study"] == "borrowed"
    assert summary["score_range"] == {"low": 0.0, "high": 150.0}
    assert summary["source_steps"] == 400
    assert (
        summary["methods"]["warmstart"]["metrics_total_cost"]["area_ratio"]["mean"]
        < (summary["methods"]["warmstart"]["metrics"]["area_ratio"]["mean"])
    )


def test_bad_study_yaml_field_exits_2(foreign, capsys):
    (foreign / "study.yaml").write_text("threshold: high\n")
    assert main(["report", str(foreign)]) == 2
    assert "study.yaml: threshold: must be a number" in capsys.readouterr().err


def test_without_scratch_exits_2(tmp_path, capsys):
    _write(tmp_path, "warmstart", 0, np.linspace(0, 1, len(GRID)))
    assert main(["report", str(tmp_path)]) == 2
    assert "scratch" in capsys.readouterr().err


def test_a_damaged_multitask_source_curve_leaves_the_section_out(tmp_path):
    from rltransfer.analysis.source_tasks import source_tasks

    src = tmp_path / "source"
    src.mkdir()
    (src / "meta.json").write_text(
        '{"status": "complete", "tasks": [{"id": "a"}], "heads": "multi"}'
    )
    (src / "curve.csv").write_text("timesteps,task0_return_mean\nnot-a-number,1.0\n")
    assert source_tasks(tmp_path) is None
    (src / "curve.csv").write_text("timesteps,task0_return_mean,task0_return_std\n512,3.5,0.5\n")
    assert source_tasks(tmp_path)["tasks"][0]["final_return"] == 3.5
