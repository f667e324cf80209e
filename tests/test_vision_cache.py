"""The frozen-feature cache gives the same actions and values as the inline frozen encoder."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from stable_baselines3.common.vec_env import DummyVecEnv

from rltransfer.agents import build_model
from rltransfer.config.parse import parse_dataclass
from rltransfer.config.spec import EnvSpec, EvalSpec, PolicySpec
from rltransfer.envs.vision_testing import GridPixelEnv
from rltransfer.evaluation import Evaluator
from rltransfer.vision import FeatureVecEnv, find_feature_env, prepare_env
from rltransfer.vision.sb3 import build_reader

HYPER = {"n_steps": 32, "batch_size": 32, "n_epochs": 2}
ENV_ID = "rltransfer.envs.vision_testing:GridPixelEnv"


def _venv(n: int = 2) -> DummyVecEnv:
    return DummyVecEnv([lambda: GridPixelEnv(size=32, max_steps=10) for _ in range(n)])


@pytest.mark.parametrize("norm", ["l2", "standardize"])
def test_cached_and_uncached_give_the_same_actions_and_values(norm):
    policy = parse_dataclass(
        PolicySpec,
        {
            "encoder": "tiny_cnn",
            "groups": {"all": "freeze"},
            "net_arch": [16],
            "features": {"taps": ["stem", "head"], "norm": norm},
        },
        "policy",
    )
    inline = build_model("ppo", _venv(), hyperparams=HYPER, policy=policy, seed=0, device="cpu")
    extractor = inline.policy.features_extractor
    reader = build_reader(_venv().observation_space, extractor.config)
    reader.load_state_dict(extractor.reader.state_dict())
    reader.eval()
    obs = np.stack([GridPixelEnv(size=32).reset(seed=s)[0] for s in range(6)])  # (6, 32, 32, 3)
    if norm == "standardize":  # the same running statistics in both paths
        feats = reader.raw(torch.as_tensor(obs).permute(0, 3, 1, 2).float() / 255)
        for n_a, n_b, f in zip(reader.norms, extractor.reader.norms, feats, strict=True):
            n_a.update(f), n_b.update(f)
    cache = FeatureVecEnv(_venv(), reader, update_stats=False)
    cached = build_model("ppo", cache, hyperparams=HYPER, policy=policy, seed=0, device="cpu")
    heads = {k: v for k, v in inline.policy.state_dict().items() if "features_extractor" not in k}
    cached.policy.load_state_dict(heads)
    features = cache.encode(obs)
    inline.policy.set_training_mode(False)
    with torch.no_grad():
        t_obs, _ = inline.policy.obs_to_tensor(obs)
        t_feat, _ = cached.policy.obs_to_tensor(features)
        v_inline, v_cached = (
            inline.policy.predict_values(t_obs),
            cached.policy.predict_values(t_feat),
        )
        p_inline = inline.policy.get_distribution(t_obs).distribution.probs
        p_cached = cached.policy.get_distribution(t_feat).distribution.probs
    assert torch.allclose(v_inline, v_cached, atol=1e-5)
    assert torch.allclose(p_inline, p_cached, atol=1e-5)
    a_inline, _ = inline.predict(obs, deterministic=True)
    a_cached, _ = cached.predict(features, deterministic=True)
    assert np.array_equal(a_inline, a_cached)


def test_prepared_run_env_caches_and_evaluation_uses_the_same_encoder():
    policy = parse_dataclass(
        PolicySpec,
        {
            "encoder": "resnet18",
            "groups": {"all": "freeze"},
            "net_arch": [16],
            "features": {"taps": ["stage2", "stage4"], "norm": "standardize"},
        },
        "policy",
    )
    env, setup = prepare_env(_venv(), policy, device="cpu", seed=3)
    cache = find_feature_env(env)
    assert cache is not None and setup.cached
    assert env.observation_space.shape == (128 + 512,)
    model = build_model("ppo", env, hyperparams=HYPER, policy=policy, seed=0, device="cpu")
    assert type(model.policy.features_extractor).__name__ == "FlattenExtractor"
    model.learn(64)
    assert float(cache.reader.norms[0].count) >= 64  # target statistics from training frames
    evaluator = Evaluator(
        EnvSpec(ENV_ID, {"size": 32, "max_steps": 10}), EvalSpec(episodes=2), 0, train_env=env
    )
    assert find_feature_env(evaluator.env).reader is cache.reader
    count = float(cache.reader.norms[0].count)
    mean, _, n = evaluator(model)
    assert n == 2 and np.isfinite(mean)
    assert float(cache.reader.norms[0].count) == count  # evaluation does not update statistics
    evaluator.close()
    again, _ = prepare_env(_venv(), policy, device="cpu", seed=3)
    a = find_feature_env(again).reader.encoder.state_dict()
    assert all(torch.equal(v, a[k]) for k, v in cache.reader.encoder.state_dict().items())


def test_terminal_observations_are_encoded():
    reader = build_reader(_venv().observation_space, {"encoder": "tiny_cnn"})
    env = FeatureVecEnv(DummyVecEnv([lambda: GridPixelEnv(size=32, max_steps=2)]), reader)
    env.reset()
    for _ in range(2):
        _, _, dones, infos = env.step(np.array([0]))
    assert dones[0] and infos[0]["terminal_observation"].shape == (32,)
