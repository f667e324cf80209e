"""The classic-control families of ``rltransfer.envs``: registration, API, parameters.

The registry-wide checks (every ``rltransfer/`` id, both env checkers, the catalogue) are in
``test_envs_registry.py``."""

from __future__ import annotations

import inspect
import math
import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.envs.classic_control import AcrobotEnv, CartPoleEnv, MountainCarEnv, PendulumEnv
from gymnasium.utils.env_checker import check_env

import rltransfer.envs as renvs
from rltransfer.envs import EnvParameterError, list_families
from rltransfer.envs.catalog import register_families

IDS = [f"rltransfer/{name}-v0" for name in ("CartPole", "Acrobot", "MountainCar", "Pendulum")]
ORIGINALS = list(zip(IDS, (CartPoleEnv, AcrobotEnv, MountainCarEnv, PendulumEnv), strict=True))
REGISTERED = sorted(i for i in gym.registry if i.startswith("rltransfer/"))
CLASSIC = [f for f in list_families() if f["id"] in IDS]


def make(env_id: str, **kwargs: Any) -> gym.Env:
    return gym.make(env_id, **kwargs).unwrapped


def rollout(env: gym.Env, n: int = 25, seed: int = 3) -> np.ndarray:
    """Observations (<= n + 1, obs_dim) from ``reset(seed)`` under a fixed action sequence
    (cycling discrete actions, or a torque sweep), stopping at termination."""
    discrete = isinstance(env.action_space, spaces.Discrete)
    obs, _ = env.reset(seed=seed)
    out = [obs]
    for i in range(n):
        action = i % int(env.action_space.n) if discrete else np.float32([math.sin(i)])
        obs, _, terminated, _, _ = env.step(action)
        out.append(obs)
        if terminated:
            break
    return np.stack(out)


def step_from(env: gym.Env, state: list[float], action: Any) -> np.ndarray:
    env.reset(seed=0)
    env.unwrapped.state = np.array(state, dtype=np.float64)
    return env.step(action)[0]


def test_ids_are_registered_with_limits_and_thresholds() -> None:
    assert set(IDS) <= set(REGISTERED)
    expected = {IDS[0]: (500, 475.0), IDS[1]: (500, -100.0), IDS[2]: (200, -110.0)}
    expected[IDS[3]] = (200, None)
    for env_id, (steps, threshold) in expected.items():
        spec = gym.spec(env_id)
        assert (spec.max_episode_steps, spec.reward_threshold) == (steps, threshold)
        assert spec.entry_point.startswith("rltransfer.envs.classic:")


def test_registration_is_idempotent() -> None:
    before = {i: gym.registry[i] for i in REGISTERED}
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # gymnasium warns when an id is overridden
        register_families()
    assert all(gym.registry[i] is before[i] for i in REGISTERED)


NON_DEFAULT = {
    "rltransfer/CartPole-v0": dict(gravity=-3.0, masscart=2.0, masspole=0.3, length=1.5, tau=0.01),
    "rltransfer/Acrobot-v0": dict(LINK_LENGTH_1=1.5, LINK_MASS_2=0.5, MAX_VEL_1=0.05, dt=0.1),
    "rltransfer/MountainCar-v0": dict(min_position=-0.5, max_position=0.3, goal_position=0.2),
    "rltransfer/Pendulum-v0": dict(max_speed=0.5, max_torque=0.3, g=0.0, m=2.0, l=0.5),
}


@pytest.mark.parametrize("non_default", [False, True], ids=["defaults", "non-default"])
@pytest.mark.parametrize("env_id", IDS)
def test_check_env_passes(env_id: str, non_default: bool) -> None:
    env = make(env_id, **(NON_DEFAULT[env_id] if non_default else {}))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        # Gymnasium's render check opens a pygame window ("human"); once pygame's display has
        # started, importing torchvision later in the session segfaults. The numpy rgb_array
        # rendering is tested in test_envs_wrappers.py.
        check_env(env, skip_render_check=True)
    # Gymnasium's own CartPole bounds and Pendulum action range draw these two; any other warning
    # (e.g. an observation outside the space) fails the test.
    known = ("infinity", "symmetric and normalized")
    assert [str(w.message) for w in caught if not any(k in str(w.message) for k in known)] == []
    obs = rollout(env, n=60)
    assert all(env.observation_space.contains(o) for o in obs)


@pytest.mark.parametrize(("env_id", "original"), ORIGINALS)
def test_defaults_reproduce_gymnasium_exactly(env_id: str, original: type[gym.Env]) -> None:
    ours, theirs = make(env_id), original()
    np.testing.assert_array_equal(rollout(ours, n=40), rollout(theirs, n=40))
    assert ours.observation_space == theirs.observation_space
    assert ours.action_space == theirs.action_space
    for name, value in ours.get_params().items():
        assert value == getattr(theirs, name), name
    assert ours.render_mode is None
    assert make(env_id, render_mode="rgb_array").render_mode == "rgb_array"


# Per family: the parameter under test (first key) and a value that must alter a rollout.
CHANGES_BY_ID: dict[str, list[dict[str, float]]] = {
    "rltransfer/CartPole-v0": [
        {"gravity": 20.0}, {"masscart": 2.0}, {"masspole": 0.5}, {"length": 1.0},
        {"force_mag": 5.0}, {"tau": 0.04},
    ],
    "rltransfer/Acrobot-v0": [
        {"LINK_LENGTH_1": 2.0}, {"LINK_MASS_1": 2.0}, {"LINK_MASS_2": 2.0},
        {"LINK_COM_POS_1": 0.8}, {"LINK_COM_POS_2": -0.2}, {"LINK_MOI": 2.0},
        {"MAX_VEL_1": 0.05}, {"MAX_VEL_2": 0.05}, {"dt": 0.1},
    ],
    "rltransfer/MountainCar-v0": [
        # This track ends before the start interval [-0.6, -0.4], so every start differs.
        {"min_position": -0.55}, {"max_position": -0.61, "goal_position": -0.62},
        {"max_speed": 0.003}, {"force": 0.002}, {"gravity": 0.0},
    ],
    "rltransfer/Pendulum-v0": [
        {"max_speed": 0.5}, {"max_torque": 0.5}, {"dt": 0.1}, {"g": 5.0}, {"m": 2.0},
        {"l": 2.0},
    ],
}  # fmt: skip
CHANGES = [(env_id, kw) for env_id, kws in CHANGES_BY_ID.items() for kw in kws]


@pytest.mark.parametrize(("env_id", "kwargs"), CHANGES, ids=lambda x: str(x))
def test_each_parameter_changes_the_trajectory(env_id: str, kwargs: dict[str, float]) -> None:
    env = make(env_id, **kwargs)
    assert {name: getattr(env, name) for name in kwargs} == kwargs
    a, b = rollout(make(env_id)), rollout(env)
    assert a.shape != b.shape or not np.allclose(a, b)


def test_every_parameter_is_tested_for_its_effect() -> None:
    covered = {(env_id, next(iter(kwargs))) for env_id, kwargs in CHANGES}  # first = under test
    outside_dynamics = {
        ("rltransfer/Acrobot-v0", "LINK_LENGTH_2"),  # checked to leave the rollout unchanged
        ("rltransfer/MountainCar-v0", "goal_position"),  # termination only, tested below
        ("rltransfer/MountainCar-v0", "goal_velocity"),  # likewise
    }
    every = {(f["id"], name) for f in CLASSIC for name in f["params"]}
    assert every - covered == outside_dynamics
    # Gymnasium's dynamics use LINK_COM_POS_2, never LINK_LENGTH_2 (it sizes the drawing).
    env = make("rltransfer/Acrobot-v0", LINK_LENGTH_2=3.0)
    assert env.LINK_LENGTH_2 == 3.0
    np.testing.assert_array_equal(rollout(env), rollout(make("rltransfer/Acrobot-v0")))


def test_mountaincar_goal_parameters_decide_termination() -> None:
    def terminated(state: list[float], **kwargs: float) -> bool:
        env = make("rltransfer/MountainCar-v0", **kwargs)
        env.reset(seed=0)
        env.state = np.array(state)
        return env.step(1)[2]

    assert not terminated([0.45, 0.02])  # reaches ~0.47 < 0.5
    assert terminated([0.45, 0.02], goal_position=0.4)
    assert terminated([0.55, 0.01])
    assert not terminated([0.55, 0.01], goal_velocity=0.05)


def test_longer_cartpole_pole_falls_slower() -> None:
    def steps_until_fall(length: float) -> int:
        env = make("rltransfer/CartPole-v0", length=length)
        env.reset(seed=0)
        return next(n for n in range(1, 10_000) if env.step(n % 2)[2])

    steps = [steps_until_fall(length) for length in (0.25, 0.5, 1.0, 2.0)]
    assert steps == sorted(steps) and len(set(steps)) == 4, steps


def test_negative_force_reverses_the_controls() -> None:
    state = [0.1, -0.2, 0.03, 0.1]
    reversed_env = make("rltransfer/CartPole-v0", force_mag=-10.0)
    normal_env = make("rltransfer/CartPole-v0", force_mag=10.0)
    for action in (0, 1):
        moved = step_from(reversed_env, state, action)
        np.testing.assert_array_equal(moved, step_from(normal_env, state, 1 - action))
    assert step_from(reversed_env, state, 1)[1] < state[1]  # action 1 now pushes left
    car, reversed_car = (make("rltransfer/MountainCar-v0", force=f) for f in (1e-3, -1e-3))
    moved = step_from(reversed_car, [-0.5, 0.01], 2)  # "push right", now left
    np.testing.assert_array_equal(moved, step_from(car, [-0.5, 0.01], 0))


def test_zero_and_negative_gravity_are_accepted_and_act() -> None:
    state = [0.0, 0.0, 0.05, 0.0]  # pole tilted right, at rest
    spins = {}
    for g in (-9.8, 0.0, 9.8):
        env = make("rltransfer/CartPole-v0", gravity=g)
        assert env.gravity == g
        spins[g] = step_from(env, state, 1)[3]
    assert spins[-9.8] < spins[0.0] < spins[9.8]


def test_derived_quantities_and_spaces_follow_the_parameters() -> None:
    cartpole = make("rltransfer/CartPole-v0", masscart=2.0, masspole=0.5, length=0.8)
    assert (cartpole.total_mass, cartpole.polemass_length) == pytest.approx((2.5, 0.4))

    def box(*high: float, low: tuple[float, ...] | None = None) -> spaces.Box:
        return spaces.Box(np.float32(low or [-h for h in high]), np.float32(high))

    acrobot = make("rltransfer/Acrobot-v0", MAX_VEL_1=2.0, MAX_VEL_2=3.0)
    assert acrobot.observation_space == box(1, 1, 1, 1, 2, 3)
    car = make("rltransfer/MountainCar-v0", min_position=-2.0, max_position=1.0, max_speed=0.1)
    assert car.observation_space == box(1.0, 0.1, low=(-2.0, -0.1))
    np.testing.assert_array_equal(car.low, np.float32([-2.0, -0.1]))
    pendulum = make("rltransfer/Pendulum-v0", max_speed=4.0, max_torque=0.5)
    assert (pendulum.observation_space, pendulum.action_space) == (box(1, 1, 4), box(0.5))


INVALID_BY_ID: dict[str, list[tuple[str, object]]] = {
    "rltransfer/CartPole-v0": [
        ("length", 0), ("masspole", -1), ("gravity", float("nan")), ("tau", "a"), ("tau", True),
        ("masscart", None), ("force_mag", float("inf")), ("gravity", np.bool_(True)),
    ],
    "rltransfer/Acrobot-v0": [("dt", 0), ("LINK_MOI", -1), ("MAX_VEL_2", 0), ("dt", "0.1")],
    "rltransfer/MountainCar-v0": [
        ("max_speed", 0.0), ("goal_position", 0.7), ("goal_position", -1.2),
        ("min_position", 0.6), ("max_position", 0.4),
    ],
    "rltransfer/Pendulum-v0": [("m", 0.0), ("l", -1.0), ("max_torque", 0.0), ("g", None)],
}  # fmt: skip
INVALID = [(env_id, *case) for env_id, cases in INVALID_BY_ID.items() for case in cases]


@pytest.mark.parametrize(("env_id", "param", "value"), INVALID, ids=lambda x: repr(x))
def test_invalid_values_raise_env_parameter_error(env_id: str, param: str, value: object) -> None:
    with pytest.raises(EnvParameterError) as info:
        gym.make(env_id, **{param: value})
    assert info.value.param == param
    assert isinstance(info.value, ValueError)
    assert str(info.value) == f"{param}: {info.value.reason}"


def test_numpy_and_integer_values_are_accepted_as_floats() -> None:
    env = make("rltransfer/CartPole-v0", length=np.float32(0.75), masscart=2, gravity=np.int64(3))
    assert (env.length, env.masscart, env.gravity) == (0.75, 2.0, 3.0)
    assert all(type(getattr(env, name)) is float for name in env.PARAMS)


@pytest.mark.parametrize("env_id", IDS)
def test_unknown_keyword_raises_type_error(env_id: str) -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'lenght'"):
        gym.make(env_id, lenght=1.0)


def test_signatures_list_the_parameters_with_their_defaults() -> None:
    for family in renvs.FAMILIES:
        cls = gym.envs.registration.load_env_creator(family.entry_point)
        params = inspect.signature(cls).parameters
        assert list(params) == ["render_mode", *family.params]
        for name, spec in family.params.items():
            assert params[name].default == spec.default
            assert f"``{name}`` = {spec.default!r}" in cls.__doc__
