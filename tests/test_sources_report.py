"""The "Sources" section (``summary["sources"]``), its table and sentences, and ``sources.png``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from matplotlib import image as mpimg

from rltransfer.analysis.curves import Curve, load_study_curves, write_curve
from rltransfer.analysis.source_summary import source_summary
from rltransfer.analysis.summary import analyze
from rltransfer.analysis.text import fmt
from rltransfer.io import atomic_write_json
from rltransfer.report import write_report
from rltransfer.report.markdown import render_report

GRID = np.arange(0, 11) * 500
LOW, HIGH = 10.0, 100.0  # scratch's return at t = 0 (every seed) and the threshold


def _curve(start: float, rate: float, rng: np.random.Generator) -> Curve:
    r = start + (HIGH - start) * (1 - np.exp(-rate * GRID / 1000))
    r[1:] += rng.normal(0, 1.0, GRID.size - 1)
    return Curve(GRID, r, np.ones(GRID.size), np.full(GRID.size, 5))


def _source(root: Path, key: str, seed: int, final: float, zero: float | None, **meta) -> None:
    folder = root / key
    curve = Curve(GRID, np.linspace(LOW, final, GRID.size), np.ones(GRID.size), np.full(11, 5))
    write_curve(folder / "curve.csv", curve)
    record = {"status": "complete", "role": "source", "seed": seed}
    if zero is not None or "no_zero" not in meta:
        record["zero_shot"] = {
            "env": {"id": "CartPole-v1", "kwargs": {}},
            "return_mean": zero,
            "return_std": None if zero is None else 1.0,
            "episodes": 5 if zero is not None else 0,
            "note": None if zero is not None else "spaces differ",
        }
    record.update({k: v for k, v in meta.items() if k != "no_zero"})
    atomic_write_json(folder / "meta.json", record)


def _study(root: Path, groups: dict[int, str], good: set[str], bad: set[str] = frozenset()) -> dict:
    """Scratch and finetune curves for ``groups``' seeds; pairs whose source is in ``good``
    start near the threshold, those in ``bad`` learn slower than scratch, the others alike."""
    rng = np.random.default_rng(1)
    curves: dict[str, dict[int, Curve]] = {"scratch": {}, "finetune": {}}
    for seed, key in groups.items():
        curves["scratch"][seed] = _curve(LOW, 0.2, rng)
        rate = 0.05 if key in bad else 0.2
        curves["finetune"][seed] = _curve(90.0 if key in good else LOW, rate, rng)
        for method, curve in ((m, curves[m][seed]) for m in curves):
            write_curve(root / "target" / method / f"seed_{seed}" / "curve.csv", curve)
    summary = analyze(
        curves, study="toy", threshold=HIGH, n_resamples=200, groups={"finetune": groups}
    )
    assert summary["score_range"] == {"low": LOW, "high": HIGH}
    return summary


def _gains(summary: dict, method: str = "finetune") -> dict[int, float]:
    a = summary["methods"][method]["areas"]
    return {s: m - b for s, m, b in zip(a["seeds"], a["method"], a["baseline"], strict=True)}


def test_bimodal_sources_table_split_and_plot(tmp_path: Path) -> None:
    groups = {k: f"source/seed_{k}" for k in range(6)}
    good = {groups[k] for k in (1, 3, 5)}
    for k, key in groups.items():  # half untrained zero-shot (12 -> 0.022), half ~ the threshold
        _source(tmp_path, key, 1000 + k, 150.0 + k, 95.0 if key in good else 12.0)
    summary = _study(tmp_path, groups, good)
    block = source_summary(tmp_path, summary)
    json.dumps(block, allow_nan=False)
    assert block["replicas"] == 6 and [e["key"] for e in block["list"]] == list(groups.values())
    gains = _gains(summary)
    for k, e in enumerate(block["list"]):
        assert e["seed"] == 1000 + k and e["pairs"] == [k] and e["note"] is None
        assert e["final_return"] == pytest.approx(150.0 + k)
        zero = 95.0 if e["key"] in good else 12.0
        assert e["zero_shot"] == zero
        assert e["zero_shot_normalised"] == pytest.approx((zero - LOW) / (HIGH - LOW))
        assert e["area_gain"] == {"finetune": pytest.approx(gains[k])}
    low = np.mean([gains[k] for k in (0, 2, 4)])
    high = np.mean([gains[k] for k in (1, 3, 5)])
    assert high > 0.5 > abs(low)
    assert block["split"] == (
        "3 of 6 sources transfer nothing zero-shot (their return on the target is near an "
        "untrained policy's, normalised score below 0.1): their pairs' mean area gain is "
        f"{fmt(low)} vs {fmt(high)} for the other 3 (finetune)."
    )
    assert block["note"] is None

    summary["sources"] = block
    paths = write_report(tmp_path, summary, load_study_curves(tmp_path))
    text = paths["report"].read_text(encoding="utf-8")
    section = text.split("## Sources", 1)[1].split("\n## ", 1)[0]
    assert (
        "| Source | Training seed | Pairs | Final return (source) | Zero-shot (target) | "
        in section
    )
    row = f"| `source/seed_1` | 1001 | 1 | 151 | 95 (0.944) | {fmt(gains[1])} |"
    assert row in section and block["split"] in section
    assert "![Area gain vs zero-shot return of the source](sources.png)" in section
    img = mpimg.imread(paths["sources"])
    assert paths["sources"] == tmp_path / "sources.png" and img.shape[0] > 300 < img.shape[1]
    assert img.std() > 0.01  # something is drawn
    assert json.loads(paths["summary"].read_text())["sources"]["replicas"] == 6


def test_round_robin_pairs_sign_and_missing_values(tmp_path: Path) -> None:
    groups = {0: "source/seed_0", 1: "source/seed_1", 2: "source/seed_0", 3: "source/seed_1"}
    groups |= {4: "source/seed_4", 5: "source/checkpoint_5", 6: "source/seed_6"}
    _source(tmp_path, "source/seed_0", 7, 120.0, 11.0)
    _source(tmp_path, "source/seed_1", 8, 130.0, 96.0)
    _source(tmp_path, "source/seed_4", 9, 140.0, None, no_zero=True)  # an older run
    _source(tmp_path, "source/seed_6", 10, 140.0, 50.0, status="failed")
    summary = _study(tmp_path, groups, {"source/seed_1"})
    block = source_summary(tmp_path, summary)
    by = {e["key"]: e for e in block["list"]}
    gains = _gains(summary)
    assert by["source/seed_0"]["pairs"] == [0, 2] and by["source/seed_1"]["pairs"] == [1, 3]
    want = np.mean([gains[0], gains[2]])
    assert by["source/seed_0"]["area_gain"]["finetune"] == pytest.approx(want)
    old = by["source/seed_4"]
    assert old["final_return"] == pytest.approx(140.0) and old["zero_shot"] is None
    assert "no zero-shot evaluation" in old["note"]
    ckpt = by["source/checkpoint_5"]
    assert ckpt["seed"] is None and ckpt["final_return"] is None and "checkpoint" in ckpt["note"]
    failed = by["source/seed_6"]
    assert failed["seed"] == 10 and failed["zero_shot"] is None and "failed" in failed["note"]
    assert block["note"].startswith("3 of 5 sources have no zero-shot return")
    assert block["split"].startswith("1 of 2 sources transfer nothing zero-shot")
    summary["sources"] = block
    text = render_report(summary)
    assert "source/checkpoint_5" in text and block["note"] in text
    assert "| `source/checkpoint_5` | — | 5 | — | — |" in text


def test_sign_sentence_and_no_plot_without_zero_shot(tmp_path: Path) -> None:
    groups = {k: f"source/seed_{k}" for k in range(4)}
    summary = _study(tmp_path, groups, {groups[0], groups[1]}, {groups[2], groups[3]})
    block = source_summary(tmp_path, summary)  # no source folders at all
    assert block["split"] is None and all(e["zero_shot"] is None for e in block["list"])
    assert block["sign"].startswith(
        "finetune's mean area gain is above +0.05 for 2 of its 4 sources and below -0.05 for 2 "
        "(from -"
    )
    summary["sources"] = block
    paths = write_report(tmp_path, summary, load_study_curves(tmp_path))
    assert "sources" not in paths and not (tmp_path / "sources.png").exists()
    assert "so there is no plot" in paths["report"].read_text(encoding="utf-8")


def test_no_sources_no_section(tmp_path: Path) -> None:
    summary = _study(tmp_path, {k: f"source/seed_{k}" for k in range(3)}, set())
    summary["methods"]["finetune"]["areas"]["source"] = None  # curves from another tool
    assert source_summary(tmp_path, summary) is None
    summary["sources"] = None
    paths = write_report(tmp_path, summary, load_study_curves(tmp_path))
    assert "## Sources" not in paths["report"].read_text(encoding="utf-8")
    assert "sources" not in paths


TINY = """\
name: tiny
algo: ppo
source: {env: {id: CartPole-v1}, timesteps: 1000}
target: {env: {id: CartPole-v1, kwargs: {}}, timesteps: 1000}
methods: [scratch, finetune]
seeds: 3
eval: {every: 500, episodes: 2}
hyperparams: {n_steps: 64, batch_size: 64}
tracking: {wandb: {mode: disabled}}
"""


@pytest.mark.slow
def test_tiny_study_end_to_end(tmp_path: Path) -> None:
    from rltransfer import run_study

    path = tmp_path / "tiny.yaml"
    path.write_text(TINY, encoding="utf-8")
    run_study(path, out=tmp_path / "out", quiet=True)
    root = tmp_path / "out" / yaml.safe_load(TINY)["name"]
    summary = json.loads((root / "summary.json").read_text(encoding="utf-8"))
    block = source_summary(root, summary)
    assert block["replicas"] == 3
    for k, e in enumerate(block["list"]):
        meta = json.loads((root / f"source/seed_{k}/meta.json").read_text(encoding="utf-8"))
        assert e["key"] == f"source/seed_{k}" and e["pairs"] == [k] and e["seed"] == meta["seed"]
        assert e["zero_shot"] == meta["zero_shot"]["return_mean"] is not None
        last = (root / f"source/seed_{k}/curve.csv").read_text().splitlines()[-1]
        assert e["final_return"] == float(last.split(",")[1])
    if "sources" in summary:  # the lead wired it into analyse_study_dir: the same block
        assert summary["sources"] == block
    summary["sources"] = block
    paths = write_report(root, summary, load_study_curves(root, ["scratch", "finetune"]))
    text = paths["report"].read_text(encoding="utf-8")
    assert "## Sources" in text and "| `source/seed_2` |" in text
    assert mpimg.imread(paths["sources"]).shape[0] > 300
