"""Batched dynamics of the classic-control families: each ``step`` is Gymnasium's, written over
arrays of copies, operation for operation and in the same dtypes, so that observations, rewards
and terminations are bit-identical to the per-copy envs (``tests/test_evaluation_batched.py``).

Notes on exactness: numpy's float64 ``cos``/``sin`` on arrays are used only where they agree with
the scalar calls on this machine (``batched_core.elementwise``); scalars squared with ``**`` in
Gymnasium are squared one by one (``square_like_scalar``); a Python float times a float32 array
stays float32, as it does for a float32 scalar (NEP 50). Only the default integrators and
rewards are covered (CartPole: Euler, not Sutton-Barto; Acrobot: "book", no torque noise);
anything else steps copy by copy.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from .batched_core import (
    BatchedDynamics,
    StepResult,
    cos,
    register_batched,
    same_params,
    sin,
    square_like_scalar,
)
from .classic import AcrobotFamilyEnv, CartPoleFamilyEnv, MountainCarFamilyEnv, PendulumFamilyEnv


def _plain(envs: list) -> bool:
    return envs[0].render_mode != "human" and same_params(envs)


class _StateDynamics(BatchedDynamics):
    """A classic-control family whose copies keep their state in ``env.state``: the batch
    holds it as (n, ``state_size``) float64, read from each copy after its reset."""

    state_size: ClassVar[int]

    @classmethod
    def supports(cls, envs: list) -> bool:
        return _plain(envs)

    def __init__(self, envs: list):
        super().__init__(envs)
        self.state = np.zeros((self.n, self.state_size), dtype=np.float64)

    def load(self, i: int) -> None:
        self.state[i] = self.envs[i].state

    def independent_episodes(self) -> bool:
        """The covered configurations have no noise: ``step`` draws nothing, and ``reset``
        draws the whole state."""
        return True


@register_batched(CartPoleFamilyEnv)
class CartPoleDynamics(_StateDynamics):
    """State (n, 4) float64: x [m], x_dot [m/s], theta [rad], theta_dot [rad/s]."""

    @classmethod
    def supports(cls, envs: list) -> bool:
        e = envs[0]
        return _plain(envs) and e.kinematics_integrator == "euler" and not e._sutton_barto_reward

    state_size = 4

    def step(self, actions: np.ndarray) -> StepResult:
        e = self.envs[0]
        x, x_dot, theta, theta_dot = (self.state[:, k] for k in range(4))
        force = np.where(np.asarray(actions).reshape(-1) == 1, e.force_mag, -e.force_mag)
        costheta, sintheta = cos(theta), sin(theta)
        temp = (force + e.polemass_length * np.square(theta_dot) * sintheta) / e.total_mass
        thetaacc = (e.gravity * sintheta - costheta * temp) / (
            e.length * (4.0 / 3.0 - e.masspole * np.square(costheta) / e.total_mass)
        )
        xacc = temp - e.polemass_length * thetaacc * costheta / e.total_mass
        x = x + e.tau * x_dot
        x_dot = x_dot + e.tau * xacc
        theta = theta + e.tau * theta_dot
        theta_dot = theta_dot + e.tau * thetaacc
        self.state = np.stack([x, x_dot, theta, theta_dot], axis=1)
        terminated = (
            (x < -e.x_threshold)
            | (x > e.x_threshold)
            | (theta < -e.theta_threshold_radians)
            | (theta > e.theta_threshold_radians)
        )
        return self.state.astype(np.float32), np.ones(self.n), terminated


@register_batched(MountainCarFamilyEnv)
class MountainCarDynamics(_StateDynamics):
    """State (n, 2) float64: position, velocity (track units, per step)."""

    state_size = 2

    def step(self, actions: np.ndarray) -> StepResult:
        e = self.envs[0]
        position, velocity = self.state[:, 0], self.state[:, 1]
        a = np.asarray(actions).reshape(-1).astype(np.int64)
        velocity = velocity + ((a - 1) * e.force + cos(3 * position) * (-e.gravity))
        velocity = np.clip(velocity, -e.max_speed, e.max_speed)
        position = position + velocity
        position = np.clip(position, e.min_position, e.max_position)
        velocity = np.where((position == e.min_position) & (velocity < 0), 0.0, velocity)
        terminated = (position >= e.goal_position) & (velocity >= e.goal_velocity)
        self.state = np.stack([position, velocity], axis=1)
        return self.state.astype(np.float32), np.full(self.n, -1.0), terminated


@register_batched(PendulumFamilyEnv)
class PendulumDynamics(_StateDynamics):
    """State (n, 2) float64: angle from upright [rad], angular velocity [rad/s]."""

    state_size = 2

    def step(self, actions: np.ndarray) -> StepResult:
        e = self.envs[0]
        th, thdot = self.state[:, 0], self.state[:, 1]
        g, m, length, dt = e.g, e.m, e.l, e.dt
        u = np.clip(np.asarray(actions).reshape(self.n, -1), -e.max_torque, e.max_torque)[:, 0]
        normalized = ((th + np.pi) % (2 * np.pi)) - np.pi
        costs = (
            square_like_scalar(normalized)
            + 0.1 * square_like_scalar(thdot)
            + 0.001 * square_like_scalar(u)
        )
        newthdot = thdot + (3 * g / (2 * length) * sin(th) + 3.0 / (m * length**2) * u) * dt
        newthdot = np.clip(newthdot, -e.max_speed, e.max_speed)
        newth = th + newthdot * dt
        self.state = np.stack([newth, newthdot], axis=1)
        obs = np.stack([cos(newth), sin(newth), newthdot], axis=1).astype(np.float32)
        return obs, -costs, np.zeros(self.n, dtype=bool)


def _wrap(x: np.ndarray, m: float, big_m: float) -> np.ndarray:
    diff = big_m - m
    while (x > big_m).any():
        x = np.where(x > big_m, x - diff, x)
    while (x < m).any():
        x = np.where(x < m, x + diff, x)
    return x


def _bound(x: np.ndarray, m: float, big_m: float) -> np.ndarray:
    """Python's ``min(max(x, m), M)``: ``max`` keeps ``x`` unless ``m > x``."""
    y = np.where(m > x, m, x)
    return np.where(big_m < y, big_m, y)


@register_batched(AcrobotFamilyEnv)
class AcrobotDynamics(_StateDynamics):
    """State (n, 4) float64: joint angles [rad], joint angular velocities [rad/s]."""

    @classmethod
    def supports(cls, envs: list) -> bool:
        e = envs[0]
        return _plain(envs) and e.torque_noise_max == 0 and e.book_or_nips == "book"

    state_size = 4

    def _dsdt(self, s: np.ndarray) -> np.ndarray:
        """Gymnasium's ``AcrobotEnv._dsdt`` ("book" dynamics) over rows of (n, 5)."""
        e = self.envs[0]
        m1, m2, l1 = e.LINK_MASS_1, e.LINK_MASS_2, e.LINK_LENGTH_1
        lc1, lc2, i1, i2 = e.LINK_COM_POS_1, e.LINK_COM_POS_2, e.LINK_MOI, e.LINK_MOI
        g, pi = 9.8, np.pi
        a, theta1, theta2, dtheta1, dtheta2 = s[:, 4], s[:, 0], s[:, 1], s[:, 2], s[:, 3]
        sq = square_like_scalar
        d1 = m1 * lc1**2 + m2 * (l1**2 + lc2**2 + 2 * l1 * lc2 * cos(theta2)) + i1 + i2
        d2 = m2 * (lc2**2 + l1 * lc2 * cos(theta2)) + i2
        phi2 = m2 * lc2 * g * cos(theta1 + theta2 - pi / 2.0)
        phi1 = (
            -m2 * l1 * lc2 * sq(dtheta2) * sin(theta2)
            - 2 * m2 * l1 * lc2 * dtheta2 * dtheta1 * sin(theta2)
            + (m1 * lc1 + m2 * l1) * g * cos(theta1 - pi / 2)
            + phi2
        )
        ddtheta2 = (a + d2 / d1 * phi1 - m2 * l1 * lc2 * sq(dtheta1) * sin(theta2) - phi2) / (
            m2 * lc2**2 + i2 - sq(d2) / d1
        )
        ddtheta1 = -(d2 * ddtheta2 + phi1) / d1
        return np.stack([dtheta1, dtheta2, ddtheta1, ddtheta2, np.zeros(self.n)], axis=1)

    def step(self, actions: np.ndarray) -> StepResult:
        e = self.envs[0]
        torque = np.array(e.AVAIL_TORQUE, dtype=np.float64)[np.asarray(actions).reshape(-1)]
        y0 = np.concatenate([self.state, torque[:, None]], axis=1)
        dt = e.dt - 0
        dt2 = dt / 2.0
        k1 = self._dsdt(y0)
        k2 = self._dsdt(y0 + dt2 * k1)
        k3 = self._dsdt(y0 + dt2 * k2)
        k4 = self._dsdt(y0 + dt * k3)
        ns = (y0 + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4))[:, :4]
        s = np.stack(
            [
                _wrap(ns[:, 0], -np.pi, np.pi),
                _wrap(ns[:, 1], -np.pi, np.pi),
                _bound(ns[:, 2], -e.MAX_VEL_1, e.MAX_VEL_1),
                _bound(ns[:, 3], -e.MAX_VEL_2, e.MAX_VEL_2),
            ],
            axis=1,
        )
        self.state = s
        terminated = -cos(s[:, 0]) - cos(s[:, 1] + s[:, 0]) > 1.0
        obs = np.stack(
            [cos(s[:, 0]), sin(s[:, 0]), cos(s[:, 1]), sin(s[:, 1]), s[:, 2], s[:, 3]], axis=1
        ).astype(np.float32)
        return obs, np.where(terminated, 0.0, -1.0), terminated
