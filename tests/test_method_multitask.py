"""``multitask``: exactly the shared trunk of a (multi-task) source is loaded, the output layers
are the target's fresh initialisation bitwise, ``trunk: freeze`` keeps the trunk bitwise, and
the compatibility check accepts a multi-task (Dict) source."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import gymnasium as gym
import pytest
import torch
from stable_baselines3.common.vec_env import DummyVecEnv

from rltransfer.agents import build_model
from rltransfer.checkpoints import CheckpointInfo, SpaceInfo
from rltransfer.cli import main
from rltransfer.config.parse import FieldError
from rltransfer.config.spec import PolicySpec
from rltransfer.methods import METHODS, SourceArtifact, TransferContext

HP = {"n_steps": 32, "batch_size": 32, "n_epochs": 2}
POLICY = PolicySpec("mlp", encoder_kwargs={"hidden": [8]}, net_arch=[16, 16])
HEADS = ("action_net", "value_net")


def _model(seed: int = 0) -> Any:
    env = DummyVecEnv([lambda: gym.make("CartPole-v1")])
    return build_model("ppo", env, hyperparams=HP, policy=POLICY, seed=seed, device="cpu")


def _with_task_heads(single: Path, out: Path, tasks: int = 3) -> Path:
    """A multi-task-like checkpoint: ``single``'s trunk, and its output layers renamed and
    copied into per-task heads (``action_net.heads.<k>.weight``, …), as the multi-task policy
    names them."""
    with zipfile.ZipFile(single) as z:
        files = {n: z.read(n) for n in z.namelist()}
    state = torch.load(io.BytesIO(files["policy.pth"]), weights_only=True)
    new = {}
    for k, v in state.items():
        head = k.split(".")[0]
        if head in HEADS:
            for t in range(tasks):
                new[f"{head}.heads.{t}.{k.split('.', 1)[1]}"] = v + 0.1 * t
        else:
            new[k] = v
    buf = io.BytesIO()
    torch.save(new, buf)
    files["policy.pth"] = buf.getvalue()
    with zipfile.ZipFile(out, "w") as z:
        for n, data in files.items():
            z.writestr(n, data)
    return out


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, SourceArtifact]:
    root = tmp_path_factory.mktemp("multitask")
    model = _model(seed=11)
    model.learn(128)
    model.save(root / "single.zip")
    multi = _with_task_heads(root / "single.zip", root / "multi.zip")
    return {"single": SourceArtifact(root / "single.zip"), "multi": SourceArtifact(multi)}


def _transfer(source: SourceArtifact, options: dict[str, Any] | None = None, seed: int = 3):
    cls = METHODS["multitask"]
    method = cls(cls.parse_options(options or {}, "options"))
    model = _model(seed)
    record = method.apply(TransferContext(model, model.get_env(), source)).to_json()
    return method, model, record


@pytest.mark.parametrize("kind", ["single", "multi"])
def test_loads_exactly_the_shared_trunk_and_leaves_the_heads_fresh(sources, kind):
    src = sources[kind].policy_state()
    fresh = {k: v.clone() for k, v in _model(seed=3).policy.state_dict().items()}
    _, model, record = _transfer(sources[kind])
    after = model.policy.state_dict()
    trunk = {k for k in src if not k.startswith(HEADS) and k in after}
    assert trunk and set(record["loaded"]) == trunk
    assert all(torch.equal(after[k], src[k]) for k in trunk)
    heads = [k for k in after if k.startswith(HEADS)]
    assert heads and all(torch.equal(after[k], fresh[k]) for k in heads)  # fresh init, bitwise
    assert set(record["left_out"]) == {k for k in src if k.startswith(HEADS)}
    assert record["groups"]["output"]["mode"] == "reinit"
    assert record["groups"]["hidden1"]["mode"] == "finetune"
    assert record["source_tasks"] is None  # no run folder with a meta.json here


def test_frozen_trunk_stays_bitwise_and_the_heads_train(sources):
    src = sources["multi"].policy_state()
    method, model, record = _transfer(sources["multi"], {"trunk": "freeze"})
    assert {g: s["mode"] for g, s in record["groups"].items()} == {
        "encoder.layer1": "freeze",
        "hidden1": "freeze",
        "hidden2": "freeze",
        "output": "reinit",
    }
    heads = {k: v.clone() for k, v in model.policy.state_dict().items() if k.startswith(HEADS)}
    model.learn(128)
    after = model.policy.state_dict()
    assert all(torch.equal(after[k], src[k]) for k in record["loaded"])
    assert any(not torch.equal(after[k], v) for k, v in heads.items())
    assert method.after_training(model)["frozen_unchanged"] == len(record["frozen"]) > 0


def test_group_overrides_and_a_trunk_that_does_not_fit(sources, tmp_path):
    _, _, record = _transfer(sources["multi"], {"groups": {"hidden2": {"finetune": 0.1}}})
    assert record["groups"]["hidden2"] == {"mode": "finetune", "lr": 0.1, "unfreeze_at": None}
    other = PolicySpec("mlp", encoder_kwargs={"hidden": [8]}, net_arch=[32, 16])
    env = DummyVecEnv([lambda: gym.make("CartPole-v1")])
    model = build_model("ppo", env, hyperparams=HP, policy=other, seed=0, device="cpu")
    method = METHODS["multitask"](METHODS["multitask"].parse_options({}, "options"))
    with pytest.raises(RuntimeError, match="does not fit the target"):
        method.apply(TransferContext(model, env, sources["multi"]))


def test_compatibility_accepts_a_multi_task_source_and_names_the_field():
    cls = METHODS["multitask"]
    method = cls(cls.parse_options({}, "methods.1"))
    act = SpaceInfo("Discrete", (), 2)
    target = CheckpointInfo("ppo", SpaceInfo("Box", (4,)), act, 0)
    multi = CheckpointInfo("ppo", SpaceInfo("Dict", ()), SpaceInfo("Discrete", (), 3), 0)
    method.check_compatible(multi, target, "methods.1")  # fresh heads: any action space
    other = CheckpointInfo("ppo", SpaceInfo("Box", (6,)), act, 0)
    with pytest.raises(FieldError, match="same observation space") as e:
        method.check_compatible(other, target, "methods.1")
    assert e.value.path == "methods.1"
    with pytest.raises(FieldError, match="same algorithm"):
        method.check(CheckpointInfo("a2c", multi.observation_space, act, 0), target, "m")
    with pytest.raises(FieldError, match="trunk"):
        cls.parse_options({"trunk": "melt"}, "methods.1")


def test_a_study_with_a_multi_task_source_runs_multitask_and_progressive(
    tiny_study, write_study, tmp_path
):
    """The real multi-task source (``source.envs``): the trunk is the shared hidden layers, the
    per-task heads are left out, the source tasks are recorded; progressive reads its actor."""
    tiny_study["source"] = {
        "envs": [
            {"id": "rltransfer/CartPole-v0", "kwargs": {"length": 0.5}},
            {"id": "rltransfer/CartPole-v0", "kwargs": {"length": 0.8}},
        ],
        "timesteps": 256,
    }
    tiny_study["target"]["timesteps"] = 128
    tiny_study["methods"] = ["scratch", "multitask", "progressive"]
    tiny_study["seeds"] = [0]
    path = write_study(tiny_study)
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    target = tmp_path / "out/tiny/target"
    t = json.loads((target / "multitask/seed_0/meta.json").read_text())["transfer"]
    assert set(t["loaded"]) == {f"mlp_extractor.{n}_net.0.{p}" for n in ("policy", "value")
                                for p in ("weight", "bias")}  # fmt: skip
    assert {k.split(".")[1] for k in t["left_out"]} == {"heads"}
    assert [task["kwargs"]["length"] for task in t["source_tasks"]] == [0.5, 0.8]
    p = json.loads((target / "progressive/seed_0/meta.json").read_text())["transfer"]
    assert p["columns"]["source"]["layers"] == ["mlp_extractor.policy_net.0"]
