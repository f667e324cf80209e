"""Every parameter method runs in a CartPole study and a pixel study, and option mistakes stop
the study before training, with exit code 2 and the field named."""

from __future__ import annotations

import copy
import json

import pytest

from rltransfer import run_study
from rltransfer.cli import main

PARAMETER_METHODS = [
    "finetune",
    "freeze",
    {"name": "layerwise", "method": "layerwise",
     "groups": {"hidden1": "freeze", "output": {"reinit": 2.0}}, "progressive": 128},
    {"name": "shrink_perturb", "method": "shrink_perturb", "normalization": "blend"},
]  # fmt: skip

PIXEL_ENV = "rltransfer.envs.vision_testing:GridPixelEnv"
PIXEL_STUDY = {
    "name": "pixels",
    "algo": "ppo",
    "hyperparams": {"n_envs": 2, "n_steps": 16, "batch_size": 32, "n_epochs": 1},
    "policy": {"encoder": "tiny_cnn", "net_arch": [8]},
    "source": {"env": {"id": PIXEL_ENV, "kwargs": {"size": 16, "max_steps": 12}}, "timesteps": 64},
    "target": {
        "env": {"id": PIXEL_ENV, "kwargs": {"size": 16, "grid": 8, "max_steps": 12}},
        "timesteps": 64,
    },
    "methods": [
        "scratch",
        "finetune",
        "freeze",
        {
            "name": "layerwise",
            "method": "layerwise",
            "groups": {"encoder.stem": "freeze", "encoder": {"finetune": 0.1}, "output": "reinit"},
        },
        "shrink_perturb",
    ],  # fmt: skip
    "seeds": [0],
    "eval": {"every": 32, "episodes": 2},
    "score_range": {"low": -1.0, "high": 1.0},
    "tracking": {"wandb": {"mode": "disabled"}},
}


def _metas(root):
    return {
        p.parent.parent.name: json.loads(p.read_text())
        for p in (root / "target").glob("*/seed_0/meta.json")
    }


def test_every_parameter_method_runs_in_a_cartpole_study(tiny_study, tmp_path):
    tiny_study["methods"] = ["scratch", *PARAMETER_METHODS]
    tiny_study["seeds"] = [0]
    result = run_study(tiny_study, out=tmp_path, quiet=True)
    metas = _metas(result.out_dir)
    assert set(metas) == {"scratch", "finetune", "freeze", "layerwise", "shrink_perturb"}
    assert all(m["status"] == "complete" for m in metas.values())
    assert metas["freeze"]["transfer"]["groups"]["output"]["mode"] == "reinit"
    assert metas["freeze"]["transfer"]["frozen_unchanged"] > 0
    assert metas["layerwise"]["transfer"]["unfrozen_at"]["hidden1"] >= 128
    sp = metas["shrink_perturb"]["transfer"]
    assert sp["normalization"]["mode"] == "blend" and "0.4" in sp["combined"]
    summary = json.loads((result.out_dir / "summary.json").read_text())
    assert set(summary["methods"]) >= {"finetune", "freeze", "layerwise", "shrink_perturb"}


def test_every_parameter_method_runs_in_a_pixel_study(tmp_path):
    result = run_study(copy.deepcopy(PIXEL_STUDY), out=tmp_path, quiet=True)
    metas = _metas(result.out_dir)
    assert all(m["status"] == "complete" for m in metas.values()), metas.keys()
    assert metas["freeze"]["vision"]["cached"] is True  # the frozen encoder lives in the env
    assert metas["freeze"]["vision"]["weights"] == "source"
    lw = metas["layerwise"]["transfer"]["groups"]
    assert lw["encoder.stem"]["mode"] == "freeze"
    assert lw["encoder.stage1"] == {"mode": "finetune", "lr": 0.1, "unfreeze_at": None}
    assert lw["output"]["mode"] == "reinit"
    assert metas["layerwise"]["vision"]["cached"] is False


@pytest.mark.parametrize(
    ("method", "field", "words"),
    [
        ({"method": "layerwise", "groups": {"hidden7": "freeze"}},
         "methods[1].groups.hidden7", "no layer group 'hidden7'"),
        ({"method": "layerwise", "groups": {"conv1": "freeze"}},
         "methods[1].groups.conv1", "not a layer group"),
        ({"method": "layerwise", "groups": {}}, "methods[1].groups", "at least one"),
        ({"method": "freeze", "train": ["hiden"]}, "methods[1].train.hiden", "not a layer group"),
        ({"method": "finetune", "exploration": "continue"},
         "methods[1].exploration", "DQN"),
        ({"method": "finetune", "normalization": "reestimated"},
         "methods[1].normalization", "did you mean 'reestimate'"),
        ({"method": "shrink_perturb", "shrink": -1}, "methods[1].shrink", ">= 0"),
        ({"method": "finetune", "lr_mult": 0}, "methods[1].lr_mult", "> 0"),
    ],
)  # fmt: skip
def test_option_mistakes_exit_2_naming_the_field(
    tiny_study, study_exit_2, tmp_path, method, field, words
):
    tiny_study["methods"] = ["scratch", method]
    err = study_exit_2(tiny_study)
    assert field in err and words in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("meta.json"))


def test_methods_command_lists_the_parameter_methods(capsys):
    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    for kind in ("finetune", "freeze", "layerwise", "shrink_perturb"):
        assert kind in out
