"""A crashing run is recorded as failed; the others complete; a re-run retries only it."""

from __future__ import annotations

import json
import sys

import pytest

from rltransfer import run_study
from rltransfer.cli import main
from rltransfer.errors import RunFailedError

FLAKY_ENV = '''
import gymnasium as gym
from gymnasium.envs.classic_control import CartPoleEnv


class FlakyCartPole(CartPoleEnv):
    """CartPole that crashes after a few steps when it was reset with seed 1."""

    def reset(self, *, seed=None, options=None):
        if seed is not None:
            self.doomed = seed == 1
            self.steps = 0
        return super().reset(seed=seed, options=options)

    def step(self, action):
        self.steps += 1
        if getattr(self, "doomed", False) and self.steps > 50:
            raise RuntimeError("the simulator exploded")
        return super().step(action)


gym.register("FlakyCartPole-v0", entry_point=FlakyCartPole, max_episode_steps=500)
'''


@pytest.fixture
def flaky_study(tiny_study, tmp_path, monkeypatch):
    (tmp_path / "flaky_envs.py").write_text(FLAKY_ENV)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("flaky_envs", None)
    tiny_study["hyperparams"]["n_envs"] = 1  # seed k seeds its one env with k
    tiny_study["source"]["env"] = "CartPole-v1"
    tiny_study["target"]["env"] = "flaky_envs:FlakyCartPole-v0"
    return tiny_study


def test_failed_runs_are_isolated_recorded_and_retried(flaky_study, tmp_path):
    with pytest.raises(RunFailedError) as info:
        run_study(flaky_study, out=tmp_path / "runs", quiet=True)
    result = info.value.args[0]
    assert sorted(result.failed) == ["finetune/seed_1", "scratch/seed_1"]
    root = result.out_dir
    failed_dir = root / "target" / "scratch" / "seed_1"
    assert "the simulator exploded" in (failed_dir / "traceback.txt").read_text()
    assert json.loads((failed_dir / "meta.json").read_text())["status"] == "failed"
    summary = json.loads((root / "summary.json").read_text())
    assert summary["failed_runs"] == result.failed
    assert summary["methods"]["finetune"]["seeds"] == 1  # the surviving pair

    with pytest.raises(RunFailedError) as again:
        run_study(flaky_study, out=tmp_path / "runs", quiet=True)
    assert sorted(again.value.args[0].skipped) == [
        "finetune/seed_0",
        "scratch/seed_0",
        "source/seed_0",
        "source/seed_1",
    ]


def test_cli_exit_code_is_1_when_a_run_fails(flaky_study, write_study, tmp_path, capsys):
    path = write_study(flaky_study)
    code = main(["run", str(path), "--out", str(tmp_path / "runs"), "--quiet"])
    assert code == 1
    err = capsys.readouterr().err
    assert "2 run(s) failed" in err and "scratch/seed_1" in err
