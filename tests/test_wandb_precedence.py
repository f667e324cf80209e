"""W&B settings: command-line flag > study file > ``WANDB_*`` environment variables > defaults,
for mode, project, entity and dir."""

from __future__ import annotations

import time

import pytest

from rltransfer import run_study
from rltransfer.config.spec import WandbSpec
from rltransfer.errors import UserError
from rltransfer.study import plan_study
from rltransfer.tracking import resolve_wandb
from rltransfer.tracking.offline_reader import read_offline_runs
from rltransfer.validation import load_study

ENV = {
    "WANDB_MODE": "disabled",
    "WANDB_PROJECT": "env-project",
    "WANDB_ENTITY": "env-entity",
    "WANDB_DIR": "/tmp/env-dir",
}


def test_defaults_when_nothing_is_set():
    assert resolve_wandb(WandbSpec(), {}) == WandbSpec("offline", "rltransfer", None, None)


def test_environment_fills_what_the_study_leaves_unset():
    assert resolve_wandb(WandbSpec(), ENV) == WandbSpec(
        "disabled", "env-project", "env-entity", "/tmp/env-dir"
    )
    mixed = resolve_wandb(WandbSpec(mode="offline", project="mine"), ENV)
    assert mixed == WandbSpec("offline", "mine", "env-entity", "/tmp/env-dir")


def test_study_file_beats_the_environment_and_the_flag_beats_both(tiny_study, monkeypatch):
    for var, value in ENV.items():
        monkeypatch.setenv(var, value)
    tiny_study["tracking"] = {"wandb": {"mode": "offline", "project": "file-project"}}
    from_file = resolve_wandb(load_study(tiny_study).tracking.wandb)
    assert (from_file.mode, from_file.project, from_file.entity) == (
        "offline",
        "file-project",
        "env-entity",
    )
    from_flag = resolve_wandb(load_study(tiny_study, wandb="online").tracking.wandb)
    assert from_flag.mode == "online" and from_flag.project == "file-project"
    del tiny_study["tracking"]
    assert resolve_wandb(load_study(tiny_study).tracking.wandb).mode == "disabled"


def test_old_mode_names_and_a_bad_wandb_mode():
    assert resolve_wandb(WandbSpec(), {"WANDB_MODE": "dryrun"}).mode == "offline"
    with pytest.raises(UserError, match="WANDB_MODE: must be one of offline, online, disabled"):
        resolve_wandb(WandbSpec(), {"WANDB_MODE": "offlne"})
    # a study that sets the mode never reads WANDB_MODE
    assert resolve_wandb(WandbSpec(mode="offline"), {"WANDB_MODE": "offlne"}).mode == "offline"


def test_wandb_settings_never_change_run_ids(tiny_study, tmp_path, monkeypatch):
    def ids() -> list[str]:
        return [r.run_id for r in plan_study(load_study(tiny_study), tmp_path).runs]

    plain = ids()
    for var, value in ENV.items():
        monkeypatch.setenv(var, value)
    tiny_study["tracking"] = {"wandb": {"mode": "online", "project": "x", "dir": "elsewhere"}}
    assert ids() == plain


def test_env_project_and_dir_reach_the_runs(tiny_study, tmp_path, monkeypatch):
    """A study without tracking settings, ``WANDB_PROJECT`` and ``WANDB_DIR`` set: the runs log
    (offline, the default) to that project, under that folder, not the study folder."""
    del tiny_study["tracking"]
    tiny_study["seeds"] = 1
    for var in ("WANDB_MODE", "WANDB_ENTITY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("WANDB_PROJECT", "env-project")
    monkeypatch.setenv("WANDB_DIR", str(tmp_path / "wb"))
    result = run_study(tiny_study, out=tmp_path / "runs", quiet=True)
    assert not (result.out_dir / "wandb").exists()
    deadline = time.monotonic() + 15  # W&B's service may still be flushing the record files
    while True:
        runs = read_offline_runs(tmp_path / "wb" / "wandb")
        if len(runs) == 4 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert sorted(r.job_type for r in runs) == ["source", "summary", "target", "target"]
    assert {r.project for r in runs} == {"env-project"}
    recorded = (result.out_dir / "study.yaml").read_text()
    assert "project: env-project" in recorded and f"dir: {tmp_path / 'wb'}" in recorded
