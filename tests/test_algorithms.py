"""Every algorithm runs a tiny study end to end, and finetune really loads its parameters."""

from __future__ import annotations

import json

import pytest
import torch
from stable_baselines3 import A2C, DQN, PPO, SAC

from rltransfer import run_study

ALGOS = {
    "ppo": (
        PPO,
        "rltransfer/CartPole-v0",
        {"n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 1},
    ),
    "a2c": (A2C, "rltransfer/CartPole-v0", {"n_envs": 2, "n_steps": 8}),
    "dqn": (
        DQN,
        "rltransfer/CartPole-v0",
        {"learning_starts": 64, "buffer_size": 1000, "train_freq": 16, "gradient_steps": 4},
    ),
    "sac": (
        SAC,
        "rltransfer/Pendulum-v0",
        {"learning_starts": 64, "buffer_size": 1000, "batch_size": 32},
    ),
}


@pytest.mark.parametrize("algo", list(ALGOS))
def test_tiny_study_with_each_algorithm(algo, tiny_study, tmp_path):
    cls, env_id, hyperparams = ALGOS[algo]
    tiny_study.update(algo=algo, hyperparams=hyperparams, seeds=[0])
    tiny_study["source"]["env"] = {"id": env_id}
    tiny_study["target"]["env"] = {"id": env_id}
    tiny_study["target"]["timesteps"] = 256
    result = run_study(tiny_study, out=tmp_path, quiet=True)
    root = result.out_dir
    source = cls.load(root / "source" / "model.zip", device="cpu")
    finetuned_meta = json.loads((root / "target" / "finetune" / "seed_0" / "meta.json").read_text())
    assert sorted(finetuned_meta["transfer"]["loaded"]) == sorted(source.policy.state_dict())
    scratch = cls.load(root / "target" / "scratch" / "seed_0" / "model.zip", device="cpu")
    differs = any(
        not torch.equal(a, b)
        for a, b in zip(
            scratch.policy.state_dict().values(), source.policy.state_dict().values(), strict=True
        )
    )
    assert differs  # scratch did not inherit the source's weights
    assert result.curves["finetune"][0].timesteps.tolist() == [0, 128, 256]


def test_normalized_observations_reuse_source_statistics(tiny_study, tmp_path):
    tiny_study["hyperparams"]["normalize"] = True
    tiny_study["seeds"] = [0]
    result = run_study(tiny_study, out=tmp_path, quiet=True)
    root = result.out_dir
    source_stats = json.loads((root / "source" / "normalize.json").read_text())
    assert source_stats["count"] > 512  # updated during source training
    meta = json.loads((root / "target" / "finetune" / "seed_0" / "meta.json").read_text())
    assert meta["transfer"]["normalization"]["mode"] == "reuse"
    assert meta["transfer"]["normalization"]["vecnormalize"].startswith("source statistics reused")
    target_stats = json.loads(
        (root / "target" / "finetune" / "seed_0" / "normalize.json").read_text()
    )
    assert target_stats["count"] > source_stats["count"]  # started from the source's, then updated


@pytest.mark.parametrize("net_arch,expected_layers", [(None, 0), ([32], 1)])
def test_image_encoders_get_linear_heads_unless_asked(net_arch, expected_layers):
    """Like SB3's CnnPolicy: no hidden layer between a CNN and the heads by default."""
    from stable_baselines3.common.vec_env import DummyVecEnv

    from rltransfer.agents import build_model
    from rltransfer.config.spec import EnvSpec
    from rltransfer.environments import make_env

    env = DummyVecEnv([lambda: make_env(EnvSpec("rltransfer/PixelGrid-v0", {"size": 36}))])
    model = build_model(
        "ppo",
        env,
        hyperparams={"n_steps": 16, "batch_size": 16},
        encoder="nature_cnn",
        net_arch=net_arch,
        seed=0,
        device="cpu",
    )
    layers = [m for m in model.policy.mlp_extractor.policy_net if isinstance(m, torch.nn.Linear)]
    assert len(layers) == expected_layers


def test_an_agent_recipe_builds_what_the_keywords_build():
    """``build_model``'s keywords are a recipe: the same seed gives the same fresh weights, and
    the recipe's architecture is used whole (here ``share_features_extractor``)."""
    from stable_baselines3.common.vec_env import DummyVecEnv

    from rltransfer.agents import AgentRecipe, build_agent, build_model
    from rltransfer.config.spec import EnvSpec, PolicySpec
    from rltransfer.environments import make_env

    def env():
        return DummyVecEnv([lambda: make_env(EnvSpec("rltransfer/CartPole-v0", {}))])

    hp = {"n_steps": 16, "batch_size": 16}
    policy = PolicySpec("mlp", net_arch=[8], share_features_extractor=False)
    recipe = AgentRecipe("ppo", hp, policy, seed=3, device="cpu")
    built = build_agent(recipe, env())
    keywords = build_model("ppo", env(), hyperparams=hp, policy=policy, seed=3, device="cpu")
    a, b = built.policy.state_dict(), keywords.policy.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert built.policy.share_features_extractor is False
