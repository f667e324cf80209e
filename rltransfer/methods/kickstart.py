"""Kickstarting (Schmitt et al. 2018): the RL loss plus a distillation loss toward the teacher.

The target agent trains with its own RL loss plus λ(t)·L_distill, where L_distill is the mean
over the minibatch of KL(π_T(·|s) ‖ π_θ(·|s)) on the states of the target's own rollouts (or
replay) and λ(t) starts at ``weight`` and decays on a ``rltransfer.methods.schedules`` schedule
(t: env steps). The KL has the gradient of Schmitt et al.'s cross-entropy H(π_T, π_θ).

* PPO, A2C: KL between the teacher's and the student's action distributions, in closed form
  (``torch.distributions.kl_divergence`` on the underlying categorical or diagonal Gaussian,
  summed over action dimensions and MultiDiscrete components).
* DQN: KL between softmax(Q_T/T) and softmax(Q_θ/T), with T the ``teacher.temperature`` option
  (the same temperature for teacher and student; a DQN teacher's distribution is already
  softmax(Q_T/T), a PPO/A2C teacher's is its own policy).
* SAC students are not supported (their squashed Gaussian has no closed-form KL); ``reuse``
  supports them.

**Hook (exact semantics).** SB3's ``train`` is not copied. The minibatch is found where SB3
draws it (``RolloutBuffer._get_samples`` → its indices; ``ReplayBuffer.sample`` → its raw
observations), the student's distribution where ``train`` evaluates it (``evaluate_actions`` for
PPO/A2C, the ``q_net`` forward under grad for DQN), and the distillation loss is attached to that
output (the log-probabilities, or the Q-values) by an identity autograd function whose backward
also sends λ into L_distill. SB3's single ``loss.backward()`` thus computes the gradient of
L_RL + λ·L_distill, and its ``max_grad_norm`` clipping and optimizer step apply to the total,
exactly as if the term were written into SB3's loss. Differences: SB3's own logged ``train/loss``
does not include the term, and PPO's ``target_kl`` early stop (checked before the backward) may
skip a minibatch whose distillation loss was already logged. With λ = 0 the term is computed and
logged but adds exact zeros: training is bitwise SB3's.

**Teacher observations**: raw env observations, captured at each rollout step (VecNormalize's
``get_original_obs()`` when the env normalises, since the buffer holds normalised ones) and
looked up by the minibatch's indices; for DQN the replay buffer already stores raw observations
and normalises when sampling. Once λ is 0 for good (t past the horizon) the teacher is not
queried any more; a constant λ keeps it queried (so λ = 0 constant monitors the distance).

**Logged**: per window of env steps (about 50 per run), the mean λ and the mean L_distill over
the minibatches: W&B ``transfer/kickstart_coef`` and ``transfer/distill_loss``, and the
``timeline`` in ``meta.json`` with the initial and final coefficient and the distillation loss at
the start and the end.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from stable_baselines3 import DQN
from stable_baselines3.common.buffers import ReplayBuffer, RolloutBuffer
from stable_baselines3.common.distributions import Distribution
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
from rltransfer.transfer_record import TransferRecord


class AddLoss(torch.autograd.Function):
    """``AddLoss.apply(x, aux, weight)`` is ``x``; its backward also back-propagates ``weight``
    into the scalar ``aux``, so one ``backward`` of a loss built on ``x`` adds weight·∇aux."""

    @staticmethod
    def forward(ctx: Any, x: torch.Tensor, aux: torch.Tensor, weight: float) -> torch.Tensor:
        ctx.weight = float(weight)
        return x.clone()

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, None]:
        return grad, torch.full((), ctx.weight, dtype=grad.dtype, device=grad.device), None


def kl_teacher_student(teacher: Distribution, student: Any) -> torch.Tensor:
    """KL(π_T ‖ π_θ) per state (batch,), summed over action dimensions and components.
    ``student``: an SB3 ``Distribution`` or a torch distribution."""
    t = teacher.distribution
    s = getattr(student, "distribution", student)
    pairs = list(zip(t, s, strict=True)) if isinstance(t, list) else [(t, s)]
    total = None
    for a, b in pairs:
        kl = torch.distributions.kl_divergence(a, b)
        kl = kl.reshape(kl.shape[0], -1).sum(dim=1)
        total = kl if total is None else total + kl
    assert total is not None
    return total


class Kickstart(TeacherMethod):
    """Adds λ·KL(teacher ‖ student) to the RL loss (``KickstartOptions``)."""

    def check_compatible(self, source: CheckpointInfo, target: CheckpointInfo, path: str) -> None:
        check_teacher_policy(self.options.teacher, path)
        check_teacher_spaces(self.kind, source, target, path)
        if target.action_space.kind == "Box" and source.algo == "sac":
            raise FieldError(
                join(path, "method"),
                "a SAC teacher's squashed Gaussian has no closed-form KL to a "
                f"{target.algo.upper()} student's Gaussian",
            )

    def apply(self, ctx: TransferContext) -> TransferRecord:
        model = ctx.model
        self.teacher = self.load(ctx)
        self.schedule: Schedule | None = None
        self.timeline: Timeline | None = None
        self._pending: np.ndarray | None = None
        self._raw: np.ndarray | None = None
        self._flat: np.ndarray | None = None
        self._stash: Any = None
        self._loss_sum, self._loss_n = 0.0, 0
        policy = model.policy
        if isinstance(model, OnPolicyAlgorithm):
            self._forward = self.patches.set(policy, "forward", self._rollout_forward)
            self._get_samples = self.patches.set(
                model.rollout_buffer, "_get_samples", self._remember_batch
            )
            self._dist_from_latent = self.patches.set(
                policy, "_get_action_dist_from_latent", self._stash_distribution
            )
            self._evaluate = self.patches.set(policy, "evaluate_actions", self._evaluate_actions)
            attached = "the log-probabilities of evaluate_actions"
        elif isinstance(model, DQN):
            self._sample = self.patches.set(model.replay_buffer, "sample", self._sample_replay)
            self._hook = policy.q_net.register_forward_hook(self._q_forward)
            attached = "the Q-values of q_net's forward in train"
        else:
            raise RuntimeError(f"kickstart does not support {type(model).__name__}")
        return TransferRecord(
            "policy",
            details={
                "how": "RL loss + λ(t)·mean KL(π_T ‖ π_θ) over each minibatch of the target's "
                "own states; one backward, SB3's gradient clipping on the total",
                "teacher": self.teacher_record(ctx, self.teacher),
                "student": type(model).__name__.lower(),
                "loss": "KL(softmax(Q_T/T) ‖ softmax(Q_θ/T))"
                if isinstance(model, DQN)
                else "KL(π_T ‖ π_θ), closed form, summed over action dimensions",
                "attached_to": attached,
                "logged": {
                    "wandb": ["transfer/kickstart_coef", "transfer/distill_loss"],
                    "timeline": "per window of env steps: t (end), mean λ, mean distillation "
                    "loss over the minibatches",
                },
            },
        )

    # --- schedule and the loss term

    def _coef(self, model: Any) -> float | None:
        """λ now, or None when the teacher is done for good (no more queries)."""
        if self.schedule is None:
            budget = self.budget(model)
            self.schedule = self.options.schedule(self.options.weight, budget)
            self.timeline = Timeline(
                ("coef", "distill_loss"),
                window_for(budget),
                self.log,
                names={"coef": "kickstart_coef", "distill_loss": "distill_loss"},
            )
        t = model.num_timesteps
        return None if self.schedule.done(t) else self.schedule(t)

    def _attach(self, model: Any, x: torch.Tensor, raw: np.ndarray, student: Any) -> torch.Tensor:
        coef = self._coef(model)
        if coef is None:
            return x
        teacher = self.teacher.distribution(self.teacher.prepare(raw))
        loss = kl_teacher_student(teacher, student).mean()
        value = float(loss.detach())
        self._loss_sum += value
        self._loss_n += 1
        assert self.timeline is not None
        self.timeline.add(model.num_timesteps, coef=coef, distill_loss=value)
        return AddLoss.apply(x, loss, coef)

    # --- PPO / A2C

    def _rollout_forward(
        self, obs: torch.Tensor, deterministic: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Keep the step's raw observations, at the rollout buffer's position."""
        model = self._ctx.model  # type: ignore[union-attr]
        buffer = model.rollout_buffer
        raw = raw_observations(model)
        if self._raw is None or self._raw.shape[2:] != raw.shape[1:]:
            self._raw = np.zeros((buffer.buffer_size, buffer.n_envs, *raw.shape[1:]), raw.dtype)
        if buffer.pos == 0:
            self._flat = None
        self._raw[buffer.pos] = raw
        return self._forward(obs, deterministic)

    def _remember_batch(self, batch_inds: np.ndarray, env: Any = None) -> Any:
        if self._flat is None and self._raw is not None:
            self._flat = RolloutBuffer.swap_and_flatten(self._raw)
        self._pending = None if self._flat is None else self._flat[batch_inds]
        return self._get_samples(batch_inds, env)

    def _stash_distribution(self, latent_pi: torch.Tensor) -> Distribution:
        self._stash = self._dist_from_latent(latent_pi)
        return self._stash

    def _evaluate_actions(
        self, obs: torch.Tensor, actions: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        self._stash = None
        values, log_prob, entropy = self._evaluate(obs, actions)
        raw, self._pending = self._pending, None
        if raw is None or not torch.is_grad_enabled():
            return values, log_prob, entropy
        model = self._ctx.model  # type: ignore[union-attr]
        student = self._stash if self._stash is not None else model.policy.get_distribution(obs)
        return values, self._attach(model, log_prob, raw, student), entropy

    # --- DQN

    def _sample_replay(self, batch_size: int, env: Any = None) -> Any:
        """SB3's sample, drawn unnormalised (the same random draws), normalised here as SB3
        does, so the raw observations of the minibatch are known."""
        buffer = self._ctx.model.replay_buffer  # type: ignore[union-attr]
        raw = self._sample(batch_size, env=None)
        self._pending = raw.observations.cpu().numpy()
        if env is None:
            return raw
        if type(buffer) is not ReplayBuffer:
            raise RuntimeError(
                "kickstart with VecNormalize supports SB3's ReplayBuffer, not "
                f"{type(buffer).__name__}"
            )

        def obs(x: torch.Tensor) -> torch.Tensor:
            return buffer.to_torch(env.normalize_obs(x.cpu().numpy()))

        rewards = env.normalize_reward(raw.rewards.cpu().numpy()).astype(np.float32)
        return raw._replace(
            observations=obs(raw.observations),
            next_observations=obs(raw.next_observations),
            rewards=buffer.to_torch(rewards),
        )

    def _q_forward(self, module: Any, args: Any, q_values: torch.Tensor) -> torch.Tensor | None:
        if self._pending is None or not torch.is_grad_enabled():
            return None
        raw, self._pending = self._pending, None
        student = torch.distributions.Categorical(logits=q_values / self.teacher.temperature)
        return self._attach(self._ctx.model, q_values, raw, student)  # type: ignore[union-attr]

    # --- the record

    def after_training(self, model: Any) -> dict[str, Any]:
        self.patches.undo()
        if getattr(self, "_hook", None) is not None:
            self._hook.remove()
            self._hook = None
        if self.schedule is None or self.timeline is None:
            return {"coef": None, "distill_loss": None}
        self.timeline.flush()
        losses = self.timeline.column("distill_loss")
        return {
            "schedule": {**self.schedule.describe(), "budget": self.budget(model)},
            "coef": {
                "initial": self.schedule(0),
                "final": self.schedule(int(model.num_timesteps)),
            },
            "distill_loss": {
                "start": losses[0] if losses else None,
                "end": losses[-1] if losses else None,
                "mean": round(self._loss_sum / self._loss_n, 6) if self._loss_n else None,
                "minibatches": self._loss_n,
            },
            "timeline": self.timeline.record(),
        }
