"""``eval.on_source``: every target run also evaluated on the source task, and forgetting."""

from __future__ import annotations

import copy
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
from stable_baselines3.common.vec_env import DummyVecEnv

from rltransfer import run_study
from rltransfer.analysis.curves import CURVE_COLUMNS, SOURCE_COLUMNS, Curve, read_curve, write_curve
from rltransfer.analysis.forgetting import forgetting_summary
from rltransfer.analysis.summary import analyze
from rltransfer.cli import main
from rltransfer.config.spec import EnvSpec, EvalSpec, WandbSpec
from rltransfer.environments import make_env
from rltransfer.evaluation import SourceEvaluator
from rltransfer.study import plan_study
from rltransfer.tracking import open_run_tracker
from rltransfer.tracking.offline_reader import read_offline_runs
from rltransfer.validation import load_study

SOURCE_ENV = EnvSpec("rltransfer/CartPole-v0", {"length": 0.5})


@pytest.fixture(scope="module")
def forgetting(tmp_path_factory):
    """The tiny study with ``eval.on_source`` (2 seeds, scratch and finetune), run once."""
    from tests.conftest import TINY_STUDY

    study = copy.deepcopy(TINY_STUDY)
    study["eval"]["on_source"] = True
    return run_study(study, out=tmp_path_factory.mktemp("runs"), quiet=True)


def test_curve_csv_has_finite_source_columns_after_the_contract(forgetting):
    for method in ("scratch", "finetune"):
        for seed in (0, 1):
            path = forgetting.out_dir / "target" / method / f"seed_{seed}" / "curve.csv"
            header = tuple(path.read_text().splitlines()[0].split(","))
            assert header == CURVE_COLUMNS + SOURCE_COLUMNS
            curve = read_curve(path)
            assert curve.timesteps.tolist() == [0, 128, 256, 384]
            assert np.isfinite(curve.source_return_mean).all()
            assert np.isfinite(curve.source_return_std).all()
            assert (curve.source_episodes == 3).all()
            assert (curve.source_return_mean >= 8).all()  # CartPole: at least ~8 per episode
            meta = json.loads((path.parent / "meta.json").read_text())
            assert meta["source_eval"]["evaluated"] is True
            assert meta["source_eval"]["env"]["kwargs"] == {"length": 0.5}
    assert not (forgetting.out_dir / "source" / "seed_0" / "curve.csv").read_text().count("source_")


def test_finetune_starts_on_the_source_as_the_source_agent(forgetting):
    """At t = 0 a finetune run is the source agent: its source return is the source agent's on
    the same seeded episodes, evaluated here independently."""
    from stable_baselines3 import PPO

    meta = json.loads((forgetting.out_dir / "target/finetune/seed_1/meta.json").read_text())
    agent = PPO.load(forgetting.out_dir / "source" / "seed_1" / "model.zip")  # pair 1's
    train_env = DummyVecEnv([lambda: make_env(SOURCE_ENV)])
    evaluator = SourceEvaluator(
        SOURCE_ENV, EvalSpec(every=128, episodes=3), meta["eval_seed"], train_env
    )
    mean, _, n = evaluator(agent)
    evaluator.close()
    assert n == 3
    assert forgetting.curves["finetune"][1].source_return_mean[0] == pytest.approx(mean)


def test_summary_has_forgetting_and_keeps_the_contract(forgetting):
    summary = json.loads((forgetting.out_dir / "summary.json").read_text())
    ft = summary["methods"]["finetune"]
    assert {"verdict", "seeds", "metrics"} <= set(ft) and ft["seeds"] == 2
    f = ft["forgetting"]
    assert f["seeds"] == 2 and f["horizon"] == 384 and "raw" in f["units"]
    curves = forgetting.curves
    start = np.mean([curves["finetune"][s].source_return_mean[0] for s in (0, 1)])
    end = np.mean([curves["finetune"][s].source_return_mean[-1] for s in (0, 1)])
    assert f["start"] == pytest.approx(start) and f["end"] == pytest.approx(end)
    assert f["drop"]["mean"] == pytest.approx(start - end)
    b_start = np.mean([curves["scratch"][s].source_return_mean[0] for s in (0, 1)])
    b_end = np.mean([curves["scratch"][s].source_return_mean[-1] for s in (0, 1)])
    assert f["baseline_drop"]["mean"] == pytest.approx(b_start - b_end)
    assert f["vs_baseline"]["mean"] == pytest.approx((start - end) - (b_start - b_end))
    lo, hi = f["vs_baseline"]["ci"]
    assert lo <= f["vs_baseline"]["mean"] <= hi


def test_report_has_the_forgetting_section_and_figure(forgetting):
    text = (forgetting.out_dir / "report.md").read_text()
    assert "## Forgetting (return on the source task)" in text
    assert "**finetune** (2 seeds): source return" in text
    assert "finetune's drop minus scratch's:" in text
    assert "![Curves on the source task](curves_source.png)" in text
    png = (forgetting.out_dir / "curves_source.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_command_recomputes_forgetting_from_curves_alone(forgetting, tmp_path):
    copy_dir = tmp_path / "copy"
    for src in (forgetting.out_dir / "target").rglob("curve.csv"):
        dst = copy_dir / src.relative_to(forgetting.out_dir)
        dst.parent.mkdir(parents=True)
        shutil.copyfile(src, dst)
    shutil.copyfile(forgetting.out_dir / "study.yaml", copy_dir / "study.yaml")
    assert main(["report", str(copy_dir)]) == 0
    again = json.loads((copy_dir / "summary.json").read_text())
    original = json.loads((forgetting.out_dir / "summary.json").read_text())
    assert (
        again["methods"]["finetune"]["forgetting"] == original["methods"]["finetune"]["forgetting"]
    )
    assert "## Forgetting" in (copy_dir / "report.md").read_text()


def test_source_evaluation_leaves_target_training_untouched(tmp_path):
    """The source evaluator restores the random state: the target curves are the same with and
    without ``eval.on_source``, even with stochastic evaluation."""
    from tests.conftest import TINY_STUDY

    study = copy.deepcopy(TINY_STUDY)
    study.update(seeds=[0], methods=["finetune"])
    study["source"]["timesteps"] = study["target"]["timesteps"] = 256
    study["eval"]["deterministic"] = False
    off = run_study(study, out=tmp_path / "off", quiet=True)
    study["eval"]["on_source"] = True
    on = run_study(study, out=tmp_path / "on", quiet=True)
    for m in ("scratch", "finetune"):
        assert not off.curves[m][0].has_source and on.curves[m][0].has_source
        np.testing.assert_array_equal(off.curves[m][0].return_mean, on.curves[m][0].return_mean)


def test_on_source_changes_only_target_run_ids(tiny_study):
    off = plan_study(load_study(copy.deepcopy(tiny_study)), Path("r"))
    tiny_study["eval"]["on_source"] = True
    on = plan_study(load_study(tiny_study), Path("r"))
    assert on.sources[0].run_id == off.sources[0].run_id and off.sources[0].source_env is None
    assert all(a.run_id != b.run_id for a, b in zip(on.targets, off.targets, strict=True))
    assert all(r.source_env == on.sources[0].env and r.eval.on_source for r in on.targets)
    assert all(r.source_env is None for r in off.targets)


def test_checkpoint_source_with_on_source_exits_2(forgetting, tiny_study, write_study, capsys):
    tiny_study["source"] = {"checkpoint": str(forgetting.out_dir / "source/seed_0/model.zip")}
    tiny_study["eval"]["on_source"] = True
    assert main(["run", str(write_study(tiny_study)), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert (
        "eval.on_source: needs 'source.env' to evaluate on, but the source is a checkpoint" in err
    )


def test_another_observation_space_records_nan_and_says_why():
    train_env = DummyVecEnv([lambda: make_env(EnvSpec("rltransfer/CartPole-v0"))])
    acrobot = EnvSpec("rltransfer/Acrobot-v0")
    evaluator = SourceEvaluator(acrobot, EvalSpec(episodes=2), 0, train_env)
    mean, std, n = evaluator(None)  # never reaches the model
    assert np.isnan(mean) and np.isnan(std) and n == 0
    info = evaluator.describe()
    assert info["evaluated"] is False and "observation space" in info["note"]
    evaluator.close()


def _curve(target, source) -> Curve:
    g = np.arange(len(target)) * 100
    n = np.full(len(g), 5)
    src = np.asarray(source, float)
    return Curve(g, np.asarray(target, float), np.ones(len(g)), n, src, np.ones(len(g)), n)


def test_nan_source_curves_round_trip_and_are_left_out_with_a_note(tmp_path):
    nan = [np.nan] * 4
    write_curve(tmp_path / "c.csv", _curve([1, 2, 3, 4], nan))
    back = read_curve(tmp_path / "c.csv")
    assert back.has_source and np.isnan(back.source_return_mean).all()
    curves = {
        "scratch": {
            0: _curve([1, 2, 3, 4], [10, 11, 12, 13]),
            1: _curve([1, 2, 3, 5], [9, 9, 9, 9]),
        },
        "other": {0: _curve([1, 2, 3, 4], [20, 18, 16, 14]), 1: _curve([1, 2, 3, 4], nan)},
    }
    out = forgetting_summary(curves, "scratch", lambda m: np.random.default_rng(0), 200)
    f = out["other"]
    assert f["seeds"] == 1 and f["start"] == 20 and f["end"] == 14
    assert f["drop"]["mean"] == 6 and f["baseline_drop"]["mean"] == -3
    assert f["vs_baseline"]["mean"] == 9 and f["vs_baseline"]["ci"] == [None, None]
    assert "seed(s) [1] could not be evaluated on the source" in f["note"]


def test_analyze_without_source_columns_adds_nothing():
    curves = {
        "scratch": {
            s: Curve(np.arange(4) * 100, np.arange(4.0) + s, np.ones(4), np.ones(4, int))
            for s in (0, 1)
        },
        "other": {
            s: Curve(np.arange(4) * 100, np.arange(4.0) * 2, np.ones(4), np.ones(4, int))
            for s in (0, 1)
        },
    }
    summary = analyze(curves, study="t", threshold=None)
    assert "forgetting" not in summary["methods"]["other"]


def test_source_returns_logged_to_wandb_against_timesteps(tmp_path):
    tracker = open_run_tracker(
        WandbSpec(mode="offline", project="rlt-test"),
        tmp_path,
        run_id="srcrun1",
        name="s",
        group="g",
        job_type="target",
        config={},
        tags=["target"],
    )
    tracker.log_eval(0, 10.0, 1.0, 3, source=(20.0, 2.0, 3))
    tracker.log_eval(128, 12.0, 1.0, 3, source=(18.0, 2.0, 3))
    tracker.finish()
    deadline = time.monotonic() + 15  # W&B's service may still be flushing the record file
    while True:
        runs = read_offline_runs(tmp_path / "wandb")
        rows = [h for r in runs for h in r.history if "eval_source/return_mean" in h]
        if len(rows) == 2 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    (run,) = runs
    logged = [
        (h["timesteps"], h["eval_source/return_mean"]) for h in run.history if "timesteps" in h
    ]
    assert logged == [(0, 20.0), (128, 18.0)]
