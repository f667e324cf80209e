"""Method against method: ``compare: [[A, B]]`` decides A against B with the verdict's own test,
in summary.json and report.md, and recomputed by ``rltransfer report``."""

from __future__ import annotations

import json

import numpy as np
import yaml

from rltransfer.analysis.comparisons import compare_methods
from rltransfer.analysis.curves import Curve, write_curve
from rltransfer.analysis.summary import analyze
from rltransfer.analysis.verdict import welch_batch
from rltransfer.cli import main

GRID = np.arange(0, 1001, 100)


def _curves(rate: float, seeds: int = 5, offset: int = 0) -> dict[int, Curve]:
    rng = np.random.default_rng(offset)
    out = {}
    for k in range(seeds):
        r = 100 * (1 - np.exp(-rate * GRID / 1000)) + rng.normal(0, 2, GRID.size)
        out[k] = Curve(GRID, r, np.ones(GRID.size), np.full(GRID.size, 10))
    return out


def _study() -> dict[str, dict[int, Curve]]:
    return {"scratch": _curves(1.0, offset=1), "multi": _curves(4.0, offset=2),
            "single": _curves(2.0, offset=3), "same": _curves(4.0, offset=4)}  # fmt: skip


def test_a_pair_is_decided_by_welch_on_per_seed_areas():
    curves = _study()
    summary = analyze(curves, study="s", threshold=None, low=0.0, high=100.0,
                      compare=[["multi", "single"], ["multi", "same"]])  # fmt: skip
    first, second = summary["comparisons"]
    assert (first["a"], first["b"], first["seeds"]) == ("multi", "single", 5)
    assert first["verdict"] == "positive" and first["p"] < 0.05
    assert second["verdict"] == "inconclusive"
    # the same test as the verdicts: recompute p from the areas by hand
    areas = {
        m: np.array(
            [np.trapezoid(c.return_mean / 100.0, GRID) / GRID[-1] for c in curves[m].values()]
        )
        for m in ("multi", "single")
    }
    _, p = welch_batch(areas["multi"], areas["single"])
    assert np.isclose(float(p), first["p"])


def test_missing_curves_are_reported_not_raised():
    records = compare_methods(_study(), [["multi", "nothing"]], 0.0, 100.0)
    assert records[0]["verdict"] is None and "nothing" in records[0]["evidence"]


def test_report_section_and_recomputation_from_the_folder(tmp_path, capsys):
    root = tmp_path / "study"
    for method, runs in _study().items():
        for seed, c in runs.items():
            write_curve(root / "target" / method / f"seed_{seed}" / "curve.csv", c)
    spec = {"name": "study", "score_range": {"low": 0.0, "high": 100.0},
            "compare": [["multi", "single"]]}  # fmt: skip
    (root / "study.yaml").write_text(yaml.safe_dump(spec))
    assert main(["report", str(root)]) == 0
    summary = json.loads((root / "summary.json").read_text())
    assert summary["comparisons"][0]["verdict"] == "positive"
    report = (root / "report.md").read_text()
    assert "## Method against method" in report and "**multi** is better than **single**" in report


def test_compare_naming_an_unknown_method_exits_2(tiny_study, study_exit_2):
    tiny_study["compare"] = [["finetune", "finetuned"]]
    err = study_exit_2(tiny_study)
    assert "compare[0][1]" in err and "did you mean 'finetune'" in err
