"""The discovery commands: `rltransfer envs` and `rltransfer methods`."""

from __future__ import annotations

import json

import gymnasium as gym

from rltransfer.cli import main


def test_envs_json_lists_every_family_with_params(capsys):
    assert main(["envs", "--json"]) == 0
    families = json.loads(capsys.readouterr().out)
    ids = {f["id"] for f in families}
    assert {
        "rltransfer/CartPole-v0",
        "rltransfer/Acrobot-v0",
        "rltransfer/MountainCar-v0",
        "rltransfer/Pendulum-v0",
    } <= ids
    for f in families:
        assert {"id", "params", "observation", "description"} <= set(f)
        assert f["id"] in gym.registry
    cartpole = next(f for f in families if f["id"] == "rltransfer/CartPole-v0")
    assert cartpole["params"]["length"] == 0.5
    assert set(cartpole["params"]) == {
        "gravity",
        "masscart",
        "masspole",
        "length",
        "force_mag",
        "tau",
    }


def test_envs_text_names_parameters(capsys):
    assert main(["envs"]) == 0
    out = capsys.readouterr().out
    assert "rltransfer/Pendulum-v0" in out and "max_torque=" in out


def test_methods_lists_only_implemented_methods(capsys):
    from rltransfer.methods import METHODS

    assert main(["methods"]) == 0
    out = capsys.readouterr().out
    assert {"scratch", "finetune", "freeze", "layerwise", "shrink_perturb", "adapt"} <= set(METHODS)
    for kind, cls in METHODS.items():
        assert kind in out
        # a listed method is implemented: it overrides apply
        assert cls.apply is not METHODS["scratch"].__mro__[1].apply, kind
