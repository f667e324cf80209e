"""Parameter-transfer methods do what they say: frozen tensors stay bitwise equal, re-initialised
ones are the scratch baseline's fresh values, shrink-and-perturb follows its formula, LR
multipliers, progressive unfreezing, normalisation modes and DQN's exploration option."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

import rltransfer.envs  # noqa: F401  (registers the families)
from rltransfer.agents import build_model
from rltransfer.config.spec import PolicySpec
from rltransfer.envs.vision_testing import GridPixelEnv
from rltransfer.methods import METHODS, BuildPlan, SourceArtifact, TransferContext
from rltransfer.methods.layers import policy_groups

HP = {"n_steps": 32, "batch_size": 32, "n_epochs": 2}


def _env(pixels: bool = False, n: int = 1, normalize: bool = False) -> Any:
    make = (
        (lambda: GridPixelEnv(size=16, max_steps=12))
        if pixels
        else (lambda: gym.make("CartPole-v1"))
    )
    venv = DummyVecEnv([make] * n)
    return VecNormalize(venv, norm_reward=False) if normalize else venv


def _model(algo: str = "ppo", seed: int = 0, pixels: bool = False, env: Any = None, **hp: Any):
    policy = PolicySpec("tiny_cnn" if pixels else "mlp", net_arch=[8] if pixels else [16, 16])
    hyper = {**(HP if algo == "ppo" else {}), **hp}
    return build_model(
        algo, env or _env(pixels), hyperparams=hyper, policy=policy, seed=seed, device="cpu"
    )


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, SourceArtifact]:
    """Trained source agents (PPO on CartPole, PPO on pixels, DQN on CartPole), saved."""
    root = tmp_path_factory.mktemp("sources")
    out = {}
    for name, algo, pixels, hp in [
        ("ppo", "ppo", False, {}),
        ("pixels", "ppo", True, {}),
        ("dqn", "dqn", False, {"learning_starts": 32, "exploration_fraction": 0.5}),
    ]:
        model = _model(algo, seed=100, pixels=pixels, **hp)
        model.learn(256)
        model.save(root / f"{name}.zip")
        out[name] = SourceArtifact(root / f"{name}.zip")
    return out


def _transfer(kind: str, source: SourceArtifact, options: dict[str, Any], model: Any) -> Any:
    cls = METHODS[kind]
    method = cls(cls.parse_options(options, "options"))
    record = method.apply(TransferContext(model, model.get_env(), source)).to_json()
    return method, record


def _state(model: Any) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.policy.state_dict().items()}


def test_freeze_keeps_frozen_tensors_bitwise_and_trains_fresh_heads(sources):
    src = sources["ppo"].policy_state()
    fresh = _state(_model(seed=3))
    model = _model(seed=3)
    method, record = _transfer("freeze", sources["ppo"], {}, model)
    model.learn(256)
    after = model.policy.state_dict()
    hidden = [k for k in after if "mlp_extractor" in k]
    heads = [k for k in after if k.startswith(("action_net", "value_net"))]
    assert hidden and heads
    for k in hidden:
        assert torch.equal(after[k], src[k]), k  # loaded and frozen: bitwise the source's
    for k in heads:
        assert not torch.equal(after[k], fresh[k]), k  # trained
    assert sorted(record["frozen"]) == sorted(hidden)
    assert sorted(record["reinitialised"]) == sorted(heads)
    assert method.after_training(model)["frozen_unchanged"] == len(hidden)


def test_reinit_gives_the_scratch_baselines_fresh_values(sources):
    src = sources["ppo"].policy_state()
    scratch = _state(_model(seed=5))
    model = _model(seed=5)
    _, record = _transfer(
        "layerwise", sources["ppo"], {"groups": {"hidden1": "reinit", "output": "reinit"}}, model
    )
    now = model.policy.state_dict()
    for k in record["reinitialised"]:
        assert torch.equal(now[k], scratch[k]) and not torch.equal(now[k], src[k]), k
    for k in ("mlp_extractor.policy_net.2.weight", "mlp_extractor.value_net.2.weight"):
        assert torch.equal(now[k], src[k])  # hidden2 fine-tunes from the source
    assert record["groups"]["hidden2"]["mode"] == "finetune"


def test_shrink_perturb_matches_its_formula(sources):
    src = sources["ppo"].policy_state()
    fresh = _state(_model(seed=7))
    model = _model(seed=7)
    _, record = _transfer("shrink_perturb", sources["ppo"], {"shrink": 0.3, "perturb": 0.2}, model)
    now = model.policy.state_dict()
    params = {n for n, _ in model.policy.named_parameters()}
    assert params and set(record["loaded"]) == set(src)
    for k in params:
        assert torch.allclose(now[k], 0.3 * src[k] + 0.2 * fresh[k], atol=0, rtol=0), k


def test_layerwise_on_pixels_lr_multipliers_and_progressive_unfreezing(sources):
    src = sources["pixels"].policy_state()
    model = _model(pixels=True, seed=1)
    options = {
        "groups": {
            "encoder.stem": "freeze",
            "encoder.stage1": {"finetune": 0.5},
            "output": "reinit",
        },
        "progressive": 64,
    }
    method, record = _transfer("layerwise", sources["pixels"], options, model)
    assert record["groups"]["encoder.stem"] == {"mode": "freeze", "lr": 1.0, "unfreeze_at": 64}
    mults = sorted({g.get("lr_mult", 1.0) for g in model.policy.optimizer.param_groups})
    assert mults == [0.5, 1.0]
    stem = "features_extractor.reader.encoder.trunk.stem.0.weight"
    bn = "features_extractor.reader.encoder.trunk.stem.1.running_mean"
    assert not dict(model.policy.named_parameters())[stem].requires_grad
    model.learn(128)
    extra = method.after_training(model)
    assert extra["unfrozen_at"]["encoder.stem"] >= 64
    assert not torch.equal(model.policy.state_dict()[stem], src[stem])  # trained once unfrozen
    assert model.policy.state_dict()[bn].shape == src[bn].shape


def test_freeze_on_pixels_caches_the_source_encoder(sources, tmp_path):
    from rltransfer.vision.cache import find_feature_env
    from rltransfer.vision.plan import prepare_env

    cls = METHODS["freeze"]
    method = cls(cls.parse_options({}, "options"))
    venv = _env(pixels=True)
    plan = BuildPlan("ppo", PolicySpec("tiny_cnn", net_arch=[8]), dict(HP),
                     venv.observation_space, venv.action_space)  # fmt: skip
    method.configure(plan, sources["pixels"])
    assert plan.policy.weights == "source" and plan.policy.groups["all"].mode == "freeze"
    env, setup = prepare_env(venv, plan.policy, device="cpu", seed=0,
                             source=sources["pixels"].model_path)  # fmt: skip
    assert find_feature_env(env) is not None
    model = build_model("ppo", env, hyperparams=HP, seed=0, device="cpu", setup=setup)
    record = method.apply(TransferContext(model, env, sources["pixels"])).to_json()
    encoder_keys = [k for k in record["skipped"] if "features_extractor" in k]
    assert encoder_keys and all("cache" in record["skipped"][k] for k in encoder_keys)
    assert "encoder (frozen-feature cache)" in record["frozen"]


def test_groups_cover_every_online_parameter_once():
    for algo, pixels in [("ppo", True), ("dqn", False), ("sac", False)]:
        env = DummyVecEnv([lambda: gym.make("Pendulum-v1")]) if algo == "sac" else None
        model = _model(algo, pixels=pixels, env=env)
        groups = policy_groups(model.policy)
        names = [n for n, _ in model.policy.named_parameters() if "_target" not in n]
        owners = {n: [g for g, lg in groups.items() if lg.owns(n)] for n in names}
        assert all(len(o) == 1 for o in owners.values()), owners
        assert list(groups)[-1] == "output"


@pytest.mark.parametrize("mode", ["reuse", "reestimate", "blend"])
def test_normalization_modes(tmp_path: Path, mode: str):
    env = _env(normalize=True)
    source = _model(env=env, seed=2)
    source.learn(128)
    source.save(tmp_path / "m.zip")
    rms = env.obs_rms
    (tmp_path / "n.json").write_text(
        __import__("json").dumps(
            {"mean": rms.mean.tolist(), "var": rms.var.tolist(), "count": float(rms.count)}
        )
    )
    artifact = SourceArtifact(tmp_path / "m.zip", tmp_path / "n.json")
    target_env = _env(normalize=True)
    model = _model(env=target_env)
    opts = {"normalization": mode, "blend_count": 50}
    _, record = _transfer("finetune", artifact, opts, model)
    got = target_env.obs_rms
    assert record["normalization"]["mode"] == mode
    if mode == "reestimate":
        assert got.count < 1 and np.allclose(got.mean, 0)
    else:
        assert np.allclose(got.mean, rms.mean)
        assert got.count == (50 if mode == "blend" else rms.count)


def test_dqn_exploration_continues_from_the_sources_epsilon(sources):
    from rltransfer.checkpoints import read_checkpoint_info

    eps = read_checkpoint_info(sources["dqn"].model_path).exploration_rate
    assert eps is not None and eps < 1.0
    cls = METHODS["finetune"]
    for choice, expected in [("continue", eps), ("restart", 1.0)]:
        method = cls(cls.parse_options({"exploration": choice, "lr_mult": 0.5}, "options"))
        plan = BuildPlan("dqn", PolicySpec(), {"learning_rate": 1e-3}, None, None)
        method.configure(plan, sources["dqn"])
        assert plan.hyperparams.get("exploration_initial_eps", 1.0) == expected
        assert plan.hyperparams["learning_rate"] == pytest.approx(5e-4)


def test_study_groups_survive_a_method_that_regroups_the_optimizer(sources):
    """The study's ``policy.groups`` (stem unfreezes at step 64) keep working when a method's LR
    multipliers rebuild the optimizer; groups the method does not name keep the study's plan."""
    from rltransfer.config.spec import GroupSpec

    groups = {"stem": GroupSpec("freeze", 1.0, 64)}
    policy = PolicySpec("tiny_cnn", groups=groups, net_arch=[8])
    model = build_model("ppo", _env(pixels=True), hyperparams=HP, policy=policy, seed=0,
                        device="cpu")  # fmt: skip
    _, record = _transfer(
        "layerwise", sources["pixels"], {"groups": {"output": {"finetune": 2}}}, model
    )
    assert record["groups"]["encoder.stem"]["mode"] == "freeze"  # the study's, untouched
    assert record["groups"]["output"] == {"mode": "finetune", "lr": 2.0, "unfreeze_at": None}
    stem = dict(model.policy.named_parameters())[
        "features_extractor.reader.encoder.trunk.stem.0.weight"
    ]
    model.learn(128)
    assert stem.requires_grad  # the study's schedule unfroze it after the optimizer was rebuilt
