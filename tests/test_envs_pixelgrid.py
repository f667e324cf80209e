"""PixelGrid: each knob moves its own axis alone; pixels match the state; bad values are named."""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym
import numpy as np
import pytest

from rltransfer.envs import EnvParameterError
from rltransfer.envs.pixelgrid_parts import PALETTES

ID = "rltransfer/PixelGrid-v0"
UP, DOWN, LEFT, RIGHT = range(4)
DRIFT = [DOWN, RIGHT, DOWN, RIGHT, UP, LEFT, DOWN]


def make(**kwargs: Any) -> gym.Env:
    return gym.make(ID, **kwargs)


def rollout(n: int = 40, seed: int = 5, **kwargs: Any) -> dict[str, np.ndarray]:
    """Pixels ``(T, H, W, 3)``, states ``(T, 4)``, rewards ``(T - 1,)`` under a fixed action
    sequence (drifting down and right, to the default goal) from ``reset(seed)``, over episode
    ends (the env is reset with no seed)."""
    env = make(obs_mode="both", **kwargs)
    obs, _ = env.reset(seed=seed)
    pixels, states, rewards = [obs["pixels"]], [obs["state"]], []
    for i in range(n):
        obs, reward, terminated, truncated, _ = env.step(DRIFT[i % len(DRIFT)])
        pixels.append(obs["pixels"])
        states.append(obs["state"])
        rewards.append(reward)
        if terminated or truncated:
            obs, _ = env.reset()
    return {"pixels": np.stack(pixels), "state": np.stack(states), "reward": np.array(rewards)}


BASE = rollout()
# Knob -> a value and the axes of the rollout it must change (the others must stay identical).
EFFECTS: list[tuple[dict[str, Any], set[str]]] = [
    ({"palette": "light"}, {"pixels"}),
    ({"palette": {"agent": [0, 0, 255]}}, {"pixels"}),
    ({"texture": "checker"}, {"pixels"}),
    ({"texture": "stripes"}, {"pixels"}),
    ({"texture": "noise"}, {"pixels"}),
    ({"noise": 0.3}, {"pixels"}),
    ({"distractors": 4}, {"pixels"}),
    ({"appearance_seed": 3, "texture": "noise"}, {"pixels"}),
    ({"goal": "top-right"}, {"pixels", "state", "reward"}),
    ({"start": [1, 1]}, {"pixels", "state", "reward"}),
    ({"layout": "rooms"}, {"pixels", "state", "reward"}),
    ({"slip": 0.5}, {"pixels", "state", "reward"}),
    ({"action_perm": [1, 0, 3, 2]}, {"pixels", "state", "reward"}),
    ({"step_penalty": 0.05}, {"reward"}),
    ({"goal_reward": 5.0}, {"reward"}),
    ({"shaping": 0.1}, {"reward"}),
]


@pytest.mark.parametrize(("kwargs", "changed"), EFFECTS, ids=lambda x: str(x))
def test_each_knob_changes_its_axis_alone(kwargs: dict[str, Any], changed: set[str]) -> None:
    base = BASE
    assert (base["reward"] == 1.0).sum() >= 2  # the goal is reached, episodes restart
    out = rollout(**kwargs)
    for key in ("pixels", "state", "reward"):
        same = np.array_equal(base[key], out[key])
        assert same != (key in changed), f"{key} {'unchanged' if same else 'changed'}"


def test_pixels_show_the_state() -> None:
    env = make(obs_mode="both", size=64, grid=8, start=[1, 1])
    obs, _ = env.reset(seed=0)
    colours = PALETTES["classic"]
    assert tuple(obs["pixels"][8, 8]) == colours["agent"]  # cell [1, 1] = pixels 8..15
    assert tuple(obs["pixels"][48, 48]) == colours["goal"]  # bottom-right floor cell [6, 6]
    assert tuple(obs["pixels"][0, 0]) == colours["wall"]
    assert tuple(obs["pixels"][20, 20]) == colours["floor"]
    np.testing.assert_allclose(obs["state"], np.float32([1, 1, 6, 6]) / 7)
    obs, *_ = env.step(RIGHT)
    assert env.unwrapped.agent_cell == (1, 2)
    assert tuple(obs["pixels"][8, 16]) == colours["agent"]
    assert tuple(obs["pixels"][8, 8]) == colours["floor"]
    rendering = make(render_mode="rgb_array", distractors=2, noise=0.5)
    obs, _ = rendering.reset(seed=0)
    np.testing.assert_array_equal(rendering.render(), obs)


def test_walls_block_and_the_goal_ends_the_episode_with_its_reward() -> None:
    env = make(obs_mode="state", start=[6, 5], step_penalty=0.1, goal_reward=2.0)
    env.reset(seed=0)
    assert env.step(DOWN)[1:3] == (-0.1, False)  # into the border wall: stays
    assert env.unwrapped.agent_cell == (6, 5)
    assert env.step(RIGHT)[1:3] == (2.0, True)


def test_slip_and_action_permutation() -> None:
    env = make(obs_mode="state", start=[3, 3], action_perm=[1, 0, 3, 2])
    env.reset(seed=0)
    env.step(UP)  # now moves down
    assert env.unwrapped.agent_cell == (4, 3)
    slippery = make(obs_mode="state", start=[3, 3], slip=0.99)
    slippery.reset(seed=0)
    cells = set()
    for _ in range(30):
        slippery.step(UP)
        cells.add(slippery.unwrapped.agent_cell[1])
    assert len(cells) > 1  # "up" alone never changes the column; slipping does


def test_shaping_rewards_progress_along_the_shortest_path() -> None:
    env = make(obs_mode="state", layout="wall", start=[6, 3], goal=[6, 6], shaping=1.0,
               step_penalty=0.0)  # fmt: skip
    env.reset(seed=0)
    assert env.step(RIGHT)[1] == 0.0  # into the wall at column 4: no move, no progress
    assert env.step(UP)[1] == 1.0  # the way round the wall (its gap is in row 1)
    assert env.step(DOWN)[1] == -1.0


def test_random_goal_and_start_vary_per_episode_and_follow_the_seed() -> None:
    env = make(obs_mode="state", goal="random")
    goals = set()
    for seed in range(12):
        state, _ = env.reset(seed=seed)
        goals.add(env.unwrapped.goal_cell)
        assert env.unwrapped.agent_cell != env.unwrapped.goal_cell
    assert len(goals) > 3
    a, b = env.reset(seed=4)[0], env.reset(seed=4)[0]
    np.testing.assert_array_equal(a, b)


def test_layouts_sizes_and_custom_maps() -> None:
    rooms = make(layout="rooms", grid=9, obs_mode="both", size=27).unwrapped
    assert rooms.observation_space["pixels"].shape == (27, 27, 3)
    walls = rooms._walls
    assert walls[4].sum() == 9 - 2 and walls[:, 4].sum() == 9 - 2  # two doorways per wall
    custom = make(layout=["#####", "#...#", "#.#.#", "#...#", "#####"], goal=[3, 3], size=20)
    obs, _ = custom.reset(seed=0)
    assert obs.shape == (20, 20, 3) and custom.unwrapped.rows == 5


INVALID: list[tuple[dict[str, Any], str]] = [
    ({"layout": "maze"}, "layout"),
    ({"layout": ["#.", "##."]}, "layout"),
    ({"layout": ["#.#", "###", "#.#"]}, "layout"),  # two floor cells that cannot meet
    ({"layout": ["##", "##"]}, "layout"),  # no floor
    ({"layout": ["#.", ".#"], "grid": 5}, "grid"),
    ({"grid": 3}, "grid"),
    ({"grid": 4, "layout": "rooms"}, "grid"),
    ({"goal": [0, 0]}, "goal"),
    ({"goal": [99, 1]}, "goal"),
    ({"goal": "middle"}, "goal"),
    ({"start": [1, 1], "goal": [1, 1]}, "start"),
    ({"slip": 1.0}, "slip"),
    ({"slip": -0.1}, "slip"),
    ({"action_perm": [0, 0, 1, 2]}, "action_perm"),
    ({"palette": "neon"}, "palette"),
    ({"palette": {"floor": [300, 0, 0]}}, "palette.floor"),
    ({"palette": {"sky": [0, 0, 0]}}, "palette.sky"),
    ({"texture": "wood"}, "texture"),
    ({"noise": 2}, "noise"),
    ({"distractors": -1}, "distractors"),
    ({"distractors": 1.5}, "distractors"),
    ({"obs_mode": "rgb"}, "obs_mode"),
    ({"size": 6}, "size"),
    ({"step_penalty": float("nan")}, "step_penalty"),
    ({"grid": True}, "grid"),
]


@pytest.mark.parametrize(("kwargs", "param"), INVALID, ids=lambda x: str(x))
def test_invalid_values_raise_env_parameter_error(kwargs: dict[str, Any], param: str) -> None:
    with pytest.raises(EnvParameterError) as info:
        make(**kwargs)
    assert info.value.param == param


def test_unknown_keyword_and_render_mode() -> None:
    with pytest.raises(TypeError, match="unexpected keyword argument 'slipp'"):
        make(slipp=0.1)
    env = make(render_mode="rgb_array", obs_mode="state", size=32)
    env.reset(seed=0)
    assert env.render().shape == (32, 32, 3)


def test_is_fast() -> None:
    """Loose bound (the benchmark measures the real rate): > 5,000 steps/s at 64 x 64."""
    env = make(distractors=2, noise=0.2)
    env.reset(seed=0)
    start, n = time.perf_counter(), 3000
    for i in range(n):
        if any(env.step(i % 4)[2:4]):
            env.reset()
    assert n / (time.perf_counter() - start) > 5000
