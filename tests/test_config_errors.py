"""Every invalid study exits with code 2 and a message naming the file and the field."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from rltransfer.cli import main


def _set(d: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    for k in keys[:-1]:
        d = d[k]
    d[keys[-1]] = value


def _drop(d: dict[str, Any], dotted: str) -> None:
    keys = dotted.split(".")
    for k in keys[:-1]:
        d = d[k]
    del d[keys[-1]]


CASES = [
    # (id, edits as (dotted key, value) or ("-", dotted key) to delete, expected message parts)
    ("unknown-top-key", [("nmae", "x")], ["nmae: unknown key", "did you mean 'name'"]),
    (
        "unknown-env-id",
        [("target.env.id", "CartPol-v1")],
        ["target.env.id: unknown environment 'CartPol-v1'", "did you mean 'CartPole-v1'"],
    ),
    ("unknown-algo", [("algo", "ppo2")], ["algo: unknown algorithm 'ppo2'", "did you mean 'ppo'"]),
    (
        "unknown-method",
        [("methods", ["scratch", "finetun"])],
        ["methods[1].method: unknown method 'finetun'", "did you mean 'finetune'"],
    ),
    ("zero-target-budget", [("target.timesteps", 0)], ["target.timesteps: must be > 0"]),
    ("negative-source-budget", [("source.timesteps", -5)], ["source.timesteps: must be > 0"]),
    (
        "eval-larger-than-budget",
        [("eval.every", 10_000)],
        ["eval.every: 10000 is larger than the target budget (384)"],
    ),
    (
        "missing-checkpoint",
        [
            ("-", "source.env"),
            ("-", "source.timesteps"),
            ("source.checkpoint", "/nonexistent/agent.zip"),
        ],
        ["source.checkpoint: no such file: /nonexistent/agent.zip"],
    ),
    (
        "spaces-not-transferable",
        [("target.env", "rltransfer/Acrobot-v0")],
        ["methods[1]: finetune needs the same observation space", "Box(4,)", "Box(6,)"],
    ),
    ("seeds-wrong-type", [("seeds", "five")], ["seeds: must be a list"]),
    (
        "unknown-hyperparam",
        [("hyperparams.learning_rat", 0.1)],
        ["hyperparams.learning_rat: not a hyperparameter of ppo", "did you mean 'learning_rate'"],
    ),
    (
        "invalid-physics",
        [("target.env.kwargs.length", 0)],
        ["target.env.kwargs.length: must be > 0"],
    ),
    (
        "unknown-env-param",
        [("target.env.kwargs", {"lenght": 1.0})],
        ["target.env.kwargs.lenght: unknown parameter", "did you mean 'length'"],
    ),
    (
        "algo-cannot-act",
        [
            ("algo", "dqn"),
            ("hyperparams", {}),
            ("source.env", "rltransfer/Pendulum-v0"),
            ("target.env", "rltransfer/Pendulum-v0"),
        ],
        ["algo: dqn needs a Discrete action space", "Box(1,)"],
    ),
    (
        "duplicate-method-name",
        [("methods", ["scratch", "finetune", "finetune"])],
        ["methods[2].name: 'finetune' is used twice"],
    ),
    (
        "wandb-mode",
        [("tracking.wandb.mode", "offlin")],
        ["tracking.wandb.mode: must be one of offline, online, disabled", "did you mean 'offline'"],
    ),
    (
        "source-both-env-and-checkpoint",
        [("source.checkpoint", "x.zip")],
        ["source: give either 'env' with 'timesteps' or 'checkpoint: PATH'"],
    ),
    (
        "bad-module",
        [("target.env.id", "no_such_pkg:Thing-v0")],
        ["target.env.id: cannot import module 'no_such_pkg'"],
    ),
    ("zero-episodes", [("eval.episodes", 0)], ["eval.episodes: must be > 0"]),
    ("name-with-slash", [("name", "a/b")], ["name: 'a/b' must use only letters"]),
    ("threshold-not-number", [("threshold", "high")], ["threshold: must be a number"]),
    ("unknown-encoder", [("policy.encoder", "resnet1")], ["policy.encoder: unknown encoder"]),
    (
        "unknown-executor",
        [("executor", {"kind": "slurm"})],
        ["executor.kind: unknown executor 'slurm'", "available: local"],
    ),
    ("float-budget", [("target.timesteps", 100.5)], ["target.timesteps: must be an integer"]),
    (
        "bad-schedule",
        [("hyperparams.learning_rate", "fast")],
        ["hyperparams.learning_rate: must be a number in (0, 1] or 'lin_<number>'"],
    ),
    (
        "method-option-unknown",
        [("methods", ["scratch", {"name": "ft", "method": "finetune", "lr_multi": 0.5}])],
        ["methods[1].lr_multi: unknown key (did you mean 'lr_mult'?)"],
    ),
    ("negative-seed", [("seeds", [0, -1])], ["seeds: must be distinct non-negative integers"]),
    ("missing-target", [("-", "target")], ["target: is required"]),
    (
        "only-baseline",
        [("methods", ["scratch"])],
        ["methods: list at least one transfer method besides the scratch baseline"],
    ),
]


@pytest.mark.parametrize("edits,expected", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_invalid_study_exits_2_naming_file_and_field(
    edits, expected, tiny_study, write_study, capsys
):
    for edit in edits:
        if edit[0] == "-":
            _drop(tiny_study, edit[1])
        else:
            _set(tiny_study, *edit)
    path = write_study(tiny_study)
    code = main(["run", str(path), "--out", str(path.parent / "runs"), "--quiet"])
    err = capsys.readouterr().err
    assert code == 2, err
    assert str(path) in err
    for part in expected:
        assert part in err
    assert "Traceback" not in err
    assert not (path.parent / "runs" / "tiny" / "target").exists()


def test_yaml_syntax_error_names_line(write_study, capsys):
    path = write_study("name: x\nalgo: [ppo\n")
    assert main(["run", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{path}: not valid YAML at line" in err


def test_missing_study_file(tmp_path, capsys):
    assert main(["run", str(tmp_path / "nope.yaml")]) == 2
    err = capsys.readouterr().err
    assert "nope.yaml: no such" in err and "Traceback" not in err


def test_not_a_mapping(write_study, capsys):
    path = write_study("- just\n- a list\n")
    assert main(["run", str(path)]) == 2
    assert "must be a mapping" in capsys.readouterr().err


def test_checkpoint_that_is_not_a_zip(tiny_study, write_study, tmp_path, capsys):
    bogus = tmp_path / "agent.zip"
    bogus.write_text("not a zip")
    tiny_study["source"] = {"checkpoint": str(bogus)}
    path = write_study(tiny_study)
    assert main(["run", str(path), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "source.checkpoint:" in err and "not a stable-baselines3 checkpoint" in err


def test_bad_command_line_flag_exits_2(capsys):
    assert main(["run", "--seeds", "0"]) == 2
    assert "--seeds" in capsys.readouterr().err


def test_console_script_prints_no_traceback(tiny_study, write_study):
    tiny_study["target"]["env"]["id"] = "CartPol-v1"
    path = write_study(tiny_study)
    proc = subprocess.run(
        [sys.executable, "-m", "rltransfer", "run", str(path)], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "did you mean 'CartPole-v1'" in proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_valid_tiny_study_loads(tiny_study):
    from rltransfer.validation import load_study

    spec = load_study(tiny_study)
    assert [m.name for m in spec.methods] == ["scratch", "finetune"]
    assert spec.seeds == [0, 1]
    assert spec.threshold == 475.0  # from the target env's reward_threshold
    assert spec.hyperparams["gamma"] == 0.98  # rl-zoo3's CartPole value under the user's
    assert spec.hyperparams["n_envs"] == 2


def test_scratch_is_always_added(tiny_study):
    from rltransfer.validation import load_study

    tiny_study["methods"] = ["finetune"]
    assert [m.method for m in load_study(tiny_study).methods] == ["scratch", "finetune"]


def test_overrides_reach_the_spec(tiny_study):
    from rltransfer.validation import load_study

    spec = load_study(tiny_study, seeds=3, workers=2, wandb="offline", target={"timesteps": 256})
    assert spec.seeds == [0, 1, 2]
    assert spec.executor.workers == 2
    assert spec.tracking.wandb.mode == "offline"
    assert spec.target.timesteps == 256
    assert spec.target.env.kwargs == {"length": 1.0}


def test_default_study_is_valid_and_shipped_in_scripts():
    from rltransfer.config.load import default_study_text
    from rltransfer.validation import load_study

    spec = load_study(None)
    assert (
        spec.algo == "ppo" and spec.target.env.kwargs["length"] > spec.source.env.kwargs["length"]
    )
    script = Path(__file__).parents[1] / "scripts" / "default_study.yaml"
    assert script.read_text() == default_study_text()


def test_a_source_env_the_study_policy_cannot_read_names_source_policy(tiny_study, study_exit_2):
    """A pixel target with a state source: the source trains with the study's CNN unless
    ``source.policy`` gives its own architecture; the study stops before training."""

    tiny_study["policy"] = {"encoder": "tiny_cnn"}
    teacher = {"policy": {"net_arch": [16]}}  # the teacher's, not the source run's
    tiny_study["methods"] = [{"method": "distill", "teacher_obs": "state", "teacher": teacher}]
    tiny_study["source"]["env"] = {"id": "rltransfer/PixelGrid-v0", "kwargs": {"obs_mode": "state"}}
    tiny_study["target"]["env"] = {"id": "rltransfer/PixelGrid-v0", "kwargs": {"size": 16}}
    err = study_exit_2(tiny_study)
    assert "policy.encoder: on the source env" in err and "source.policy" in err
