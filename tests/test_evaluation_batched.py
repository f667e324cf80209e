"""The batched env steps exactly like SB3's DummyVecEnv over the per-copy envs: the same
observations (bit for bit), rewards, dones, Monitor episodes and terminal observations, through
seeded resets, episode ends, time limits and unseeded auto-resets."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from rltransfer.config.spec import EnvSpec
from rltransfer.environments import make_env
from rltransfer.envs.batched import BatchedVecEnv, vec_env

CASES = [
    ("rltransfer/CartPole-v0", {}),
    ("rltransfer/CartPole-v0", {"length": 1.3, "force_mag": -7.0, "tau": 0.03}),
    ("rltransfer/MountainCar-v0", {}),
    ("rltransfer/MountainCar-v0", {"force": 0.004, "min_position": -1.0}),
    ("rltransfer/Pendulum-v0", {}),
    ("rltransfer/Pendulum-v0", {"max_speed": 3.0, "g": 9.81, "l": 1.4}),
    ("rltransfer/Acrobot-v0", {}),
    ("rltransfer/Acrobot-v0", {"LINK_MASS_2": 1.7, "MAX_VEL_1": 2.0, "dt": 0.3}),
    ("rltransfer/PixelGrid-v0", {"size": 16, "grid": 5}),
    ("rltransfer/PixelGrid-v0", {"size": 16, "slip": 0.3, "noise": 0.2, "distractors": 2}),
    ("rltransfer/PixelGrid-v0", {"obs_mode": "both", "size": 12, "goal": "random"}),
]


def _pair(env_id: str, kwargs: dict, n: int) -> tuple[BatchedVecEnv, DummyVecEnv]:
    fns = [lambda: Monitor(make_env(EnvSpec(env_id, kwargs))) for _ in range(n)]
    fast = vec_env(fns)
    assert isinstance(fast, BatchedVecEnv), "the family should have a batched path"
    return fast, DummyVecEnv(fns)


def _equal(a, b) -> bool:
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and np.array_equal(a, b)


@pytest.mark.parametrize(("env_id", "kwargs"), CASES)
def test_batched_steps_are_bit_identical_to_the_per_copy_envs(env_id, kwargs):
    n, steps = 4, 520
    fast, slow = _pair(env_id, kwargs, n)
    space = slow.action_space
    space.seed(5)
    ended = 0
    for seed in (11, 12):  # a second seeded reset, as every evaluation point does
        fast.seed(seed)
        slow.seed(seed)
        assert _equal(fast.reset(), slow.reset())
        for _ in range(steps):
            actions = np.stack([space.sample() for _ in range(n)])
            obs_f, rew_f, done_f, info_f = fast.step(actions)
            obs_s, rew_s, done_s, info_s = slow.step(actions)
            assert _equal(obs_f, obs_s) and _equal(rew_f, rew_s) and _equal(done_f, done_s)
            for i_f, i_s in zip(info_f, info_s, strict=True):
                assert i_f["TimeLimit.truncated"] == i_s["TimeLimit.truncated"]
                assert ("episode" in i_f) == ("episode" in i_s)
                if "episode" in i_s:
                    ended += 1
                    assert i_f["episode"]["r"] == i_s["episode"]["r"]
                    assert i_f["episode"]["l"] == i_s["episode"]["l"]
                    assert _equal(i_f["terminal_observation"], i_s["terminal_observation"])
    assert ended >= n  # every copy went through at least one episode end and auto-reset
    fast.close()
    slow.close()


def test_unknown_wrappers_and_user_subclasses_step_copy_by_copy():
    spec = EnvSpec("rltransfer/CartPole-v0")
    wrapped = [lambda: Monitor(gym.wrappers.TransformReward(make_env(spec), abs))] * 2
    assert isinstance(vec_env(wrapped), DummyVecEnv)

    from rltransfer.envs.classic import CartPoleFamilyEnv

    class Mine(CartPoleFamilyEnv):
        pass

    assert isinstance(vec_env([lambda: Monitor(gym.wrappers.TimeLimit(Mine(), 50))] * 2),
                      DummyVecEnv)  # fmt: skip
    plain = [lambda: Monitor(CartPoleFamilyEnv())] * 2  # no time limit: still batched
    assert isinstance(vec_env(plain), BatchedVecEnv)
