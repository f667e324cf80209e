"""W&B in offline mode: what a study writes, read back from the offline run files."""

from __future__ import annotations

import csv
import json
import time
from pathlib import Path

import pytest

from rltransfer import run_study
from rltransfer.analysis.curves import read_curve
from rltransfer.config.spec import WandbSpec
from rltransfer.tracking import NEGATIVE_TAG, open_run_tracker, run_tags, tag_runs
from rltransfer.tracking.offline_reader import read_offline_runs


@pytest.fixture(scope="module")
def offline_study(tmp_path_factory):
    from tests.conftest import TINY_STUDY

    study = {**TINY_STUDY, "tracking": {"wandb": {"mode": "offline", "project": "rlt-test"}}}
    return run_study(study, out=tmp_path_factory.mktemp("runs"), quiet=True)


def test_one_offline_run_per_training_run_grouped_by_study(offline_study):
    runs = read_offline_runs(offline_study.out_dir / "wandb")
    by_type: dict[str, list] = {}
    for r in runs:
        by_type.setdefault(r.job_type, []).append(r)
    assert len(by_type["source"]) == 2  # one source agent per seed pair
    assert len(by_type["target"]) == 4  # 2 methods x 2 seeds
    assert len(by_type["summary"]) == 1
    assert {r.group for r in runs} == {"tiny"}
    target = by_type["target"][0]
    assert target.config["name"] == "tiny" and target.config["algo"] == "ppo"
    assert target.config["run"]["method"] in {"scratch", "finetune"}


def test_eval_curve_logged_against_timesteps(offline_study):
    runs = read_offline_runs(offline_study.out_dir / "wandb")
    run = next(r for r in runs if r.name == "tiny__finetune__seed1")
    rows = [h for h in run.history if "eval/return_mean" in h]
    logged = [(h["timesteps"], h["eval/return_mean"]) for h in rows]
    curve = read_curve(offline_study.out_dir / "target" / "finetune" / "seed_1" / "curve.csv")
    assert logged == list(zip(curve.timesteps.tolist(), curve.return_mean.tolist(), strict=True))


def test_sb3_logger_output_reaches_wandb_and_progress_csv(offline_study):
    """SB3's own train/*, rollout/* and time/* values: in W&B against timesteps, and in each
    run folder's progress.csv, the same numbers."""
    runs = read_offline_runs(offline_study.out_dir / "wandb")
    run = next(r for r in runs if r.name == "tiny__finetune__seed1")
    rows = [h for h in run.history if "train/entropy_loss" in h]
    # 384 steps of 2 x 64: three updates, the last one written when the run closes its logger
    assert [h["timesteps"] for h in rows] == [256, 384, 384]
    assert all(h["train/entropy_loss"] < 0 for h in rows)  # minus the policy's entropy
    assert {"train/approx_kl", "train/clip_fraction", "train/value_loss"} <= set(rows[0])
    rollouts = [h for h in run.history if "rollout/ep_rew_mean" in h]
    assert [h["timesteps"] for h in rollouts] == [128, 256, 384]
    assert all("time/fps" in h for h in rollouts)
    progress = offline_study.out_dir / "target" / "finetune" / "seed_1" / "progress.csv"
    with progress.open() as f:
        table = list(csv.DictReader(f))
    assert {"train/entropy_loss", "rollout/ep_rew_mean", "time/total_timesteps"} <= set(table[0])
    logged = [float(r["train/entropy_loss"]) for r in table if r["train/entropy_loss"]]
    assert logged == pytest.approx([h["train/entropy_loss"] for h in rows])
    for folder in ("source/seed_0", "target/scratch/seed_0"):
        assert (offline_study.out_dir / folder / "progress.csv").is_file()


def test_dqn_loss_reaches_wandb_and_progress_csv(tmp_path):
    from tests.conftest import TINY_STUDY

    study = {
        **TINY_STUDY,
        "algo": "dqn",
        "hyperparams": {
            "learning_starts": 64,
            "train_freq": 4,
            "gradient_steps": 1,
            "buffer_size": 1000,
            "batch_size": 32,
        },
        "source": {**TINY_STUDY["source"], "timesteps": 256},
        "seeds": 1,
        "tracking": {"wandb": {"mode": "offline", "project": "rlt-test"}},
    }
    result = run_study(study, out=tmp_path, quiet=True)
    runs = read_offline_runs(result.out_dir / "wandb")
    run = next(r for r in runs if r.name == "tiny__scratch__seed0")
    losses = [h for h in run.history if "train/loss" in h]
    assert losses and all(h["train/loss"] >= 0 and h["timesteps"] > 64 for h in losses)
    assert any("rollout/exploration_rate" in h for h in run.history)
    with (result.out_dir / "target" / "scratch" / "seed_0" / "progress.csv").open() as f:
        table = list(csv.DictReader(f))
    assert [float(r["train/loss"]) for r in table if r["train/loss"]] == pytest.approx(
        [h["train/loss"] for h in losses]
    )


def test_summary_run_holds_verdicts_and_table(offline_study):
    summary_run = next(
        r for r in read_offline_runs(offline_study.out_dir / "wandb") if r.job_type == "summary"
    )
    verdict = offline_study.summary["methods"]["finetune"]["verdict"]
    assert summary_run.summary["verdict/finetune"] == verdict
    logged = {k: v for h in summary_run.history for k, v in h.items()}
    assert logged["metrics/_type"] == "table-file"
    assert logged["curves/_type"] == "image-file"
    assert logged["forest/_type"] == "image-file"
    table_files = list((offline_study.out_dir / "wandb").glob("offline-run-*/files/media/table/*"))
    rows = json.loads(table_files[0].read_text())["data"]
    assert {row[0] for row in rows} == {"finetune"}
    assert {row[3] for row in rows} == {"target-only", "total-cost"}
    assert {row[4] for row in rows} >= {"jumpstart", "area_ratio", "prob_improvement"}
    assert "Transfer report" in summary_run.summary["report"]


def test_negative_runs_get_tagged(tmp_path: Path):
    spec = WandbSpec(mode="offline", project="rlt-test")
    tracker = open_run_tracker(
        spec,
        tmp_path,
        run_id="negrun1",
        name="n",
        group="g",
        job_type="target",
        config={"a": 1},
        tags=run_tags("target", "ft"),
    )
    tracker.log_eval(0, 1.0, 0.0, 3)
    tracker.finish()
    tag_runs(spec, tmp_path, {"negrun1": run_tags("target", "ft")}, NEGATIVE_TAG)
    # W&B's service may still be flushing the resumption's record file when finish() returns
    deadline = time.monotonic() + 15
    while True:
        runs = [r for r in read_offline_runs(tmp_path / "wandb") if r.run_id == "negrun1"]
        if len(runs) == 2 and runs[-1].tags or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert len(runs) == 2  # the run and its resumption, merged by `wandb sync`
    assert runs[0].tags == ["target", "ft"]
    assert runs[-1].tags == ["target", "ft", NEGATIVE_TAG]


def test_disabled_mode_writes_nothing(tiny_study, tmp_path):
    result = run_study(tiny_study, out=tmp_path, quiet=True)
    assert not (result.out_dir / "wandb").exists()
