"""Plug-ins from a package outside the tree: a study names ``method: pkg.module:Class``."""

from __future__ import annotations

import json
import textwrap

import pytest

from rltransfer import run_study
from rltransfer.cli import main

PLUGIN = '''
"""A transfer method that lives outside rltransfer: copy the source's matching tensors,
scaled by ``keep`` (1.0 is fine-tuning, 0.0 is a zeroed start)."""
from dataclasses import dataclass

import torch

from rltransfer.methods import TransferMethod


@dataclass
class ScaledOptions:
    keep: float = 0.5

    def check(self, path):
        from rltransfer.config.parse import FieldError

        if not 0.0 <= self.keep <= 1.0:
            raise FieldError(path + ".keep", f"must be in [0, 1], got {self.keep}")


class ScaledCopy(TransferMethod):
    description = "copies the source's matching tensors, scaled by keep"
    transfers = "parameters"
    Options = ScaledOptions

    def apply(self, ctx):
        source = ctx.source.policy_state()
        target = ctx.model.policy.state_dict()
        loaded = []
        with torch.no_grad():
            for name, tensor in target.items():
                if name in source and source[name].shape == tensor.shape:
                    tensor.copy_(source[name] * self.options.keep)
                    loaded.append(name)
        return {"transferred": "parameters", "loaded": loaded, "keep": self.options.keep}
'''


ENCODER = '''
"""An encoder that lives outside rltransfer: one hidden layer with a chosen width."""
from torch import nn

from rltransfer.vision import Encoder


def wide_mlp(in_shape, width=24):
    trunk = nn.Sequential(nn.Flatten(), nn.Linear(int(in_shape[0]), width), nn.ReLU())
    return Encoder(
        "wide_mlp", trunk, None, in_shape=in_shape, groups={"layer1": ["trunk.1"]},
        features_dim=width, image=False, kwargs={"width": width},
    )


wide_mlp.kind = "vector"
wide_mlp.description = "one ReLU layer of `width` units"
'''


@pytest.fixture
def plugin_package(tmp_path, monkeypatch):
    pkg = tmp_path / "outside" / "myplug"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "methods.py").write_text(textwrap.dedent(PLUGIN))
    (pkg / "encoders.py").write_text(textwrap.dedent(ENCODER))
    monkeypatch.syspath_prepend(str(tmp_path / "outside"))
    monkeypatch.setenv("PYTHONPATH", str(tmp_path / "outside"))  # for spawned workers too
    return "myplug.methods:ScaledCopy"


def test_a_plugin_method_runs_in_a_study(plugin_package, tiny_study, tmp_path):
    tiny_study["methods"] = ["scratch", {"name": "scaled", "method": plugin_package, "keep": 0.5}]
    tiny_study["executor"] = {"kind": "local", "workers": 2}  # runs in spawned workers
    result = run_study(tiny_study, out=tmp_path / "runs", quiet=True)
    meta = json.loads((result.out_dir / "target/scaled/seed_0/meta.json").read_text())
    assert meta["kind"] == plugin_package and meta["transfer"]["keep"] == 0.5
    assert meta["transfer"]["loaded"]  # it really copied the source's tensors
    assert result.summary["methods"]["scaled"]["verdict"] in {
        "positive",
        "negative",
        "inconclusive",
    }


@pytest.mark.parametrize(
    ("method", "message"),
    [
        ("myplug.methods:Missing", "module 'myplug.methods' has no class 'Missing'"),
        ("myplug.nowhere:ScaledCopy", "cannot import the module of method"),
        ("json:JSONDecoder", "is not a subclass of rltransfer.methods.TransferMethod"),
    ],
)
def test_a_bad_plugin_names_the_field(
    plugin_package, tiny_study, write_study, tmp_path, capsys, method, message
):
    tiny_study["methods"] = ["scratch", {"name": "p", "method": method}]
    assert main(["run", str(write_study(tiny_study)), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "methods[1].method" in err and message in err and "Traceback" not in err


def test_plugin_options_are_checked_like_built_ins(plugin_package, tiny_study, write_study, capsys):
    tiny_study["methods"] = ["scratch", {"name": "p", "method": plugin_package, "keep": 2.0}]
    assert main(["run", str(write_study(tiny_study)), "--out", "unused"]) == 2
    assert "methods[1].keep: must be in [0, 1], got 2.0" in capsys.readouterr().err


def test_a_plugin_encoder_runs_in_a_study(plugin_package, tiny_study, tmp_path):
    tiny_study["policy"] = {"encoder": "myplug.encoders:wide_mlp", "encoder_kwargs": {"width": 12}}
    tiny_study["executor"] = {"kind": "local", "workers": 2}
    result = run_study(tiny_study, out=tmp_path / "runs", quiet=True)
    from stable_baselines3 import PPO

    model = PPO.load(result.out_dir / "target/scratch/seed_0/model.zip", device="cpu")
    assert model.policy.features_extractor.features_dim == 12  # the plug-in built the encoder
    assert result.summary["methods"]["finetune"]["seeds"] == 2


@pytest.mark.parametrize(
    ("encoder", "message"),
    [
        ("myplug.encoders:narrow", "module 'myplug.encoders' has no 'narrow'"),
        ("myplug.missing:wide_mlp", "cannot import the module of encoder"),
        ("json:dumps", "is neither registered with rltransfer.vision.register_encoder"),
    ],
)
def test_a_bad_plugin_encoder_names_the_field(
    plugin_package, tiny_study, write_study, capsys, encoder, message
):
    tiny_study["policy"] = {"encoder": encoder}
    assert main(["run", str(write_study(tiny_study)), "--out", "unused"]) == 2
    err = capsys.readouterr().err
    assert "policy.encoder" in err and message in err and "Traceback" not in err


def test_a_plugin_declares_its_support_and_the_base_class_checks_it(plugin_package):
    """Methods declare what they support as class data; one check in the base class."""
    from rltransfer.checkpoints import CheckpointInfo, SpaceInfo
    from rltransfer.config.parse import FieldError
    from rltransfer.methods import method_class

    cls = method_class(plugin_package, "methods[1].method")
    cls.algorithms, cls.observations = ("ppo",), ("vector",)  # as a plug-in would declare them
    try:
        method = cls(cls.parse_options({}, "methods[1]"))
        act = SpaceInfo("Discrete", (), 2)
        vec = CheckpointInfo("ppo", SpaceInfo("Box", (4,)), act, 0)
        method.check(vec, vec, "methods[1]")
        with pytest.raises(FieldError, match="supports ppo, not a2c") as e:
            method.check(vec, CheckpointInfo("a2c", vec.observation_space, act, 0), "methods[1]")
        assert e.value.path == "methods[1].method"
        img = CheckpointInfo("ppo", SpaceInfo("Box", (3, 8, 8)), act, 0)
        with pytest.raises(FieldError, match="supports vector observations"):
            method.check(img, img, "methods[1]")
    finally:
        cls.algorithms = cls.observations = None


def test_installed_entry_points_name_a_method_and_an_encoder(plugin_package, tmp_path):
    """An installed package offers both by entry point (the groups rltransfer.methods and
    rltransfer.encoders); a study then names them by the entry point's name."""
    dist = tmp_path / "outside" / "myplug-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: myplug\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[rltransfer.methods]\nscaled_copy = myplug.methods:ScaledCopy\n\n"
        "[rltransfer.encoders]\nwide = myplug.encoders:wide_mlp\n"
    )
    from rltransfer.methods import method_class
    from rltransfer.vision.registry import get_entry

    assert method_class("scaled_copy", "methods[1].method").__name__ == "ScaledCopy"
    assert get_entry("wide").kind == "vector" and get_entry("wide").name == "wide"


def test_plugin_modules_are_shipped_to_ray_nodes(plugin_package, tiny_study, tmp_path):
    """A cluster node imports a study's plug-in method and encoder from the files the driver
    ships (``executors.ray_cluster.shipped_modules``), as it does a plug-in env's."""
    from rltransfer.executors.ray_cluster import shipped_modules
    from rltransfer.study import plan_study
    from rltransfer.validation import load_study

    tiny_study["methods"] = ["scratch", {"name": "scaled", "method": plugin_package}]
    tiny_study["policy"] = {"encoder": "myplug.encoders:wide_mlp"}
    plan = plan_study(load_study(tiny_study), tmp_path / "runs")
    import importlib
    from pathlib import Path

    # the package folder the driver imports myplug from (an earlier test's copy, if imported)
    where = Path(importlib.import_module("myplug").__file__).parent.resolve()
    assert shipped_modules(plan.runs) == [str(where)]
    tiny_study["policy"] = {"encoder": "mlp"}
    tiny_study["methods"] = ["scratch", "finetune"]
    assert shipped_modules(plan_study(load_study(tiny_study), tmp_path / "r2").runs) == []
