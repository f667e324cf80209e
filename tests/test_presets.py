"""Every preset study in ``scripts/`` loads and runs end to end with a tiny budget.

The budgets, evaluation and PPO sizes are overridden through ``run_study``; the environments,
methods and architecture are the file's own. Presets whose optional dependency (minigrid,
ale-py) is missing are skipped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

import rltransfer
from rltransfer.validation import load_study

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"
PRESETS = sorted(p for p in SCRIPTS.glob("*.yaml"))
NEEDS = {"rltransfer/MiniGrid-v0": "minigrid", "rltransfer/Atari-v0": "ale_py"}
TINY: dict[str, Any] = {
    "source": {"timesteps": 128},
    "target": {"timesteps": 128},
    "eval": {"every": 64, "episodes": 2},
    "hyperparams": {"n_envs": 2, "n_steps": 32, "batch_size": 32, "n_epochs": 1},
    "seeds": 2,
    "workers": 1,
}


def required_module(path: Path) -> str | None:
    data = yaml.safe_load(path.read_text())
    ids = {data["source"].get("env", {}).get("id"), data["target"]["env"]["id"]}
    return next((NEEDS[i] for i in ids if i in NEEDS), None)


def skip_if_missing(path: Path) -> None:
    module = required_module(path)
    if module:
        pytest.importorskip(module)


def test_there_is_a_preset_per_kind_of_shift() -> None:
    names = {p.name for p in PRESETS}
    assert {
        "default_study.yaml",  # dynamics: CartPole pole length
        "pixelgrid_appearance.yaml",  # appearance: palette
        "pixelgrid_goal.yaml",  # task: goal
        "cartpole_reversed_controls.yaml",  # negative transfer
        "minigrid_doorkey.yaml",
        "atari_breakout_modes.yaml",
        "atari_freeway_difficulty.yaml",
    } <= names


@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.name)
def test_preset_loads_as_written(path: Path) -> None:
    skip_if_missing(path)
    spec = load_study(path)
    assert (spec.source.env is not None or spec.source.envs) and spec.methods
    assert any(m.method == "finetune" for m in spec.methods)


@pytest.mark.slow
@pytest.mark.parametrize("path", PRESETS, ids=lambda p: p.name)
def test_preset_runs_end_to_end_with_a_tiny_budget(path: Path, tmp_path: Path) -> None:
    skip_if_missing(path)
    overrides = {k: dict(v) if isinstance(v, dict) else v for k, v in TINY.items()}
    if required_module(path):
        # An untrained Atari agent may never serve (Breakout runs to ALE's 27,000-step limit):
        # cap the episodes with gymnasium.make's own `max_episode_steps`.
        data = yaml.safe_load(path.read_text())
        for role in ("source", "target"):
            env = data[role]["env"]
            env["kwargs"] = {**env.get("kwargs", {}), "max_episode_steps": 50}
            overrides[role]["env"] = env
        overrides["score_range"] = {"low": 0.0, "high": 1.0}  # 50-step episodes may all score 0
    study: Any = path
    data = yaml.safe_load(path.read_text())
    own = [m for m in data["methods"] if isinstance(m, dict) and "source" in m]
    if own:  # a method's own source gets the tiny budget too
        for m in own:
            m["source"]["timesteps"] = TINY["source"]["timesteps"]
        study = data
    result = rltransfer.run_study(
        study, out=tmp_path, quiet=True, wandb="disabled", device="cpu", **overrides
    )
    methods = result.summary["methods"]
    assert set(methods) >= {m.name for m in load_study(path).methods if m.method != "scratch"}
    assert all(len(curves) == 2 for curves in result.curves.values())  # two seeds each
    assert result.paths["report"].is_file()
    assert all(m["verdict"] in ("positive", "negative", "inconclusive") for m in methods.values())
