"""The online negative-transfer alarm, on hand-made curves and in a real study."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest

from rltransfer.alarm import NegativeTransferAlarm
from rltransfer.analysis.curves import Curve, write_curve
from rltransfer.layout import PARTIAL_CURVE_FILE as PARTIAL_CURVE
from rltransfer.tracking.offline_reader import iter_record_bytes

GRID = [0, 100, 200, 300, 400]


def _baseline(tmp_path, means, name="curve.csv", std=5.0):
    n = len(means)
    write_curve(
        tmp_path / name,
        Curve(np.array(GRID[:n]), np.array(means, float), np.full(n, std), np.full(n, 10)),
    )


def _points(means, std=5.0):
    return [(t, float(m), std, 10) for t, m in zip(GRID, means, strict=False)]


def test_fires_when_clearly_below_scratch_at_the_last_three_points(tmp_path):
    _baseline(tmp_path, [20, 60, 100, 140, 180])
    alarm = NegativeTransferAlarm(tmp_path, threshold=200)
    assert alarm.check(_points([20, 10, 10])) is None  # too few points yet
    message = alarm.check(_points([20, 10, 10, 10]))
    assert message is not None and "t=300" in message and "10.0 vs 140.0" in message
    assert alarm.fired_at == 300
    assert alarm.check(_points([20, 10, 10, 10, 10])) is None  # warns once


def test_silent_when_the_gap_is_within_noise_or_margin(tmp_path):
    _baseline(tmp_path, [20, 60, 100, 140], std=60.0)  # noisy evaluation: gap < 2 SE
    assert NegativeTransferAlarm(tmp_path).check(_points([20, 30, 70, 110], std=60.0)) is None
    _baseline(tmp_path, [20, 60, 100, 140], std=0.0)  # exact, but the gap is tiny
    alarm = NegativeTransferAlarm(tmp_path, threshold=500)
    assert alarm.check(_points([20, 55, 95, 135], std=0.0)) is None  # 5 < 5% of 480


def test_silent_when_one_recent_point_is_not_below(tmp_path):
    _baseline(tmp_path, [20, 60, 100, 140])
    assert NegativeTransferAlarm(tmp_path).check(_points([20, 10, 150, 10])) is None


def test_reads_a_running_baselines_partial_curve(tmp_path):
    _baseline(tmp_path, [20, 60, 100, 140], name=PARTIAL_CURVE)
    assert NegativeTransferAlarm(tmp_path).check(_points([20, 5, 5, 5])) is not None


def test_no_baseline_yet_means_no_alarm(tmp_path):
    assert NegativeTransferAlarm(tmp_path / "missing").check(_points([20, 5, 5, 5])) is None


@pytest.mark.slow
def test_reversed_controls_source_trips_the_alarm_and_stops(tmp_path):
    """A source trained with reversed controls pushes the target's cart the wrong way."""
    from rltransfer import run_study
    from tests.conftest import TINY_STUDY

    study = copy.deepcopy(TINY_STUDY)
    study["source"] = {
        "env": {"id": "rltransfer/CartPole-v0", "kwargs": {"force_mag": -10.0}},
        "timesteps": 8192,
    }
    study["target"] = {"env": "rltransfer/CartPole-v0", "timesteps": 2048}
    study["hyperparams"] = {"n_envs": 4, "n_steps": 64, "batch_size": 128, "n_epochs": 4}
    study["eval"] = {"every": 256, "episodes": 5}
    study["seeds"] = [0]
    study["stop_on_negative"] = True
    study["tracking"] = {"wandb": {"mode": "offline"}}
    result = run_study(study, out=tmp_path, quiet=True)
    run = result.out_dir / "target" / "finetune" / "seed_0"
    meta = json.loads((run / "meta.json").read_text())
    assert meta["stopped_early"] is True
    assert "negative transfer suspected" in meta["alarms"][0]["message"]
    assert result.curves["finetune"][0].timesteps[-1] == meta["alarms"][0]["t"] < 2048
    assert not (run / PARTIAL_CURVE).exists()
    scratch_meta = json.loads((result.out_dir / "target/scratch/seed_0/meta.json").read_text())
    assert scratch_meta["alarms"] == [] and scratch_meta["stopped_early"] is False
    offline = next((result.out_dir / "wandb").glob(f"offline-run-*-{meta['run_id']}"))
    raw = b"".join(iter_record_bytes(next(offline.glob("run-*.wandb"))))
    assert b"Negative transfer suspected" in raw  # the W&B alert record
