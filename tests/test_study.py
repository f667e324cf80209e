"""A tiny study end to end: the result folder, curve.csv, meta.json, summary, report, resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
from stable_baselines3 import PPO

from rltransfer import run_study
from rltransfer.analysis.curves import CURVE_COLUMNS, read_curve
from rltransfer.cli import main
from rltransfer.config.spec import EnvSpec, EvalSpec
from rltransfer.errors import UserError
from rltransfer.evaluation import Evaluator

CONTRACT_METRICS = {
    "jumpstart",
    "asymptotic_gain",
    "area_ratio",
    "time_to_threshold_ratio",
    "prob_improvement",
}


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    """One tiny study, run once for the tests of this module."""
    from tests.conftest import TINY_STUDY

    out = tmp_path_factory.mktemp("runs")
    return run_study(TINY_STUDY, out=out, quiet=True)


def test_result_folder_follows_the_contract(finished):
    root = finished.out_dir
    for name in ("study.yaml", "summary.json", "report.md", "curves.png"):
        assert (root / name).is_file(), name
    for method in ("scratch", "finetune"):
        for seed in (0, 1):
            run = root / "target" / method / f"seed_{seed}"
            assert {"curve.csv", "meta.json", "model.zip"} <= {p.name for p in run.iterdir()}
    for seed in (0, 1):  # paired sources: one per seed pair
        assert (root / "source" / f"seed_{seed}" / "model.zip").is_file()
    assert (root / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_curve_csv_format_and_shared_grid(finished):
    root = finished.out_dir
    for method in ("scratch", "finetune"):
        for seed in (0, 1):
            path = root / "target" / method / f"seed_{seed}" / "curve.csv"
            header = path.read_text().splitlines()[0].split(",")
            assert tuple(header[:4]) == CURVE_COLUMNS
            curve = read_curve(path)
            assert curve.timesteps.tolist() == [0, 128, 256, 384]
            assert (curve.episodes == 3).all()
            assert (curve.return_mean >= 8).all()  # CartPole returns at least ~8 per episode


def test_summary_json_contract(finished):
    summary = json.loads((finished.out_dir / "summary.json").read_text())
    assert summary["study"] == "tiny" and summary["baseline"] == "scratch"
    ft = summary["methods"]["finetune"]
    assert ft["verdict"] in {"positive", "negative", "inconclusive"}
    assert ft["seeds"] == 2
    assert set(ft["metrics"]) >= CONTRACT_METRICS
    for metric in ft["metrics"].values():
        assert "mean" in metric and len(metric["ci"]) == 2
    assert summary["failed_runs"] == []
    assert "scratch" not in summary["methods"]


def test_meta_records_what_was_transferred(finished):
    root = finished.out_dir
    ft = json.loads((root / "target" / "finetune" / "seed_0" / "meta.json").read_text())
    source_model = PPO.load(root / "source" / "seed_0" / "model.zip")
    assert ft["status"] == "complete"
    assert sorted(ft["transfer"]["loaded"]) == sorted(source_model.policy.state_dict())
    assert ft["transfer"]["skipped"] == {}
    scratch = json.loads((root / "target" / "scratch" / "seed_0" / "meta.json").read_text())
    assert scratch["transfer"]["loaded"] == []
    assert scratch["eval_seed"] == ft["eval_seed"]  # paired evaluation episodes


def test_finetune_starts_from_the_source_policy(finished):
    """The finetune curve at t = 0 is the source agent's return on the target's eval episodes."""
    root = finished.out_dir
    source = PPO.load(root / "source" / "seed_1" / "model.zip")  # pair 1's own source
    meta = json.loads((root / "target" / "finetune" / "seed_1" / "meta.json").read_text())
    env = EnvSpec(id="rltransfer/CartPole-v0", kwargs={"length": 1.0})
    evaluator = Evaluator(env, EvalSpec(every=128, episodes=3), meta["eval_seed"])
    mean, _, n = evaluator(source)
    curve = read_curve(root / "target" / "finetune" / "seed_1" / "curve.csv")
    assert n == 3
    assert curve.return_mean[0] == pytest.approx(mean)


def test_report_reads_well(finished):
    text = (finished.out_dir / "report.md").read_text()
    verdict = finished.summary["methods"]["finetune"]["verdict"]
    assert f"**finetune: {verdict}" in text
    assert "Verdict rule" in text and "curves.png" in text


def test_report_command_recomputes_from_curves_alone(finished, tmp_path, capsys):
    copy = tmp_path / "copy"
    for src in (finished.out_dir / "target").rglob("curve.csv"):
        dst = copy / src.relative_to(finished.out_dir)
        dst.parent.mkdir(parents=True, exist_ok=True)
        dst.write_bytes(src.read_bytes())
    (copy / "study.yaml").write_text((finished.out_dir / "study.yaml").read_text())
    assert main(["report", str(copy)]) == 0
    again = json.loads((copy / "summary.json").read_text())
    original = finished.summary
    for name in ("verdict", "metrics"):
        assert again["methods"]["finetune"][name] == original["methods"]["finetune"][name]
    assert (copy / "report.md").is_file() and (copy / "curves.png").is_file()
    assert "finetune:" in capsys.readouterr().out


def test_report_on_a_folder_without_curves_exits_2(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "no 'target' folder" in capsys.readouterr().err


def test_seeds_are_deterministic(tiny_study, tmp_path):
    """The same seed gives the same curve: runs are reproducible, so pairs are comparable."""
    tiny_study["seeds"] = [3]
    a = run_study(tiny_study, out=tmp_path / "a", quiet=True)
    b = run_study(tiny_study, out=tmp_path / "b", quiet=True)
    for method in ("scratch", "finetune"):
        ca, cb = a.curves[method][3], b.curves[method][3]
        np.testing.assert_array_equal(ca.return_mean, cb.return_mean)


def test_rerun_skips_complete_runs_and_redoes_partial_ones(tiny_study, tmp_path):
    first = run_study(tiny_study, out=tmp_path, quiet=True)
    root = first.out_dir
    kept = root / "target" / "finetune" / "seed_1" / "model.zip"
    partial = root / "target" / "scratch" / "seed_0"
    (partial / "meta.json").unlink()  # as if the process died before finishing this run
    kept_mtime = kept.stat().st_mtime_ns
    second = run_study(tiny_study, out=tmp_path, quiet=True)
    assert kept.stat().st_mtime_ns == kept_mtime
    assert sorted(second.skipped) == [
        "finetune/seed_0",
        "finetune/seed_1",
        "scratch/seed_1",
        "source/seed_0",
        "source/seed_1",
    ]
    assert json.loads((partial / "meta.json").read_text())["status"] == "complete"
    assert second.summary["methods"]["finetune"]["seeds"] == 2


def test_changed_spec_stops_then_retrains_with_overwrite(tiny_study, tmp_path):
    run_study(tiny_study, out=tmp_path, quiet=True)
    tiny_study["target"]["timesteps"] = 256
    with pytest.raises(UserError, match=r"target.timesteps: 384 → 256"):
        run_study(tiny_study, out=tmp_path, quiet=True)
    second = run_study(tiny_study, out=tmp_path, quiet=True, overwrite=True)
    assert sorted(second.skipped) == ["source/seed_0", "source/seed_1"]
    assert second.curves["scratch"][0].timesteps.tolist() == [0, 128, 256]


@pytest.mark.slow
def test_killed_study_resumes_without_retraining(tiny_study, write_study, tmp_path):
    tiny_study["source"]["timesteps"] = 2048
    tiny_study["target"]["timesteps"] = 1024
    tiny_study["eval"]["every"] = 256
    tiny_study["seeds"] = 3
    path = write_study(tiny_study)
    out = tmp_path / "runs"
    cmd = [sys.executable, "-m", "rltransfer", "run", str(path), "--out", str(out), "--quiet"]
    proc = subprocess.Popen(cmd, start_new_session=True)
    first_done = out / "tiny" / "target" / "scratch" / "seed_0" / "meta.json"
    deadline = time.time() + 120
    while not first_done.is_file() and time.time() < deadline:
        time.sleep(0.05)
    assert first_done.is_file(), "the study did not complete a run in time"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    done_before = {
        p.parent: p.read_text()
        for p in (out / "tiny").rglob("meta.json")
        if json.loads(p.read_text())["status"] == "complete"
    }
    assert not (out / "tiny" / "summary.json").exists()
    rerun = subprocess.run(cmd, capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    for folder, meta in done_before.items():
        assert (folder / "meta.json").read_text() == meta  # not retrained
    summary = json.loads((out / "tiny" / "summary.json").read_text())
    assert summary["methods"]["finetune"]["seeds"] == 3


def test_two_workers_give_the_same_curves_as_one(finished, tmp_path):
    from tests.conftest import TINY_STUDY

    pooled = run_study(TINY_STUDY, out=tmp_path, quiet=True, workers=2)
    for method, seeds in finished.curves.items():
        for seed, curve in seeds.items():
            other = pooled.curves[method][seed]
            np.testing.assert_array_equal(curve.return_mean, other.return_mean)
    assert pooled.summary["methods"] == finished.summary["methods"]


def test_source_checkpoint_is_loaded_not_retrained(finished, tiny_study, tmp_path):
    checkpoint = finished.out_dir / "source" / "seed_0" / "model.zip"
    tiny_study["source"] = {"checkpoint": str(checkpoint)}
    tiny_study["seeds"] = [0]
    result = run_study(tiny_study, out=tmp_path, quiet=True)
    assert not (result.out_dir / "source").exists()
    meta = json.loads((result.out_dir / "target" / "finetune" / "seed_0" / "meta.json").read_text())
    assert len(meta["transfer"]["loaded"]) == len(PPO.load(checkpoint).policy.state_dict())
    # same source weights and eval seed as the study that trained it: the same starting return
    start = result.curves["finetune"][0].return_mean[0]
    assert start == finished.curves["finetune"][0].return_mean[0]


def test_checkpoint_of_another_algorithm_is_rejected(finished, tiny_study, write_study, capsys):
    tiny_study["source"] = {"checkpoint": str(finished.out_dir / "source/seed_0/model.zip")}
    tiny_study["algo"] = "a2c"
    tiny_study["hyperparams"] = {"n_envs": 2}
    path = write_study(tiny_study)
    assert main(["run", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "source.checkpoint: the checkpoint is a ppo agent, but the study's algo is a2c" in err
