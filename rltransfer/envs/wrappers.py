"""Pixel wrappers for any Gymnasium environment, numpy only (no OpenCV, no pygame).

=====================  ===========================================================================
``PixelObservation``   the observation becomes ``env.render()`` (``render_mode="rgb_array"``), HWC
``ResizePixels``       ``(H, W, C)`` or ``(H, W)`` -> ``(height, width, C)``, area or nearest
``GrayscalePixels``    ``(H, W, 3)`` -> ``(H, W, 1)``, ITU-R 601 luma
``StackFrames``        the last ``n`` frames concatenated on the channel axis: ``C`` -> ``n * C``
``ChannelOrder``       HWC -> CHW (``order="chw"``) or CHW -> HWC (``order="hwc"``)
``ColorPermutation``   permutes the colour channels, e.g. RGB -> BRG (an appearance shift)
``StateInInfo``        keeps the observation and copies it to ``info["state"]``: put it first, then
                       the pixel wrappers observe pixels with the state vector in the info
=====================  ===========================================================================

Every observation is ``uint8`` in ``[0, 255]``. In a study, name them by class
(``wrappers: [PixelObservation, {entry: ResizePixels, kwargs: {height: 64, width: 64}}]``).
A bad wrapper argument raises ``ValueError`` naming the wrapper and the argument.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = [
    "ChannelOrder",
    "ColorPermutation",
    "GrayscalePixels",
    "PixelObservation",
    "ResizePixels",
    "StackFrames",
    "StateInInfo",
    "AreaPlan",
    "resize",
]


def _positive_int(owner: str, name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
        raise ValueError(f"{owner}: {name} must be an integer >= 1, got {value!r}")
    return int(value)


def _image_box(owner: str, space: gym.Space, ndims: tuple[int, ...] = (3,)) -> spaces.Box:
    if (
        not isinstance(space, spaces.Box)
        or space.dtype != np.uint8
        or len(space.shape) not in ndims
    ):
        raise ValueError(
            f"{owner}: needs a uint8 image observation of {' or '.join(map(str, ndims))} "
            f"dimensions, got {space}"
        )
    return space


class AreaPlan:
    """Area averaging from ``n_in`` to ``n_out`` pixels along one axis, without BLAS.

    Output pixel ``i`` is the mean of the input over ``[i * n_in / n_out, (i + 1) * n_in / n_out)``
    with partial pixels weighted by overlap: the difference of the running sum, linearly
    interpolated at those edges. (A matrix product would do the same, but numpy's threaded BLAS
    can be 100x slower on a busy machine.)
    """

    def __init__(self, n_in: int, n_out: int) -> None:
        edges = np.arange(n_out + 1) * (n_in / n_out)
        self.k = np.minimum(np.floor(edges).astype(np.intp), n_in - 1)
        self.frac = (edges - self.k).astype(np.float32)
        self.scale = np.float32(n_out / n_in)

    def __call__(self, x: np.ndarray, axis: int) -> np.ndarray:
        """Resample float32 ``x`` along ``axis``."""
        running = np.cumsum(x, axis=axis, dtype=np.float32)
        zero = np.zeros_like(running.take([0], axis=axis))
        running = np.concatenate([zero, running], axis=axis)  # running sum before each pixel
        lo = np.take(running, self.k, axis=axis)
        hi = np.take(running, self.k + 1, axis=axis)
        frac = self.frac.reshape([-1 if a == axis else 1 for a in range(x.ndim)])
        at_edges = lo + (hi - lo) * frac
        return np.diff(at_edges, axis=axis) * self.scale


def resize(frame: np.ndarray, plan_y: AreaPlan, plan_x: AreaPlan) -> np.ndarray:
    """Area-resize ``frame`` ``(H, W, C)`` uint8 with the plans for its rows and columns:
    returns ``(h, w, C)`` uint8."""
    out = plan_x(plan_y(frame.astype(np.float32), axis=0), axis=1)
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


class PixelObservation(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """Observe ``env.render()``: ``Box(0, 255, (H, W, 3), uint8)``; or, with ``keep_state``,
    ``Dict(pixels=..., state=<the original observation>)``.

    The env must be made with ``render_mode="rgb_array"``. With ``height`` and ``width`` the frame
    is ``(height, width, 3)``: drawn at that size by envs with ``set_render_size`` (rltransfer's
    numpy CartPole), else area-resized. Rendering happens once per step, after the env's step.
    """

    def __init__(
        self, env: gym.Env, height: int | None = None, width: int | None = None,
        keep_state: bool = False,
    ) -> None:  # fmt: skip
        gym.utils.RecordConstructorArgs.__init__(
            self, height=height, width=width, keep_state=keep_state
        )
        super().__init__(env)
        if env.render_mode != "rgb_array":
            raise ValueError(
                f"PixelObservation: the environment's render_mode is {env.render_mode!r}; make it "
                "with render_mode='rgb_array' (in a study: kwargs: {render_mode: rgb_array})"
            )
        if (height is None) != (width is None):
            raise ValueError("PixelObservation: give both height and width, or neither")
        self._weights: tuple[AreaPlan, AreaPlan] | None = None
        if height is not None:
            height, width = (_positive_int("PixelObservation", k, v) for k, v in
                             (("height", height), ("width", width)))  # fmt: skip
            if hasattr(env.unwrapped, "set_render_size"):
                env.unwrapped.set_render_size(height, width)
        try:
            frame = env.render()
        except gym.error.ResetNeeded:  # gymnasium.make's OrderEnforcing wrapper
            frame = None
        if frame is None:  # some envs draw only after a reset
            env.reset()
            frame = env.render()
        if height is not None and frame.shape[:2] != (height, width):
            self._weights = (AreaPlan(frame.shape[0], height), AreaPlan(frame.shape[1], width))
            frame = resize(frame, *self._weights)
        pixels = spaces.Box(0, 255, frame.shape, np.uint8)
        self._keep_state = bool(keep_state)
        self.observation_space = (
            spaces.Dict({"pixels": pixels, "state": env.observation_space})
            if keep_state
            else pixels
        )

    def observation(self, observation: Any) -> Any:
        frame = self.env.render()
        if self._weights is not None:
            frame = resize(frame, *self._weights)
        return {"pixels": frame, "state": observation} if self._keep_state else frame


class ResizePixels(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """Resize images to ``(height, width, C)``; a 2-D ``(H, W)`` image becomes ``(h, w, 1)``.

    ``interpolation``: ``"area"`` (overlap-weighted average; default) or ``"nearest"``.
    """

    def __init__(
        self, env: gym.Env, height: int = 84, width: int = 84, interpolation: str = "area"
    ) -> None:
        gym.utils.RecordConstructorArgs.__init__(
            self, height=height, width=width, interpolation=interpolation
        )
        super().__init__(env)
        space = _image_box("ResizePixels", env.observation_space, (2, 3))
        h, w = _positive_int("ResizePixels", "height", height), _positive_int(
            "ResizePixels", "width", width)  # fmt: skip
        if interpolation not in ("area", "nearest"):
            raise ValueError(
                f"ResizePixels: interpolation must be 'area' or 'nearest', got {interpolation!r}"
            )
        big_h, big_w = space.shape[:2]
        channels = space.shape[2] if len(space.shape) == 3 else 1
        self._area = interpolation == "area"
        self._wy, self._wx = AreaPlan(big_h, h), AreaPlan(big_w, w)
        self._ys = ((np.arange(h) + 0.5) * big_h / h).astype(np.intp)[:, None]
        self._xs = ((np.arange(w) + 0.5) * big_w / w).astype(np.intp)[None, :]
        self.observation_space = spaces.Box(0, 255, (h, w, channels), np.uint8)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        frame = observation if observation.ndim == 3 else observation[..., None]
        if self._area:
            return resize(frame, self._wy, self._wx)
        return frame[self._ys, self._xs]


class GrayscalePixels(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """``(H, W, 3)`` RGB -> ``(H, W, 1)`` luma ``(77 R + 150 G + 29 B) >> 8``, uint8."""

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        super().__init__(env)
        space = _image_box("GrayscalePixels", env.observation_space)
        if space.shape[2] != 3:
            raise ValueError(f"GrayscalePixels: needs (H, W, 3) RGB, got shape {space.shape}")
        self.observation_space = spaces.Box(0, 255, (*space.shape[:2], 1), np.uint8)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        f = observation.astype(np.uint16)
        luma = (f[..., 0] * 77 + f[..., 1] * 150 + f[..., 2] * 29) >> 8
        return luma.astype(np.uint8)[..., None]


class StackFrames(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Concatenate the last ``n`` images on the channel axis (``axis``: -1 for HWC, 0 for CHW).

    ``(H, W, C)`` -> ``(H, W, n * C)``, oldest first. After a reset the stack holds ``n`` copies of
    the first frame.
    """

    def __init__(self, env: gym.Env, n: int = 4, axis: int = -1) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, n=n, axis=axis)
        super().__init__(env)
        space = _image_box("StackFrames", env.observation_space)
        self._n = _positive_int("StackFrames", "n", n)
        if axis not in (-1, 0, 2):
            raise ValueError(f"StackFrames: axis must be -1 (HWC) or 0 (CHW), got {axis!r}")
        self._axis = axis
        shape = list(space.shape)
        shape[axis] *= self._n
        self.observation_space = spaces.Box(0, 255, tuple(shape), np.uint8)
        self._frames: deque[np.ndarray] = deque(maxlen=self._n)

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        self._frames.extend([obs] * self._n)
        return np.concatenate(self._frames, axis=self._axis), info

    def step(self, action: Any) -> tuple[np.ndarray, Any, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._frames.append(obs)
        return np.concatenate(self._frames, axis=self._axis), reward, terminated, truncated, info


class ChannelOrder(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """Transpose images: ``order="chw"``: ``(H, W, C)`` -> ``(C, H, W)``; ``"hwc"``: back."""

    def __init__(self, env: gym.Env, order: str = "chw") -> None:
        gym.utils.RecordConstructorArgs.__init__(self, order=order)
        super().__init__(env)
        space = _image_box("ChannelOrder", env.observation_space)
        if order not in ("chw", "hwc"):
            raise ValueError(f"ChannelOrder: order must be 'chw' or 'hwc', got {order!r}")
        self._axes = (2, 0, 1) if order == "chw" else (1, 2, 0)
        shape = tuple(space.shape[i] for i in self._axes)
        self.observation_space = spaces.Box(0, 255, shape, np.uint8)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(observation.transpose(self._axes))


class ColorPermutation(gym.ObservationWrapper, gym.utils.RecordConstructorArgs):
    """Reorder the colour channels: output channel ``i`` is input channel ``perm[i]``
    (``(2, 0, 1)``: RGB -> BRG). ``channel_axis``: -1 (HWC) or 0 (CHW)."""

    def __init__(self, env: gym.Env, perm: Any = (2, 0, 1), channel_axis: int = -1) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, perm=perm, channel_axis=channel_axis)
        super().__init__(env)
        space = _image_box("ColorPermutation", env.observation_space)
        if channel_axis not in (-1, 0, 2):
            raise ValueError(f"ColorPermutation: channel_axis must be -1 or 0, got {channel_axis}")
        n = space.shape[channel_axis]
        items = list(perm) if isinstance(perm, list | tuple) else []
        if sorted(items) != list(range(n)) or not all(isinstance(i, int) for i in items):
            raise ValueError(f"ColorPermutation: perm must permute 0..{n - 1}, got {perm!r}")
        self._perm = np.array(items, dtype=np.intp)
        self._axis = channel_axis

    def observation(self, observation: np.ndarray) -> np.ndarray:
        return np.take(observation, self._perm, axis=self._axis)


class StateInInfo(gym.Wrapper, gym.utils.RecordConstructorArgs):
    """Keep the observation and also put a copy of it in ``info["state"]``, on reset and step;
    ``state_space`` is its space.

    Put it before the pixel wrappers (``[StateInInfo, PixelObservation, GrayscalePixels, ...]``):
    the agent then observes pixels while the info carries the underlying state vector, e.g. for
    distilling a state-based teacher into a pixel student (``distill`` with
    ``teacher_obs: state``). On an episode's end SB3's VecEnv resets the env itself: the state of
    the new episode's first observation is in ``VecEnv.reset_infos``, as for a reset.
    """

    KEY = "state"

    def __init__(self, env: gym.Env) -> None:
        gym.utils.RecordConstructorArgs.__init__(self)
        super().__init__(env)
        self.state_space = env.observation_space

    def reset(self, **kwargs: Any) -> tuple[Any, dict[str, Any]]:
        obs, info = self.env.reset(**kwargs)
        return obs, {**info, self.KEY: np.array(obs, copy=True)}

    def step(self, action: Any) -> tuple[Any, Any, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        return obs, reward, terminated, truncated, {**info, self.KEY: np.array(obs, copy=True)}
