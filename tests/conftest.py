"""Shared fixtures: tiny studies that train in a second or two."""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

TINY_STUDY: dict[str, Any] = {
    "name": "tiny",
    "algo": "ppo",
    "hyperparams": {"n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 2},
    "policy": {"net_arch": [16]},
    "source": {
        "env": {"id": "rltransfer/CartPole-v0", "kwargs": {"length": 0.5}},
        "timesteps": 512,
    },
    "target": {
        "env": {"id": "rltransfer/CartPole-v0", "kwargs": {"length": 1.0}},
        "timesteps": 384,
    },
    "methods": ["scratch", "finetune"],
    "seeds": 2,
    "eval": {"every": 128, "episodes": 3},
    "tracking": {"wandb": {"mode": "disabled"}},
}


@pytest.fixture(autouse=True, scope="session")
def one_torch_thread():
    """One torch thread per test process, as every run uses: on a 2-core machine the default
    thread count oversubscribes the cores and makes training tests many times slower."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def tiny_study() -> dict[str, Any]:
    """A fresh copy of a valid tiny study (PPO on CartPole, 2 seeds, a few hundred steps)."""
    return copy.deepcopy(TINY_STUDY)


@pytest.fixture
def write_study(tmp_path: Path):
    """Write a study dict to ``tmp_path/study.yaml`` and return the path."""

    def write(data: Any, name: str = "study.yaml") -> Path:
        path = tmp_path / name
        path.write_text(yaml.safe_dump(data) if not isinstance(data, str) else data)
        return path

    return write


@pytest.fixture
def study_exit_2(write_study, capsys):
    """Run a study file that must stop before training: assert exit code 2 and return stderr."""
    from rltransfer.cli import main

    def run(study: Any) -> str:
        path = write_study(study)
        assert main(["run", str(path), "--out", str(path.parent / "out")]) == 2
        return capsys.readouterr().err

    return run


REQUIRE_EXTRAS = os.environ.get("RLTRANSFER_REQUIRE_EXTRAS") == "1"
"""Set by CI, which installs every extra: a test skipped by ``pytest.importorskip`` fails there."""


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo):
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_EXTRAS and report.skipped and call.excinfo is not None:
        message = str(call.excinfo.value)
        if message.startswith("could not import"):  # pytest.importorskip's wording
            report.outcome = "failed"
            report.longrepr = f"{message}; RLTRANSFER_REQUIRE_EXTRAS=1 wants every extra installed"
