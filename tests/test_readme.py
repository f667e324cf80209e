"""The README's "add your own environment" example works as written."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import yaml

from rltransfer import run_study
from rltransfer.validation import load_study

README = (Path(__file__).parents[1] / "README.md").read_text()


def _block_after(marker: str, lang: str) -> str:
    start = README.index(marker)
    m = re.compile(rf"```{lang}\n(.*?)```", re.S).search(README, start)
    assert m is not None, f"no {lang} block after {marker!r}"
    return m.group(1)


def test_readme_custom_env_runs_end_to_end(tmp_path, monkeypatch):
    (tmp_path / "my_envs.py").write_text(_block_after("`my_envs.py`", "python"))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("my_envs", None)
    study = yaml.safe_load(_block_after("Then use it by `module:Id`", "yaml"))
    result = run_study(
        study,
        out=tmp_path / "runs",
        quiet=True,
        seeds=2,
        wandb="disabled",
        source={"timesteps": 512},
        target={"timesteps": 256},
        eval={"every": 128, "episodes": 2},
        hyperparams={"n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 1},
    )
    assert result.summary["methods"]["finetune"]["seeds"] == 2
    assert result.curves["scratch"][0].timesteps.tolist() == [0, 128, 256]


def test_readme_custom_env_as_class_entry_point(tmp_path, monkeypatch):
    (tmp_path / "my_envs.py").write_text(_block_after("`my_envs.py`", "python"))
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("my_envs", None)
    study = yaml.safe_load(_block_after("Then use it by `module:Id`", "yaml"))
    study["target"]["env"]["id"] = "my_envs:GoalLine"
    spec = load_study(study)
    assert spec.target.env.kwargs == {"goal": -1.0}


def test_readme_default_study_block_matches_the_shipped_file():
    from rltransfer.config.load import default_study_text

    shown = yaml.safe_load(_block_after("This is the default study", "yaml"))
    assert shown == yaml.safe_load(default_study_text())
