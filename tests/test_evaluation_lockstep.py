"""The lock-step evaluator gives the returns SB3's ``evaluate_policy`` gave (the reference
path, ``rltransfer.evaluation.reference``): exactly, episode for episode and in order, for
deterministic policies; and for stochastic ones too, from the same global RNG state, since it
draws the same random numbers in the same order."""

from __future__ import annotations

import random

import numpy as np
import pytest
import torch
from stable_baselines3 import A2C, DQN, PPO, SAC
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from rltransfer.agents import build_model
from rltransfer.config.parse import parse_dataclass
from rltransfer.config.spec import EnvSpec, EvalSpec, PolicySpec
from rltransfer.environments import innermost, make_env
from rltransfer.envs.batched import BatchedVecEnv
from rltransfer.evaluation import Evaluator
from rltransfer.evaluation.reference import ReferenceEvaluator
from rltransfer.multitask import make_task_vec_env
from rltransfer.multitask.evaluation import MultiTaskEvaluator
from rltransfer.vision import find_feature_env, prepare_env

CARTPOLE = EnvSpec("rltransfer/CartPole-v0", {"length": 0.8})
ALGOS = {
    "ppo": (PPO, {"n_steps": 64, "batch_size": 64, "n_epochs": 1}),
    "a2c": (A2C, {"n_steps": 8}),
    "dqn": (DQN, {"learning_starts": 64, "buffer_size": 1000, "exploration_fraction": 0.5}),
    "sac": (SAC, {"learning_starts": 32, "buffer_size": 1000, "batch_size": 32}),
}


def _venv(spec: EnvSpec, n: int = 2) -> DummyVecEnv:
    return DummyVecEnv([lambda: Monitor(make_env(spec)) for _ in range(n)])


def _train(algo: str, spec: EnvSpec, steps: int, policy: str = "MlpPolicy", normalize=False):
    cls, hp = ALGOS[algo]
    venv = _venv(spec)
    if normalize:
        venv = VecNormalize(venv, norm_reward=False)
    model = cls(policy, venv, seed=0, device="cpu", policy_kwargs={"net_arch": [16]}, **hp)
    return model.learn(steps)


def _seed_all(model) -> None:
    torch.manual_seed(123)
    np.random.seed(123)
    random.seed(123)
    model.action_space.seed(123)


def _both(evaluator, model, points: int = 2) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Each path's returns at ``points`` successive evaluation points (reseeded each time)."""
    reference = ReferenceEvaluator(evaluator)
    fast, slow = [], []
    for _ in range(points):
        _seed_all(model)
        slow.append(reference.returns(model))
        _seed_all(model)
        fast.append(evaluator.returns(model))
    reference.close()
    evaluator.close()
    return fast, slow


def _assert_same(fast, slow, episodes: int) -> None:
    for f, s in zip(fast, slow, strict=True):
        assert f.shape == (episodes,)
        assert np.array_equal(f, s), (f, s)


CASES = [
    ("ppo", CARTPOLE, 10),
    ("a2c", EnvSpec("rltransfer/Acrobot-v0"), 3),
    ("dqn", EnvSpec("rltransfer/MountainCar-v0", {"force": 0.003}), 9),
    ("sac", EnvSpec("rltransfer/Pendulum-v0", {"max_speed": 6.0}), 5),
    ("ppo", EnvSpec("rltransfer/PixelGrid-v0", {"size": 12, "grid": 6, "slip": 0.2}), 10),
]


@pytest.mark.parametrize("deterministic", [True, False])
@pytest.mark.parametrize(("algo", "spec", "episodes"), CASES, ids=lambda c: str(c)[:20])
def test_batched_evaluation_equals_evaluate_policy(algo, spec, episodes, deterministic):
    model = _train(algo, spec, 200)
    evaluator = Evaluator(spec, EvalSpec(episodes=episodes, deterministic=deterministic), 7,
                          train_env=model.get_env())  # fmt: skip
    assert isinstance(innermost(evaluator.env), BatchedVecEnv)
    fast, slow = _both(evaluator, model)
    _assert_same(fast, slow, episodes)


def test_with_vecnormalize_statistics_of_the_training_env():
    model = _train("ppo", CARTPOLE, 256, normalize=True)
    evaluator = Evaluator(CARTPOLE, EvalSpec(episodes=10), 3, train_env=model.get_env())
    assert isinstance(evaluator.env, VecNormalize)
    fast, slow = _both(evaluator, model)
    _assert_same(fast, slow, 10)


@pytest.mark.parametrize("deterministic", [True, False])
def test_dict_observations(deterministic):
    spec = EnvSpec("rltransfer/PixelGrid-v0", {"obs_mode": "both", "size": 36, "goal": "random"})
    model = _train("ppo", spec, 128, policy="MultiInputPolicy")
    evaluator = Evaluator(spec, EvalSpec(episodes=4, deterministic=deterministic), 1,
                          train_env=model.get_env())  # fmt: skip
    assert isinstance(innermost(evaluator.env), BatchedVecEnv)
    _assert_same(*_both(evaluator, model), 4)


@pytest.mark.parametrize("env_id", ["rltransfer/PixelGrid-v0", "vision_testing"])
def test_with_the_frozen_feature_cache(env_id):
    if env_id == "vision_testing":  # a user env: the lock-step loop over a DummyVecEnv
        spec = EnvSpec("rltransfer.envs.vision_testing:GridPixelEnv", {"size": 32, "max_steps": 10})
    else:
        spec = EnvSpec(env_id, {"size": 32, "grid": 6})
    policy = parse_dataclass(
        PolicySpec,
        {"encoder": "tiny_cnn", "groups": {"all": "freeze"}, "net_arch": [16],
         "features": {"taps": ["head"], "norm": "l2"}},
        "policy",
    )  # fmt: skip
    env, setup = prepare_env(_venv(spec), policy, device="cpu", seed=0)
    hp = {"n_steps": 32, "batch_size": 32, "n_epochs": 1}
    model = build_model("ppo", env, hyperparams=hp, seed=0, device="cpu", setup=setup)
    model.learn(64)
    evaluator = Evaluator(spec, EvalSpec(episodes=3, deterministic=False), 2, train_env=env)
    assert find_feature_env(evaluator.env) is not None
    batched = isinstance(innermost(evaluator.env), BatchedVecEnv)
    assert batched == (env_id != "vision_testing")
    _assert_same(*_both(evaluator, model), 3)


@pytest.mark.parametrize("heads", ["multi", "conditioned"])
def test_multitask_policy_per_task(heads):
    envs = [CARTPOLE, EnvSpec("rltransfer/CartPole-v0", {"length": 1.2})]
    venv = make_task_vec_env(envs, 2)
    hp = {"n_steps": 16, "batch_size": 64, "n_epochs": 1}
    model = build_model("ppo", venv, hyperparams=hp, policy=PolicySpec(net_arch=[16]), seed=0,
                        device="cpu", heads=heads)  # fmt: skip
    model.learn(128)
    multi = MultiTaskEvaluator(envs, EvalSpec(episodes=5), 4, train_env=venv)
    for task in multi.tasks:
        _assert_same(*_both(task, model, points=1), 5)


SIDE_BY_SIDE = [
    ("ppo", CARTPOLE, 10, True),
    ("dqn", EnvSpec("rltransfer/MountainCar-v0", {"force": 0.003}), 9, True),
    ("ppo", EnvSpec("rltransfer/PixelGrid-v0", {"size": 12, "goal": "random"}), 12, True),
    ("ppo", EnvSpec("rltransfer/PixelGrid-v0", {"size": 12, "grid": 6, "slip": 0.2}), 10, False),
    ("ppo", CARTPOLE, 8, False),  # no copy plays a second episode
]


@pytest.mark.parametrize(("algo", "spec", "episodes", "side"), SIDE_BY_SIDE, ids=str)
def test_deterministic_points_play_every_episode_side_by_side(algo, spec, episodes, side):
    """One env copy per episode when a copy's later episodes can start beside its first (no
    random draws in ``step``): the same episodes, listed in the same order, as SB3's schedule
    of 8 copies gives; episodes of unequal lengths (a barely trained policy) check the order."""
    model = _train(algo, spec, 300)
    evaluator = Evaluator(spec, EvalSpec(episodes=episodes), 5, train_env=model.get_env())
    assert (evaluator.rows is not None) == side
    assert evaluator.env.num_envs == (episodes if side else min(episodes, 8))
    fast, slow = _both(evaluator, model, points=3)
    _assert_same(fast, slow, episodes)
    if side and spec.id.endswith("CartPole-v0"):
        assert len(np.unique(np.concatenate(fast))) > 3  # episodes of many lengths


@pytest.mark.parametrize(
    ("algo", "kwargs"),
    [("ppo", {"activation_fn": torch.nn.ReLU, "net_arch": [8, 8]}), ("ppo", {}), ("dqn", {})],
)
def test_deterministic_heads_give_the_bits_of_predict(algo, kwargs):
    """The evaluator's direct heads (``F.linear``, activations, Categorical's softmax and
    argmax; DQN's greedy Q) give ``policy._predict``'s actions, and they are not used for a
    policy of another kind."""
    from stable_baselines3.common.policies import ActorCriticPolicy

    from rltransfer.evaluation.lockstep import _deterministic_head

    cls, hp = ALGOS[algo]
    model = cls("MlpPolicy", _venv(CARTPOLE), seed=0, device="cpu", policy_kwargs=kwargs, **hp)
    head = _deterministic_head(model.policy)
    assert head is not None
    obs = torch.as_tensor(np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32))
    with torch.inference_mode():
        assert torch.equal(head(obs), model.policy._predict(obs, deterministic=True))
    if algo == "ppo":
        model.policy.mlp_extractor.policy_net.register_forward_hook(lambda *a: None)
        assert _deterministic_head(model.policy) is None

    class Tweaked(ActorCriticPolicy):  # a user's policy may predict otherwise
        pass

    other = PPO(Tweaked, _venv(CARTPOLE), n_steps=8, device="cpu")
    assert _deterministic_head(other.policy) is None
