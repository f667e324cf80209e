"""Probabilistic policy reuse: the source policy sometimes acts for the target agent.

At every env step of the target's rollouts, independently for each env copy, the teacher (the
frozen source policy, ``rltransfer.methods.teacher``) chooses the action with probability ψ(t),
the learner with probability 1 − ψ(t) (π-reuse, Fernández & Veloso 2006; a guide policy as in
JSRL, Uchendu et al. 2023). ψ starts at ``psi`` and decays on a ``rltransfer.methods.schedules``
schedule over the target's env steps. Only the rollouts change: evaluation goes through SB3's
``predict``, which is not hooked, so it always uses the learner alone.

**On-policy learners (PPO, A2C)** learn from their rollouts, so the teacher's actions must be
accounted for. The rollout's behaviour policy is the mixture

    μ(a|s) = ψ·π_T(a|s) + (1 − ψ)·π_θ(a|s)

(ψ of that step), and the rollout buffer stores ``log μ(a|s)`` as the action's log-probability,
for teacher and learner actions alike. The hook replaces the policy's ``forward`` (which SB3's
``collect_rollouts`` alone calls; ``train`` uses ``evaluate_actions``, evaluation ``predict``).

* PPO: its ratio π_θ(a|s)/μ(a|s) is then the true importance ratio with respect to the
  behaviour policy, clipped by PPO as usual. (PPO's ``approx_kl`` is measured against μ too,
  so a ``target_kl`` may stop epochs early while ψ is large.)
* A2C has no ratio: its policy-gradient term is weighted by the truncated importance weight
  ρ = min(1, π_θ(a|s)/μ(a|s)) (V-trace's / ACER's truncation at 1), through a log-probability
  whose value is unchanged and whose gradient is ρ·∇log π_θ. The value and entropy terms are
  not weighted.
* In both, the advantage and value targets (GAE over the rollout) are not corrected: the critic
  learns the value of the mixture, which tends to the learner's as ψ → 0. With ψ = 0 the hook
  calls SB3's own ``forward`` and training is exactly SB3's.
* Continuous actions: the teacher's action is its unclipped sample, like the learner's own
  (SB3 clips both to the bounds when it steps the env); log-densities are of unclipped actions.
  A deterministic teacher (``teacher_action: mode``) is a point mass, which has no density, so it
  is rejected with Box actions on PPO/A2C; on discrete actions π_T(a|s) = 1[a = mode].

**Off-policy learners (DQN, SAC)**: the hook replaces ``_sample_action`` (rollouts only; DQN's
ε-greedy and SAC's warm-up apply to the learner's own steps, the teacher acts from step 0).
Replay learning is off-policy already, so no weights are needed. SAC stores the teacher's
(clipped) action scaled to [-1, 1], as SB3 stores its own.

**Teacher actions**: ``teacher_action``: ``sample`` from the teacher's distribution, ``mode``
(its greedy action), or ``auto``: ``mode`` for a DQN teacher (it acts greedily), ``sample``
otherwise.

**Observations**: the teacher takes the env's raw observations (and applies the source's own
VecNormalize statistics when the source run saved them). When the training env is a
VecNormalize, the raw observations are ``get_original_obs()`` of that step. A
``source.checkpoint`` has no ``normalize.json``: such a teacher gets raw observations.

**Randomness**: the coin (teacher or learner) comes from its own generator, seeded with the run's
seed; the teacher's sampling uses torch's global generator, as SB3 does.

**Logged**: per window of env steps (about 50 windows per run), the mean ψ and the realised
fraction of teacher actions: W&B ``transfer/reuse_psi`` and ``transfer/reuse_fraction``, and the
``timeline`` in ``meta.json``, with the total fraction.
"""

from __future__ import annotations

import math
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import A2C
from stable_baselines3.common.distributions import Distribution
from stable_baselines3.common.off_policy_algorithm import OffPolicyAlgorithm
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from rltransfer.checkpoints import CheckpointInfo
from rltransfer.config.parse import FieldError, join
from rltransfer.methods.base import TransferContext
from rltransfer.methods.schedules import Schedule, Timeline, window_for
from rltransfer.methods.teacher import check_teacher_policy
from rltransfer.methods.teacher_method import (
    TeacherMethod,
    check_teacher_spaces,
    raw_observations,
)
from rltransfer.seeds import reuse_coin_seed
from rltransfer.transfer_record import TransferRecord

ON_POLICY = ("ppo", "a2c")


def teacher_log_prob(dist: Distribution, actions: torch.Tensor, greedy: bool) -> torch.Tensor:
    """log π_T(a|s): of its distribution, or of its mode (0 where a is the mode, else −∞)."""
    if not greedy:
        return dist.log_prob(actions)
    mode = dist.mode().reshape(actions.shape)
    same = (actions == mode).reshape(len(actions), -1).all(dim=1)
    return torch.where(same, 0.0, -math.inf)


def mixture_log_prob(
    log_teacher: torch.Tensor, log_student: torch.Tensor, psi: float
) -> torch.Tensor:
    """log μ = log(ψ·π_T + (1 − ψ)·π_θ), computed stably from the two log-probabilities."""
    a = log_teacher + (math.log(psi) if psi > 0 else -math.inf)
    b = log_student + (math.log1p(-psi) if psi < 1 else -math.inf)
    return torch.logaddexp(a, b)


# --- reuse --------------------------------------------------------------------------------------


class Reuse(TeacherMethod):
    """The teacher acts in the target's rollouts with probability ψ (``ReuseOptions``)."""

    def check_compatible(self, source: CheckpointInfo, target: CheckpointInfo, path: str) -> None:
        check_teacher_policy(self.options.teacher, path)
        check_teacher_spaces(self.kind, source, target, path)
        if target.algo in ON_POLICY and target.action_space.kind == "Box":
            if source.algo == "sac":
                raise FieldError(
                    join(path, "method"),
                    f"a SAC teacher's squashed Gaussian has no density over the unsquashed "
                    f"actions {target.algo.upper()} learns, so its actions cannot be weighted",
                )
            if self.options.teacher_action == "mode":
                raise FieldError(
                    join(path, "teacher_action"),
                    f"a deterministic teacher has no density over continuous actions, so "
                    f"{target.algo.upper()} cannot weight its actions; use sample (or auto)",
                )

    def apply(self, ctx: TransferContext) -> TransferRecord:
        model = ctx.model
        self.teacher = self.load(ctx)
        option = self.options.teacher_action
        self.greedy = option == "mode" or (option == "auto" and self.teacher.algo == "dqn")
        self.rng = np.random.default_rng(reuse_coin_seed(model.seed or 0))
        self.schedule: Schedule | None = None
        self.timeline: Timeline | None = None
        self.steps = self.teacher_steps = 0
        self.rollout_psi = 0.0
        self._samples: Any = None
        if isinstance(model, OnPolicyAlgorithm):
            self._forward = self.patches.set(model.policy, "forward", self._rollout_forward)
            if isinstance(model, A2C):
                self._evaluate = self.patches.set(
                    model.policy, "evaluate_actions", self._a2c_evaluate
                )
                self._get_samples = self.patches.set(
                    model.rollout_buffer, "_get_samples", self._remember_samples
                )
            correction = (
                "behaviour policy μ = ψ·π_T + (1−ψ)·π_θ; the rollout stores log μ(a|s), so "
                + (
                    "A2C's policy gradient is weighted by min(1, π_θ/μ) (truncated)"
                    if isinstance(model, A2C)
                    else "PPO's ratio is π_θ/μ (clipped as usual)"
                )
                + "; value targets uncorrected"
            )
        elif isinstance(model, OffPolicyAlgorithm):
            self._sample = self.patches.set_on_model(model, "_sample_action", self._sample_action)
            correction = "none needed: replay learning is off-policy"
        else:
            raise RuntimeError(f"reuse does not support {type(model).__name__}")
        return TransferRecord(
            "policy",
            details={
                "how": "the teacher acts in the target's rollouts with probability ψ(t) per "
                "env step and env copy; evaluation uses the learner alone",
                "teacher": self.teacher_record(ctx, self.teacher),
                "teacher_action": "mode" if self.greedy else "sample",
                "student": type(model).__name__.lower(),
                "correction": correction,
                "logged": {
                    "wandb": ["transfer/reuse_psi", "transfer/reuse_fraction"],
                    "timeline": "per window of env steps: t (end), mean ψ, realised fraction of "
                    "teacher actions",
                },
            },
        )

    # --- schedule and bookkeeping

    def _psi(self, model: Any) -> float:
        if self.schedule is None:
            budget = self.budget(model)
            self.schedule = self.options.schedule(self.options.psi, budget)
            self.timeline = Timeline(
                ("psi", "fraction"),
                window_for(budget),
                self.log,
                names={"psi": "reuse_psi", "fraction": "reuse_fraction"},
            )
        return self.schedule(model.num_timesteps)

    def _count(self, t: int, n: int, psi: float, teacher: int) -> None:
        self.steps += n
        self.teacher_steps += teacher
        assert self.timeline is not None
        self.timeline.add(t, weight=n, psi=psi, fraction=teacher / n)

    def _coin(self, n: int, psi: float) -> np.ndarray:
        return self.rng.random(n) < psi

    # --- on-policy: the rollout's forward

    @torch.no_grad()
    def _rollout_forward(
        self, obs: torch.Tensor, deterministic: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        model = self.ctx_model
        if model.rollout_buffer.pos == 0:
            self.rollout_psi = 0.0  # a new rollout
        psi = self._psi(model)
        t = model.num_timesteps
        actions, values, log_prob = self._forward(obs, deterministic)
        n = actions.shape[0]
        if psi <= 0:
            self._count(t + n, n, psi, 0)
            return actions, values, log_prob
        self.rollout_psi = max(self.rollout_psi, psi)
        student = model.policy.get_distribution(obs)
        teacher = self.teacher.distribution(self.teacher.prepare(raw_observations(model)))
        chosen = teacher.mode() if self.greedy else teacher.sample()
        chosen = chosen.reshape(actions.shape).to(actions.dtype)
        use = self._coin(n, psi)
        mask = torch.as_tensor(use, device=actions.device).reshape(n, *[1] * (actions.dim() - 1))
        mixed = torch.where(mask, chosen, actions)
        log_mu = mixture_log_prob(
            teacher_log_prob(teacher, mixed, self.greedy), student.log_prob(mixed), psi
        )
        self._count(t + n, n, psi, int(use.sum()))
        return mixed, values, log_mu

    @property
    def ctx_model(self) -> Any:
        assert self._ctx is not None
        return self._ctx.model

    # --- A2C: truncated importance weights on the policy gradient

    def _remember_samples(self, batch_inds: np.ndarray, env: Any = None) -> Any:
        self._samples = self._get_samples(batch_inds, env)
        return self._samples

    def _a2c_evaluate(
        self, obs: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        values, log_prob, entropy = self._evaluate(obs, actions)
        samples, self._samples = self._samples, None
        if samples is None or self.rollout_psi <= 0 or not torch.is_grad_enabled():
            return values, log_prob, entropy
        fixed = log_prob.detach()
        rho = torch.exp(fixed - samples.old_log_prob).clamp(max=1.0)
        return values, fixed + rho * (log_prob - fixed), entropy

    # --- off-policy: the exploration action

    def _sample_action(
        self, learning_starts: int, action_noise: Any = None, n_envs: int = 1
    ) -> tuple[np.ndarray, np.ndarray]:
        model = self.ctx_model
        action, buffer_action = self._sample(learning_starts, action_noise, n_envs)
        psi = self._psi(model)
        t = model.num_timesteps
        use = self._coin(n_envs, psi) if psi > 0 else np.zeros(n_envs, dtype=bool)
        if use.any():
            chosen = self.teacher.act(raw_observations(model), deterministic=self.greedy)
            chosen = np.asarray(chosen).reshape(np.shape(action))
            action = np.array(action, copy=True)
            action[use] = chosen[use]
            if isinstance(model.action_space, gym.spaces.Box):  # the buffer holds [-1, 1]
                buffer_action = np.array(buffer_action, copy=True)
                buffer_action[use] = model.policy.scale_action(chosen[use])
            else:
                buffer_action = action
        self._count(t + n_envs, n_envs, psi, int(use.sum()))
        return action, buffer_action

    # --- the record

    def after_training(self, model: Any) -> dict[str, Any]:
        self.patches.undo()
        if self.schedule is None or self.timeline is None:
            return {"teacher_actions": {"steps": 0, "teacher": 0, "fraction": None}}
        self.timeline.flush()
        return {
            "schedule": {**self.schedule.describe(), "budget": self.budget(model)},
            "teacher_actions": {
                "steps": self.steps,
                "teacher": self.teacher_steps,
                "fraction": round(self.teacher_steps / max(self.steps, 1), 6),
            },
            "timeline": self.timeline.record(),
        }
