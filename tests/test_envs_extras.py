"""The optional families: MiniGrid (extra ``minigrid``) and Atari via ale-py (extra ``atari``).

Each test skips when its package is missing (a failure in CI, where every extra is installed);
the import-error path is tested with the package hidden.
"""

from __future__ import annotations

import sys

import gymnasium as gym
import numpy as np
import pytest

from rltransfer.envs import EnvParameterError


def test_minigrid_family_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "minigrid", None)  # as if not installed: import fails
    with pytest.raises(ImportError, match=r'pip install "rltransfer\[minigrid\]"'):
        gym.make("rltransfer/MiniGrid-v0")


def test_atari_family_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ale_py", None)
    with pytest.raises(ImportError, match=r'pip install "rltransfer\[atari\]"'):
        gym.make("rltransfer/Atari-v0")


def test_bad_kwargs_are_caught_before_the_import() -> None:
    with pytest.raises(EnvParameterError) as info:
        gym.make("rltransfer/MiniGrid-v0", colors={"yellow": "blue"})  # blue stays blue: clash
    assert info.value.param == "colors"
    with pytest.raises(EnvParameterError) as info:
        gym.make("rltransfer/Atari-v0", repeat_action_probability=2)
    assert info.value.param == "repeat_action_probability"


def test_minigrid_doorkey_5x5_and_8x8_share_the_agent_view_shape() -> None:
    pytest.importorskip("minigrid")
    small = gym.make("rltransfer/MiniGrid-v0", task="MiniGrid-DoorKey-5x5-v0")
    large = gym.make("rltransfer/MiniGrid-v0", task="MiniGrid-DoorKey-8x8-v0")
    assert small.observation_space == large.observation_space
    assert small.observation_space.shape == (56, 56, 3)
    full = gym.make("rltransfer/MiniGrid-v0", task="MiniGrid-DoorKey-8x8-v0", view="full")
    assert full.observation_space.shape == (64, 64, 3)
    obs, _ = small.reset(seed=0)
    obs, reward, terminated, truncated, info = small.step(2)
    assert obs.dtype == np.uint8 and isinstance(reward, float)


def test_minigrid_colour_permutation_changes_pixels_not_the_task() -> None:
    pytest.importorskip("minigrid")

    def first(**kwargs: object) -> tuple[np.ndarray, np.ndarray]:
        env = gym.make("rltransfer/MiniGrid-v0", view="full", **kwargs)
        obs, _ = env.reset(seed=3)
        return obs.astype(int), env.unwrapped._env.unwrapped.grid.encode()[..., 0]  # obj types

    plain, types = first()
    swapped, swapped_types = first(colors={"yellow": "blue", "blue": "yellow"})
    np.testing.assert_array_equal(types, swapped_types)  # same layout, key and door
    # MiniGrid lightens the agent's field of view, so compare hues, not exact colours.
    r, g, b = np.moveaxis(plain, -1, 0)
    yellow = (r > 200) & (g > 200) & (b < 100)
    assert yellow.sum() > 5  # the key and the door frame, at 8 pixels per tile
    r, g, b = np.moveaxis(swapped, -1, 0)
    assert ((b > 200) & (r < 100) & (g < 100))[yellow].all()  # the key and door are blue now
    assert not ((r > 200) & (g > 200) & (b < 100)).any()
    with pytest.raises(EnvParameterError, match="task"):
        gym.make("rltransfer/MiniGrid-v0", task="MiniGrid-DoorKey-7x7-v0")


def test_atari_mode_and_difficulty() -> None:
    pytest.importorskip("ale_py")
    env = gym.make("rltransfer/Atari-v0", game="Breakout", mode=4, difficulty=1)
    obs, _ = env.reset(seed=0)
    assert obs.shape == (84, 84, 4) and env.observation_space.contains(obs)
    for _ in range(5):
        obs, reward, *_ = env.step(env.action_space.sample())
    assert isinstance(reward, float)
    ale_env = env.unwrapped._env.unwrapped
    assert (ale_env._game_mode, ale_env._game_difficulty) == (4, 1)
    with pytest.raises(EnvParameterError, match=r"mode: Breakout has modes \[0, 4"):
        gym.make("rltransfer/Atari-v0", game="Breakout", mode=3)
    with pytest.raises(EnvParameterError, match="game"):
        gym.make("rltransfer/Atari-v0", game="Breakoutt")
