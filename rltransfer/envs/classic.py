"""Parametrised classic-control families built on Gymnasium's own environments.

Each class subclasses the Gymnasium class of the same task, so the dynamics, rewards, termination
and rendering are Gymnasium's; only the physical constants become keyword arguments. With no
keyword arguments each family behaves exactly like the Gymnasium environment (same seed, same
actions, same observations). Invalid values raise ``EnvParameterError``; unknown keywords raise
``TypeError``.

The ``*_PARAMS`` mappings are the single source of truth for names, defaults and units.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
from gymnasium import spaces
from gymnasium.envs.classic_control import AcrobotEnv, CartPoleEnv, MountainCarEnv, PendulumEnv

from .base import EnvParameterError, Param, ParametrisedEnv, declare_params, resolve_params
from .render import cartpole_frame

ObsInfo = tuple[np.ndarray, dict[str, Any]]

CARTPOLE_PARAMS: Mapping[str, Param] = {
    "gravity": Param(9.8, "m/s^2", note="any sign"),
    "masscart": Param(1.0, "kg", positive=True),
    "masspole": Param(0.1, "kg", positive=True),
    "length": Param(0.5, "m", positive=True, note="half the pole's length"),
    "force_mag": Param(10.0, "N", note="a negative value swaps the two actions"),
    "tau": Param(0.02, "s", positive=True, note="Euler time step"),
}

ACROBOT_PARAMS: Mapping[str, Param] = {
    "LINK_LENGTH_1": Param(1.0, "m", positive=True),
    "LINK_LENGTH_2": Param(1.0, "m", positive=True, note="drawing only, not in the dynamics"),
    "LINK_MASS_1": Param(1.0, "kg", positive=True),
    "LINK_MASS_2": Param(1.0, "kg", positive=True),
    "LINK_COM_POS_1": Param(0.5, "m", note="from the joint; any sign"),
    "LINK_COM_POS_2": Param(0.5, "m", note="from the joint; any sign"),
    "LINK_MOI": Param(1.0, "kg m^2", positive=True, note="both links"),
    "MAX_VEL_1": Param(4 * math.pi, "rad/s", positive=True, note="4*pi"),
    "MAX_VEL_2": Param(9 * math.pi, "rad/s", positive=True, note="9*pi"),
    "dt": Param(0.2, "s", positive=True, note="RK4 step"),
}

MOUNTAINCAR_PARAMS: Mapping[str, Param] = {
    "min_position": Param(-1.2, note="track units; < goal_position"),
    "max_position": Param(0.6, note=">= goal_position"),
    "max_speed": Param(0.07, "per step", positive=True),
    "goal_position": Param(0.5),
    "goal_velocity": Param(0.0, "per step"),
    "force": Param(0.001, "per step^2", note="a negative value swaps the push directions"),
    "gravity": Param(0.0025, "per step^2", note="any sign"),
}

PENDULUM_PARAMS: Mapping[str, Param] = {
    "max_speed": Param(8.0, "rad/s", positive=True),
    "max_torque": Param(2.0, "N m", positive=True),
    "dt": Param(0.05, "s", positive=True),
    "g": Param(10.0, "m/s^2", note="any sign"),
    "m": Param(1.0, "kg", positive=True),
    "l": Param(1.0, "m", positive=True),
}


@declare_params
class CartPoleFamilyEnv(ParametrisedEnv, CartPoleEnv):
    """CartPole with its physical constants as keyword arguments.

    Observation: ``Box(4,) float32`` = cart position [m], cart velocity [m/s], pole angle [rad],
    pole angular velocity [rad/s]. The episode terminates when ``|x| > 2.4`` m or
    ``|angle| > 12`` degrees (these thresholds are not parameters).
    Action: ``Discrete(2)``; 0 pushes the cart with ``-force_mag``, 1 with ``+force_mag``.
    Reward: +1 per step.
    Rendering: ``render_mode="rgb_array"`` draws Gymnasium's picture with numpy (no pygame), a
    ``(screen_height, screen_width, 3)`` = ``(400, 600, 3)`` uint8 frame by default; see
    ``set_render_size``. ``"human"`` uses Gymnasium's pygame window.
    """

    PARAMS = CARTPOLE_PARAMS

    def __init__(self, render_mode: str | None = None, **params: float) -> None:
        values = resolve_params(type(self).__name__, self.PARAMS, params)
        super().__init__(render_mode=render_mode)
        self._set_params(values)
        self.total_mass = self.masspole + self.masscart
        self.polemass_length = self.masspole * self.length

    def set_render_size(self, height: int, width: int) -> None:
        """Draw ``rgb_array`` frames at ``(height, width)`` pixels (the picture is scaled)."""
        self.screen_height, self.screen_width = int(height), int(width)

    def render(self) -> np.ndarray | None:
        """The current frame ``(screen_height, screen_width, 3)`` uint8 for ``rgb_array`` (before
        the first reset, the cart at rest in the middle); Gymnasium's pygame for ``human``."""
        if self.render_mode != "rgb_array":
            return super().render()
        x, _, theta, _ = self.state if self.state is not None else (0.0, 0.0, 0.0, 0.0)
        return cartpole_frame(
            float(x), float(theta), self.length, self.x_threshold,
            self.screen_height, self.screen_width,
        )  # fmt: skip


@declare_params
class AcrobotFamilyEnv(ParametrisedEnv, AcrobotEnv):
    """Acrobot with its physical constants as keyword arguments (set on the instance).

    Observation: ``Box(6,) float32`` = cos, sin of joint 1 angle, cos, sin of joint 2 angle
    (unitless, in [-1, 1]), joint 1 angular velocity in [-MAX_VEL_1, MAX_VEL_1] [rad/s], joint 2
    angular velocity in [-MAX_VEL_2, MAX_VEL_2] [rad/s].
    Action: ``Discrete(3)``; torque -1, 0 or +1 [N m] on the joint between the links.
    Reward: -1 per step until ``-cos(t1) - cos(t1 + t2) > 1`` (the free end of two unit links
    one unit above the pivot; this test ignores the link lengths).
    Gravity is fixed at 9.8 m/s^2 inside Gymnasium's dynamics. At reset, the sampled angular
    velocities are clipped to ``[-MAX_VEL_i, MAX_VEL_i]`` (a no-op unless ``MAX_VEL_i < 0.1``).
    """

    PARAMS = ACROBOT_PARAMS

    def __init__(self, render_mode: str | None = None, **params: float) -> None:
        values = resolve_params(type(self).__name__, self.PARAMS, params)
        super().__init__(render_mode=render_mode)
        self._set_params(values)
        high = np.array([1.0, 1.0, 1.0, 1.0, self.MAX_VEL_1, self.MAX_VEL_2], dtype=np.float32)
        self.observation_space = spaces.Box(low=-high, high=high, dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> ObsInfo:
        """Reset as Gymnasium does, then keep the velocities within the observation bounds."""
        _, info = super().reset(seed=seed, options=options)
        assert self.state is not None
        self.state[2] = np.clip(self.state[2], -self.MAX_VEL_1, self.MAX_VEL_1)
        self.state[3] = np.clip(self.state[3], -self.MAX_VEL_2, self.MAX_VEL_2)
        return self._get_ob(), info


def _check_track(values: Mapping[str, float], given: Mapping[str, object]) -> None:
    """Require ``min_position < goal_position <= max_position``.

    The error names a parameter the caller set (``given``) rather than one left at its default.
    """
    low, goal, high = values["min_position"], values["goal_position"], values["max_position"]
    if not low < high:
        if "max_position" in given and "min_position" not in given:
            raise EnvParameterError(
                "max_position", f"must be > min_position ({low!r}), got {high!r}"
            )
        raise EnvParameterError("min_position", f"must be < max_position ({high!r}), got {low!r}")
    if not low < goal <= high:
        if "goal_position" in given:
            raise EnvParameterError(
                "goal_position",
                f"must satisfy min_position < goal_position <= max_position "
                f"({low!r} < goal <= {high!r}), got {goal!r}",
            )
        if not low < goal:
            raise EnvParameterError(
                "min_position", f"must be < goal_position ({goal!r}), got {low!r}"
            )
        raise EnvParameterError(
            "max_position", f"must be >= goal_position ({goal!r}), got {high!r}"
        )


@declare_params
class MountainCarFamilyEnv(ParametrisedEnv, MountainCarEnv):
    """MountainCar (discrete actions) with its constants as keyword arguments.

    Observation: ``Box(2,) float32`` = position in [min_position, max_position] (track units),
    velocity in [-max_speed, max_speed] (track units per step). The hill's shape,
    ``sin(3 x)``, is fixed.
    Action: ``Discrete(3)``; push left (-force), no push, push right (+force).
    Reward: -1 per step until ``position >= goal_position`` and ``velocity >= goal_velocity``.
    Gymnasium samples the start position in [-0.6, -0.4]; it is clipped to the track
    ``[min_position, max_position]`` (a no-op for tracks containing that interval).
    Requires ``min_position < goal_position <= max_position``.
    """

    PARAMS = MOUNTAINCAR_PARAMS

    def __init__(self, render_mode: str | None = None, **params: float) -> None:
        values = resolve_params(type(self).__name__, self.PARAMS, params)
        _check_track(values, params)
        super().__init__(render_mode=render_mode)
        self._set_params(values)
        self.low = np.array([self.min_position, -self.max_speed], dtype=np.float32)
        self.high = np.array([self.max_position, self.max_speed], dtype=np.float32)
        self.observation_space = spaces.Box(self.low, self.high, dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> ObsInfo:
        """Reset as Gymnasium does, then keep the start state on the track."""
        _, info = super().reset(seed=seed, options=options)
        position = np.clip(self.state[0], self.min_position, self.max_position)
        velocity = np.clip(self.state[1], -self.max_speed, self.max_speed)
        self.state = np.array([position, velocity])
        return np.array(self.state, dtype=np.float32), info


@declare_params
class PendulumFamilyEnv(ParametrisedEnv, PendulumEnv):
    """Pendulum swing-up with its constants as keyword arguments.

    Observation: ``Box(3,) float32`` = cos, sin of the angle from upright (unitless),
    angular velocity in [-max_speed, max_speed] [rad/s].
    Action: ``Box(1,) float32`` torque in [-max_torque, max_torque] [N m].
    Reward: ``-(angle^2 + 0.1 * velocity^2 + 0.001 * torque^2)`` per step; never terminates.
    Gymnasium samples the start velocity in [-1, 1] rad/s; it is clipped to
    ``[-max_speed, max_speed]`` (a no-op unless ``max_speed < 1``).
    """

    PARAMS = PENDULUM_PARAMS

    def __init__(self, render_mode: str | None = None, **params: float) -> None:
        values = resolve_params(type(self).__name__, self.PARAMS, params)
        super().__init__(render_mode=render_mode)
        self._set_params(values)
        high = np.array([1.0, 1.0, self.max_speed], dtype=np.float32)
        self.observation_space = spaces.Box(low=-high, high=high, dtype=np.float32)
        self.action_space = spaces.Box(
            low=-self.max_torque, high=self.max_torque, shape=(1,), dtype=np.float32
        )

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> ObsInfo:
        """Reset as Gymnasium does, then keep the start velocity within ``max_speed``."""
        _, info = super().reset(seed=seed, options=options)
        self.state[1] = np.clip(self.state[1], -self.max_speed, self.max_speed)
        return self._get_obs(), info
