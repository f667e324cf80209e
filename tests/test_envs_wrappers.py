"""Pixel wrappers and the numpy CartPole renderer (pixel CartPole without pygame)."""

from __future__ import annotations

import warnings
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env
from stable_baselines3.common.env_checker import check_env as sb3_check_env

from rltransfer.envs.render import POLE_RGB
from rltransfer.envs.wrappers import (
    AreaPlan,
    ChannelOrder,
    ColorPermutation,
    GrayscalePixels,
    PixelObservation,
    ResizePixels,
    StackFrames,
)


def cartpole(**kwargs: Any) -> gym.Env:
    return gym.make("rltransfer/CartPole-v0", render_mode="rgb_array", **kwargs)


def pixel_cartpole(size: int = 64) -> gym.Env:
    """The README's pixel CartPole: render, gray, stack 2 frames -> (size, size, 2)."""
    return StackFrames(GrayscalePixels(PixelObservation(cartpole(), size, size)), n=2)


def test_cartpole_renders_with_numpy_at_any_size() -> None:
    env = cartpole()
    assert env.unwrapped.render().shape == (400, 600, 3)  # before any reset: at rest, centred
    env.reset(seed=0)
    frame = env.render()
    assert frame.shape == (400, 600, 3) and frame.dtype == np.uint8
    assert (frame == POLE_RGB).all(axis=-1).sum() > 500  # a 10 x 100-pixel pole
    assert (frame == 0).all(axis=-1)[300].all()  # the track
    env.unwrapped.state = np.array([0.0, 0.0, 0.2, 0.0])
    tilted = env.render()
    pole_cols = np.flatnonzero((tilted == POLE_RGB).all(axis=-1).any(axis=0))
    assert pole_cols.mean() > 310  # leaning right of the centre (300)
    env.unwrapped.set_render_size(48, 64)
    assert env.render().shape == (48, 64, 3)
    longer = cartpole(length=1.0)
    longer.reset(seed=0)
    assert (longer.render() == POLE_RGB).all(axis=-1).sum() > 1.8 * (frame == POLE_RGB).all(
        axis=-1).sum()  # fmt: skip


def test_pixel_cartpole_passes_both_checkers() -> None:
    env = pixel_cartpole()
    assert env.observation_space == spaces.Box(0, 255, (64, 64, 2), np.uint8)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "env is wrapped": the wrappers are what is checked
        check_env(env, skip_render_check=True)
        sb3_check_env(env, warn=False)
    obs, _ = env.reset(seed=1)
    np.testing.assert_array_equal(obs[..., 0], obs[..., 1])  # both frames the first one
    obs, *_ = env.step(1)
    assert not np.array_equal(obs[..., 0], obs[..., 1])


def test_pixel_observation_options_and_errors() -> None:
    both = PixelObservation(cartpole(), 32, 48, keep_state=True)
    obs, _ = both.reset(seed=0)
    assert obs["pixels"].shape == (32, 48, 3) and obs["state"].shape == (4,)
    assert both.observation_space["state"] == cartpole().observation_space
    # An env without set_render_size is rendered at its size, then area-resized.
    grid = gym.make("rltransfer/PixelGrid-v0", render_mode="rgb_array", obs_mode="state", size=32)
    small = PixelObservation(grid, 16, 16)
    obs, _ = small.reset(seed=0)
    assert obs.shape == (16, 16, 3) and small.observation_space.contains(obs)
    with pytest.raises(ValueError, match="render_mode='rgb_array'"):
        PixelObservation(gym.make("rltransfer/CartPole-v0"))
    with pytest.raises(ValueError, match="both height and width"):
        PixelObservation(cartpole(), height=32)


class Fixed(gym.Env):
    """Observes a fixed image (given), for checking wrappers pixel by pixel."""

    def __init__(self, image: np.ndarray) -> None:
        self.image = image
        self.observation_space = spaces.Box(0, 255, image.shape, np.uint8)
        self.action_space = spaces.Discrete(2)
        self.t = 0

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        self.t = 0
        return self.image.copy(), {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        self.t += 1
        return (self.image + self.t).astype(np.uint8), 0.0, False, False, {}


def test_resize_area_and_nearest() -> None:
    image = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
    obs, _ = ResizePixels(Fixed(image), 2, 3).reset()
    expected = image.reshape(2, 2, 3, 2, 3).astype(float).mean(axis=(1, 3))  # 2 x 2 blocks
    np.testing.assert_array_equal(obs, np.floor(expected + 0.5).astype(np.uint8))
    nearest, _ = ResizePixels(Fixed(image), 2, 3, interpolation="nearest").reset()
    np.testing.assert_array_equal(nearest, image[1::2, 1::2])
    gray2d = ResizePixels(Fixed(np.full((10, 7), 9, np.uint8)), 5, 5)
    assert gray2d.observation_space.shape == (5, 5, 1)
    np.testing.assert_array_equal(gray2d.reset()[0], 9)  # a flat image stays flat
    # A non-integer ratio (7 -> 3): each output is the overlap-weighted mean of its 7/3 inputs.
    row = np.arange(7, dtype=np.float32) * 10
    third = 7 / 3
    expected = [row[0] + row[1] + row[2] / 3, row[2] * 2 / 3 + row[3] + row[4] * 2 / 3,
                row[4] / 3 + row[5] + row[6]]  # fmt: skip
    np.testing.assert_allclose(AreaPlan(7, 3)(row, axis=0), np.array(expected) / third, rtol=1e-5)
    with pytest.raises(ValueError, match="ResizePixels: height"):
        ResizePixels(Fixed(image), 0, 3)
    with pytest.raises(ValueError, match="interpolation"):
        ResizePixels(Fixed(image), 2, 3, interpolation="cubic")


def test_grayscale_channel_order_and_colour_permutation() -> None:
    image = np.zeros((2, 2, 3), np.uint8)
    image[0, 0] = (255, 255, 255)
    image[0, 1] = (255, 0, 0)
    gray, _ = GrayscalePixels(Fixed(image)).reset()
    assert gray.shape == (2, 2, 1) and gray[0, 0, 0] == 255 and gray[0, 1, 0] == 76
    chw = ChannelOrder(Fixed(image))
    assert chw.observation_space.shape == (3, 2, 2)
    back = ChannelOrder(chw, order="hwc")
    np.testing.assert_array_equal(back.reset()[0], image)
    brg, _ = ColorPermutation(Fixed(image), perm=[2, 0, 1]).reset()
    assert tuple(brg[0, 1]) == (0, 255, 0)
    with pytest.raises(ValueError, match="perm"):
        ColorPermutation(Fixed(image), perm=[0, 0, 1])
    with pytest.raises(ValueError, match="GrayscalePixels: needs"):
        GrayscalePixels(Fixed(np.zeros((2, 2, 1), np.uint8)))
    with pytest.raises(ValueError, match="ChannelOrder: needs a uint8 image"):
        ChannelOrder(gym.make("rltransfer/CartPole-v0"))


def test_stack_frames_shifts_oldest_first() -> None:
    env = StackFrames(Fixed(np.zeros((2, 2, 1), np.uint8)), n=3)
    assert env.observation_space.shape == (2, 2, 3)
    assert env.reset()[0][0, 0].tolist() == [0, 0, 0]
    env.step(0)
    assert env.step(0)[0][0, 0].tolist() == [0, 1, 2]
    chw = StackFrames(Fixed(np.zeros((1, 2, 2), np.uint8)), n=2, axis=0)
    assert chw.observation_space.shape == (2, 2, 2)


def test_study_files_name_the_wrappers_briefly() -> None:
    from rltransfer.config.parse import FieldError
    from rltransfer.config.spec import EnvSpec, WrapperSpec
    from rltransfer.environments import make_env, resolve_wrapper

    assert resolve_wrapper(WrapperSpec("PixelObservation"), "w") is PixelObservation
    assert resolve_wrapper(WrapperSpec("TimeLimit"), "w") is gym.wrappers.TimeLimit
    with pytest.raises(FieldError, match="did you mean 'StackFrames'"):
        resolve_wrapper(WrapperSpec("StackFrame"), "w")
    spec = EnvSpec(
        "rltransfer/CartPole-v0",
        {"render_mode": "rgb_array"},
        [WrapperSpec("PixelObservation", {"height": 40, "width": 40}),
         WrapperSpec("GrayscalePixels"), WrapperSpec("StackFrames", {"n": 4})],
    )  # fmt: skip
    assert make_env(spec).observation_space.shape == (40, 40, 4)


def test_readme_pixel_cartpole_block_builds() -> None:
    import re
    from pathlib import Path

    import yaml

    from rltransfer.config.parse import parse_dataclass
    from rltransfer.config.spec import EnvSpec
    from rltransfer.environments import make_env

    readme = (Path(__file__).parents[1] / "README.md").read_text()
    start = readme.index("Pixel CartPole, with a longer pole")
    block = re.compile(r"```yaml\n(.*?)```", re.S).search(readme, start).group(1)
    env = make_env(parse_dataclass(EnvSpec, yaml.safe_load(block)["target"]["env"], "env"))
    assert env.observation_space.shape == (64, 64, 4)
    assert env.unwrapped.length == 1.0


def test_delegating_env_forwards_and_converts():
    """The base of the MiniGrid and Atari families forwards to its inner env."""
    import gymnasium as gym
    import numpy as np

    from rltransfer.envs.base import DelegatingEnv

    class Outer(DelegatingEnv):
        def __init__(self):
            self._env = gym.make("CartPole-v1")
            self.observation_space = self._env.observation_space
            self.action_space = self._env.action_space

    outer, inner = Outer(), gym.make("CartPole-v1")
    obs, info = outer.reset(seed=3)
    np.testing.assert_array_equal(obs, inner.reset(seed=3)[0])
    assert type(info) is dict
    step = outer.step(1)
    np.testing.assert_array_equal(step[0], inner.step(1)[0])
    assert type(step[1]) is float and type(step[2]) is bool
    outer.close()
