"""A run executed as a packed (Ray) task brings back its progress.csv and its W&B run, with
SB3's logger output and the study's W&B id."""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

from rltransfer.executors.packing import run_packed, unpack_result
from rltransfer.study import plan_study
from rltransfer.tracking import wandb_run_id
from rltransfer.tracking.offline_reader import read_offline_runs
from rltransfer.validation import load_study


def test_packed_run_carries_progress_csv_and_sb3_metrics_back(tiny_study, tmp_path):
    tiny_study["tracking"] = {"wandb": {"mode": "offline", "project": "rlt-test"}}
    spec = load_study(tiny_study)
    root = tmp_path / "driver" / spec.name
    source = plan_study(spec, root).sources[0]
    packed = run_packed(source, {})
    assert packed.error is None
    rows = list(csv.DictReader(io.StringIO(packed.run_files["progress.csv"].decode())))
    assert rows and "train/entropy_loss" in rows[0]
    shutil.rmtree(tmp_path / "driver", ignore_errors=True)
    unpack_result(source, packed)
    assert (Path(source.out_dir) / "progress.csv").read_bytes() == packed.run_files["progress.csv"]
    (run,) = read_offline_runs(root / "wandb")
    assert run.run_id == wandb_run_id(source.wandb_scope, source.run_id)
    assert any("train/entropy_loss" in h for h in run.history)
