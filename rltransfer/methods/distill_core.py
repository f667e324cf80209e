"""The pieces of ``distill`` that do not depend on the run: the teacher's labels, the student's
action distribution, the supervised loss and the action agreement (the aggregated dataset:
``rltransfer.methods.distill_dataset``).

Labels are the teacher's action distribution, computed once when a state is visited (the teacher
is frozen): categorical ``logits`` (PPO/A2C over a Discrete space; DQN: Q / temperature), or a
diagonal Gaussian's ``mean`` and ``std`` (PPO/A2C over a Box space), and optionally the teacher's
state ``value``. ``action`` is the teacher's deterministic action (argmax or mean), which the
agreement compares with the student's.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from stable_baselines3.common.distributions import Distribution

BOX_TOLERANCE = 0.05
"""Box actions agree when every dimension is within this fraction of the action range (0.1
absolute for an unbounded dimension)."""


@dataclass
class Labels:
    """The teacher's labels for a batch of states (numpy, first axis = state)."""

    action: np.ndarray
    logits: np.ndarray | None = None
    mean: np.ndarray | None = None
    std: np.ndarray | None = None
    value: np.ndarray | None = None


def teacher_labels(teacher: Any, dist: Distribution, inputs: torch.Tensor, value: bool) -> Labels:
    """``dist``: the teacher's distribution for the prepared ``inputs``."""
    inner = dist.distribution
    v = None
    if value:
        with torch.no_grad():
            v = teacher.policy.predict_values(inputs).flatten().cpu().numpy()
    mode = dist.mode().detach().cpu().numpy()
    if isinstance(inner, torch.distributions.Categorical):
        return Labels(mode, logits=inner.logits.detach().cpu().numpy(), value=v)
    if isinstance(inner, torch.distributions.Normal):
        mean, std = inner.loc.detach().cpu().numpy(), inner.scale.detach().cpu().numpy()
        return Labels(mode, mean=mean, std=std, value=v)
    raise ValueError(f"distill cannot label with a {type(inner).__name__} teacher distribution")


def env_actions(dist: Distribution, space: gym.Space, deterministic: bool) -> np.ndarray:
    """Actions as the env takes them: the distribution's mode or a sample, clipped for a Box."""
    with torch.no_grad():
        a = (dist.mode() if deterministic else dist.sample()).cpu().numpy()
    if isinstance(space, gym.spaces.Box):
        a = np.clip(a, space.low, space.high)
    return a


def student_distribution(policy: Any, algo: str, obs: torch.Tensor, temperature: float) -> Any:
    """The student's action distribution (a torch distribution, with gradients): DQN students
    give a categorical over Q / ``temperature``."""
    if algo == "dqn":
        return torch.distributions.Categorical(logits=policy.q_net(obs) / temperature)
    return policy.get_distribution(obs).distribution


def student_actions(
    policy: Any, algo: str, obs: torch.Tensor, temperature: float, deterministic: bool
) -> np.ndarray:
    """The student's actions (argmax / mean, or sampled), before any clipping."""
    with torch.no_grad():
        d = student_distribution(policy, algo, obs, temperature)
        if deterministic:
            a = d.probs.argmax(-1) if isinstance(d, torch.distributions.Categorical) else d.mean
        else:
            a = d.sample()
    return a.cpu().numpy()


def distill_loss(
    student: Any, batch: dict[str, torch.Tensor], loss: str, value: torch.Tensor | None
) -> torch.Tensor:
    """The supervised loss of one batch, averaged over states.

    ``kl``: KL(π_T ‖ π_S) (categorical: the teacher's probabilities against the student's;
    Gaussian: closed form, summed over action dimensions). ``nll``: −log π_S(a_T) of the
    teacher's deterministic action (categorical: cross-entropy with the argmax; Gaussian: the
    teacher's mean). ``value``: the student's values, regressed (MSE) on the teacher's."""
    if isinstance(student, torch.distributions.Categorical):
        log_s = F.log_softmax(student.logits, dim=-1)
        if loss == "kl":
            log_t = F.log_softmax(batch["logits"], dim=-1)
            out = (log_t.exp() * (log_t - log_s)).sum(-1).mean()
        else:
            out = F.nll_loss(log_s, batch["action"].long().reshape(-1))
    else:
        mean, std = batch["mean"], batch["std"]
        if loss == "kl":
            teacher = torch.distributions.Normal(mean, std)
            out = torch.distributions.kl_divergence(teacher, student).sum(-1).mean()
        else:
            out = -student.log_prob(mean).sum(-1).mean()
    if value is not None:
        out = out + F.mse_loss(value.flatten(), batch["value"])
    return out


def agreement(
    student_action: np.ndarray, teacher_action: np.ndarray, space: gym.Space
) -> float | None:
    """The fraction of states where the student's deterministic action is the teacher's
    (Discrete: equal; Box: every dimension within ``BOX_TOLERANCE`` of the range, both clipped
    to the bounds). None without states."""
    if len(teacher_action) == 0:
        return None
    if isinstance(space, gym.spaces.Discrete):
        same = student_action.reshape(-1) == teacher_action.reshape(-1)
        return float(same.mean())
    low, high = space.low, space.high
    width = np.where(np.isfinite(high - low), (high - low) * BOX_TOLERANCE, 0.1)
    s = np.clip(student_action, low, high).reshape(len(teacher_action), -1)
    t = np.clip(teacher_action, low, high).reshape(len(teacher_action), -1)
    return float((np.abs(s - t) <= width.reshape(1, -1)).all(axis=1).mean())
