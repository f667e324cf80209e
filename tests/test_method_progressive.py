"""``progressive`` (Rusu et al. 2016): the source column is the source's actor path and stays
bitwise frozen, the lateral adapters carry gradient and matter, a saved model rebuilds its
columns, images are refused, and a CartPole study runs end to end."""

from __future__ import annotations

import json
from typing import Any

import gymnasium as gym
import pytest
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv
from torch.distributions import Categorical

from rltransfer.agents import build_model
from rltransfer.checkpoints import CheckpointInfo, SpaceInfo
from rltransfer.cli import main
from rltransfer.config.parse import FieldError
from rltransfer.config.spec import PolicySpec
from rltransfer.methods import METHODS, BuildPlan, SourceArtifact, TransferContext
from rltransfer.methods.progressive import columns_of
from rltransfer.vision.plan import prepare_env

HP = {"n_steps": 32, "batch_size": 32, "n_epochs": 2}
SOURCE_POLICY = PolicySpec("mlp", encoder_kwargs={"hidden": [8]}, net_arch=[16, 16])


def _env() -> Any:
    return DummyVecEnv([lambda: gym.make("CartPole-v1")])


@pytest.fixture(scope="module")
def source(tmp_path_factory) -> SourceArtifact:
    """PPO on CartPole with an encoder layer (8) and two actor hidden layers (16, 16)."""
    path = tmp_path_factory.mktemp("progressive") / "source.zip"
    model = build_model("ppo", _env(), hyperparams=HP, policy=SOURCE_POLICY, seed=7, device="cpu")
    model.learn(128)
    model.save(path)
    return SourceArtifact(path, policy=SOURCE_POLICY)


def _progressive(source: SourceArtifact, options: dict[str, Any] | None = None, seed: int = 0):
    """The run's path: configure the plan, build the target, apply the method."""
    cls = METHODS["progressive"]
    method = cls(cls.parse_options(options or {}, "options"))
    env = _env()
    plan = BuildPlan("ppo", PolicySpec(net_arch=[64, 64]), dict(HP), env.observation_space,
                     env.action_space)  # fmt: skip
    method.configure(plan, source)
    venv, setup = prepare_env(env, plan.policy, device="cpu", seed=seed, extra=plan.extractor)
    model = build_model(
        "ppo", venv, hyperparams=plan.hyperparams, seed=seed, device="cpu", setup=setup
    )
    record = method.apply(TransferContext(model, venv, source)).to_json()
    return method, model, record


def _obs(n: int = 32) -> torch.Tensor:
    torch.manual_seed(0)
    return torch.randn(n, 4)


def test_source_column_is_the_source_actor_and_stays_bitwise_frozen(source):
    src = PPO.load(source.model_path, device="cpu")
    method, model, record = _progressive(source)
    (col,) = columns_of(model.policy)
    x = _obs()
    with torch.no_grad():
        src_latent = src.policy.mlp_extractor.forward_actor(src.policy.extract_features(x))
        src_logits = src.policy.get_distribution(x).distribution.logits
    hs = col.source_forward(x)
    assert col.sizes == [4, 8, 16, 16]
    assert torch.equal(hs[-1], src_latent)  # the source's actor path, bitwise
    with torch.no_grad():  # the source's own head on the column: the source policy, bitwise
        logits = Categorical(logits=src.policy.action_net(hs[-1])).logits
    assert torch.equal(logits, src_logits)
    before = {n: p.detach().clone() for n, p in col.source.named_parameters()}
    assert all(not p.requires_grad for p in col.source.parameters())

    model.learn(256)
    model.policy.set_training_mode(True)
    assert not col.source.training and col.column.training
    assert all(torch.equal(p, before[n]) for n, p in col.source.named_parameters())
    after = col.source_forward(x)
    assert all(torch.equal(a, b) for a, b in zip(after, hs, strict=True))
    with torch.no_grad():
        again = Categorical(logits=src.policy.action_net(after[-1])).logits
    assert torch.equal(again, src_logits)
    assert method.after_training(model) == {"source_column_unchanged": len(record["frozen"])}
    assert len(record["frozen"]) == 6  # 3 layers × (weight, bias)


def test_laterals_carry_gradient_change_with_training_and_matter(source):
    _, model, record = _progressive(source)
    (col,) = columns_of(model.policy)
    assert [tuple(u.weight.shape) for u in col.laterals] == [(16, 8), (16, 16)]
    assert [lat["shape"] for lat in record["laterals"]] == [[16, 8], [16, 16]]
    x = _obs()
    out = model.policy.features_extractor(x)
    out[:, :16].pow(2).sum().backward()  # the new column's h_L
    for u in col.laterals:
        assert u.weight.grad is not None and u.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in col.source.parameters())
    model.policy.zero_grad()

    before = [u.weight.detach().clone() for u in col.laterals]
    model.learn(256)
    assert all(not torch.equal(u.weight, b) for u, b in zip(col.laterals, before, strict=True))
    with torch.no_grad():
        out = model.policy.features_extractor(x)
        assert torch.equal(out[:, 16:], col.source_forward(x)[-1])  # output lateral: h^s_L
        for u in col.laterals:
            u.weight.zero_()
        zeroed = model.policy.features_extractor(x)
    assert not torch.allclose(out[:, :16], zeroed[:, :16])


def test_record_counts_and_a_saved_model_rebuilds_its_columns(source, tmp_path):
    _, model, record = _progressive(source, {"output_lateral": False})
    (col,) = columns_of(model.policy)
    assert col.features_dim == 16 and record["output_lateral"] is False
    params = record["parameters"]
    assert params["frozen"] == params["source_column"] == (4 * 8 + 8) + (8 * 16 + 16) + 16 * 17
    assert params["laterals"] == 16 * 8 + 16 * 16
    assert params["trained"] == params["total"] - params["frozen"]
    assert record["columns"]["source"]["layers"] == [
        "features_extractor.reader.encoder.trunk.layer1.0",
        "mlp_extractor.policy_net.0",
        "mlp_extractor.policy_net.2",
    ]
    model.learn(64)
    model.save(tmp_path / "target.zip")
    loaded = PPO.load(tmp_path / "target.zip", device="cpu")
    (col2,) = columns_of(loaded.policy)
    x = _obs()
    with torch.no_grad():
        assert torch.equal(loaded.policy.features_extractor(x), model.policy.features_extractor(x))
    assert all(not p.requires_grad for p in col2.source.parameters())


def test_images_and_other_algorithms_are_refused(source):
    cls = METHODS["progressive"]
    method = cls(cls.parse_options({}, "methods.1"))
    vec = CheckpointInfo("ppo", SpaceInfo("Box", (4,)), SpaceInfo("Discrete", (), 2), 0)
    img = CheckpointInfo("ppo", SpaceInfo("Box", (3, 16, 16)), SpaceInfo("Discrete", (), 2), 0)
    with pytest.raises(FieldError, match="vector observations") as e:
        method.check(img, img, "methods.1")
    assert e.value.path == "methods.1"
    dqn = CheckpointInfo("dqn", vec.observation_space, vec.action_space, 0)
    with pytest.raises(FieldError, match="supports ppo and a2c"):
        method.check(dqn, dqn, "methods.1")
    multi = CheckpointInfo("ppo", SpaceInfo("Dict", ()), vec.action_space, 0)
    method.check_compatible(multi, vec, "methods.1")  # a multi-task source: checked at load


def test_a_cartpole_study_with_progressive_runs_end_to_end(tiny_study, write_study, tmp_path):
    tiny_study["methods"] = ["scratch", "progressive"]
    tiny_study["seeds"] = [0]
    path = write_study(tiny_study)
    assert main(["run", str(path), "--out", str(tmp_path / "out"), "--quiet"]) == 0
    meta = json.loads((tmp_path / "out/tiny/target/progressive/seed_0/meta.json").read_text())
    assert meta["status"] == "complete"
    t = meta["transfer"]
    assert t["columns"]["source"]["sizes"] == [4, 16]  # the study's net_arch [16], no encoder layer
    assert t["laterals"] == []  # one layer: no lateral inside the column, only into the heads
    assert t["output_lateral"] is True
    assert t["parameters"]["frozen"] == 4 * 16 + 16
    assert t["parameters"]["trained"] > 0
    assert t["source_column_unchanged"] == 2


def test_options_set_the_learning_rate_and_bad_values_name_the_field(source):
    cls = METHODS["progressive"]
    with pytest.raises(FieldError, match="must be > 0") as e:
        cls.parse_options({"lr_mult": 0}, "methods.1")
    assert e.value.path == "methods.1.lr_mult"
    _, model, _ = _progressive(source, {"lr": 1e-3})
    assert model.learning_rate == 1e-3
