"""Policy distillation: the source agent, frozen, teaches a fresh student; then, optionally, RL.

The student is the study's target model (any architecture: a smaller network, or another
observation modality). Distillation runs before SB3's ``learn``, on the run's training env, in
``rounds``: each round collects env steps, the teacher labels every visited state with its action
distribution, the states join the aggregated dataset, and the student trains ``epochs`` passes
over the whole dataset with a supervised loss. Then, with ``rl: true``, SB3 trains the student
for the rest of the budget.

* ``mode: teacher``: the teacher acts (``actions: sample`` or ``mode``); the student learns on the
  teacher's trajectories (behaviour cloning with the teacher's full distribution).
* ``mode: student`` (DAgger): the student acts, except that in round k the teacher acts instead,
  step by step, with probability β_k = ``beta`` · ``beta_decay``^k; the teacher labels every
  visited state, so the student learns where its own mistakes lead.

Loss (``loss``): ``kl`` = KL(π_T ‖ π_S), categorical or diagonal Gaussian; ``nll`` = −log π_S of
the teacher's deterministic action (cross-entropy with its argmax; for a Gaussian the NLL of its
mean). DQN students: the categorical softmax(Q_S / T) with T = ``teacher.temperature`` (a DQN
teacher uses the same T). ``value: true`` (PPO/A2C) also regresses the student's value head on
the teacher's values (MSE), so the RL phase starts with a critic.

Budget: the distillation's env steps count toward the run's budget, like any training step; the
evaluation grid points they cross are evaluated during distillation (with the model trained on
the rounds before, as SB3 evaluates mid-rollout), so the curve compares with scratch at equal env
steps. ``rl: false``: nothing trains after distillation; the rest of the budget is left unused
and its grid points evaluate the distilled student.

Memory: the dataset is bounded (``memory_mb``, default 2048 MB, and ``max_states``); past the
bound it keeps a uniform sample of every state visited (a reservoir, seeded from the run's seed:
``rltransfer.seeds.reservoir_seed``), each with the labels the teacher gave it when visited; below
it, every state, exactly as an unbounded dataset. With ``rl: true`` it is released before RL.

Cross-modal (``teacher_obs: state``): the teacher reads ``info["state"]`` (the env's state
vector, e.g. from the ``StateInInfo`` wrapper before the pixel wrappers) while the student
observes pixels; the student is evaluated on pixels only.

Measured, in the run's ``transfer`` record: the action agreement with the teacher (deterministic
actions, argmax or mean) on held-out states — ``heldout.steps`` env steps of teacher rollouts on
the training env reseeded with a seed of its own, VecNormalize statistics frozen; measurement,
not training: not counted; and the return over ``heldout.episodes`` episodes (deterministic
actions, the training env reseeded likewise): each before distillation (``initial``), after it
(``distilled``) and at the end of training (``final``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import VecEnv, VecNormalize, unwrap_vec_normalize

from rltransfer.checkpoints import CheckpointInfo
from rltransfer.config.parse import FieldError, join
from rltransfer.environments import innermost
from rltransfer.methods.base import (
    BuildPlan,
    SourceArtifact,
    TransferContext,
    TransferMethod,
)
from rltransfer.methods.distill_core import (
    agreement,
    distill_loss,
    env_actions,
    student_actions,
    student_distribution,
    teacher_labels,
)
from rltransfer.methods.distill_dataset import Dataset
from rltransfer.methods.teacher import Teacher, check_teacher_policy, load_teacher
from rltransfer.seeds import heldout_seed, reservoir_seed, return_seed
from rltransfer.transfer_record import TransferRecord
from rltransfer.vision.sb3 import sync_target_networks

ACTION_KINDS = ("Discrete", "Box")
DEFAULT_FRACTION = 0.25
"""With ``rl: true`` and neither ``steps`` nor ``fraction``: this fraction of the budget."""
STATE_KEY = "state"
BATCH_EVAL = 1024


def _n_parameters(policy: torch.nn.Module, algo: str) -> int:
    module = policy.q_net if algo == "dqn" else policy  # without DQN's target network
    return int(sum(p.numel() for p in module.parameters()))


class _FrozenStats:
    """Within the block, VecNormalize (if any) does not update its statistics."""

    def __init__(self, vecnorm: VecNormalize | None):
        self.vecnorm = vecnorm

    def __enter__(self) -> None:
        if self.vecnorm is not None:
            self.training, self.vecnorm.training = self.vecnorm.training, False

    def __exit__(self, *exc: Any) -> None:
        if self.vecnorm is not None:
            self.vecnorm.training = self.training


class Distill(TransferMethod):
    """Distils the teacher into the student, then optional RL (``DistillOptions``)."""

    # ----------------------------------------------------------------------------- validation
    def check_compatible(self, source: CheckpointInfo, target: CheckpointInfo, path: str) -> None:
        o = self.options
        check_teacher_policy(o.teacher, path)
        if source.action_space.kind not in ACTION_KINDS:
            raise FieldError(
                path, f"distill needs a Discrete or Box action space, got {source.action_space}"
            )
        if source.action_space != target.action_space:
            raise FieldError(
                path,
                f"the teacher acts in {source.action_space}, the target env in "
                f"{target.action_space}: distill needs the same action space",
            )
        if o.value and target.algo == "dqn":
            raise FieldError(join(path, "value"), "only PPO and A2C students have a value head")
        src, tgt = source.observation_space, target.observation_space
        if o.teacher_obs == "same" and src != tgt:
            raise FieldError(
                join(path, "teacher_obs"),
                f"the teacher observes {src} but the target env gives {tgt}; when the target env "
                "also puts the teacher's state vector in info['state'] (the StateInInfo wrapper "
                "before the pixel wrappers), set teacher_obs: state",
            )
        if o.teacher_obs == "state" and (src.kind != "Box" or len(src.shape) != 1):
            raise FieldError(
                join(path, "teacher_obs"),
                f"'state' needs a teacher that observes a state vector (a 1-D Box), but the "
                f"source observes {src}",
            )
        if o.teacher_obs == "state" and o.teacher.policy is None and source.policy is None:
            raise FieldError(
                join(join(path, "teacher"), "policy"),
                "is required with teacher_obs: state: the study's policy is the student's (it "
                "reads the target's observations); give the state teacher's architecture in "
                "'source.policy' (or here), e.g. source.policy: {encoder: mlp, net_arch: [64, 64]}",
            )

    # ------------------------------------------------------------------------------- building
    def configure(self, plan: BuildPlan, source: SourceArtifact | None) -> None:
        if self.options.teacher_obs == "same" and plan.policy.cache is not False:
            # the teacher reads the raw observations, so the env must not turn them into features
            plan.policy = dataclasses.replace(plan.policy, cache=False)
        self._plan = plan

    def apply(self, ctx: TransferContext) -> TransferRecord:
        o, plan = self.options, self._plan
        state_space = None
        teacher_space = None if o.teacher_obs == "state" else plan.observation_space
        if o.teacher_obs == "state":
            state_space = self._state_space(ctx.env)
        try:
            self.teacher: Teacher = load_teacher(
                ctx.source,
                options=o.teacher,
                study_policy=plan.policy,
                hyperparams=plan.hyperparams,
                observation_space=state_space if state_space is not None else teacher_space,
                action_space=plan.action_space,
                device=ctx.model.device,
            )
        except ValueError as e:
            raise ValueError(f"distill (the study's policy is the student's): {e}") from None
        if state_space is not None:
            want = self.teacher.observation_space.shape
            if tuple(state_space.shape) != tuple(want):
                raise ValueError(
                    f"distill (teacher_obs: state): the target env's info['state'] has shape "
                    f"{tuple(state_space.shape)}, but the teacher observes shape {tuple(want)}"
                )
        info = ctx.source.info
        self._algo = plan.algo
        self._facts: dict[str, Any] = {}
        return TransferRecord(
            "policy (distillation)",
            details={
                "mode": o.mode,
                "loss": o.loss,
                "teacher_obs": o.teacher_obs,
                "rl": o.rl,
                "value": o.value,
                "teacher": {
                    "algo": info.algo,
                    "observation_space": str(info.observation_space),
                    "parameters": _n_parameters(self.teacher.policy, info.algo),
                },
                "student": {
                    "algo": plan.algo,
                    "parameters": _n_parameters(ctx.model.policy, plan.algo),
                },
            },
        )

    def _state_space(self, venv: VecEnv) -> gym.Space | None:
        """The space of ``info["state"]`` when a ``StateInInfo`` wrapper says it, else None
        (checked at the first reset)."""
        try:
            return innermost(venv).get_attr("state_space", [0])[0]
        except AttributeError:
            return None

    # --------------------------------------------------------------------------- distillation
    def _planned_steps(self, budget: int) -> int:
        o = self.options
        if o.steps is not None:
            n = o.steps
        else:
            fraction = o.fraction if o.fraction is not None else (DEFAULT_FRACTION if o.rl else 1)
            n = int(round(fraction * budget))
        return min(n, budget)

    def before_learning(
        self, ctx: TransferContext, budget: int, advance: Callable[[int], bool]
    ) -> int:
        o = self.options
        self._env, self._model = ctx.env, ctx.model
        self._vecnorm = unwrap_vec_normalize(ctx.env)
        self._space = ctx.model.action_space
        seed = int(ctx.model.seed or 0)
        self._seed = seed
        self._rng = np.random.default_rng(seed)
        n_envs = ctx.env.num_envs
        planned = self._planned_steps(budget)
        vec_total = planned // n_envs
        rounds = min(o.rounds, vec_total)

        self.heldout = self._collect_heldout(heldout_seed(seed))
        facts = self._facts
        facts["agreement"] = {"initial": self._agreement()}
        facts["heldout"] = {"states": int(len(self.heldout["action"])), "episodes": 0}
        facts["return"] = {"initial": self._evaluate_return()}

        self.data = self._dataset(vec_total * n_envs, seed)
        params = [p for p in self._trained_module().parameters() if p.requires_grad]
        self._optimizer = torch.optim.Adam(params, lr=o.lr)
        ctx.env.seed(seed)
        obs = ctx.env.reset()
        states = self._states(None, None) if o.teacher_obs == "state" else None
        t, stopped, losses = 0, False, []
        for k in range(rounds):
            n_vec = vec_total * (k + 1) // rounds - vec_total * k // rounds
            beta = o.beta * o.beta_decay**k if o.mode == "student" else 1.0
            obs, states, t, stopped = self._collect(obs, states, n_vec, k, beta, t, advance)
            if stopped:
                break
            loss = self._train()
            losses.append(loss)
            metrics = {"distill_loss": loss, "distill_states": float(len(self.data))}
            if o.mode == "student":
                metrics["distill_beta"] = beta
            agree = self._agreement()
            if agree is not None:
                metrics["distill_agreement"] = agree
            ctx.log(t, metrics)

        sync_target_networks(ctx.model.policy)  # the RL phase's targets: the distilled net
        facts["distillation_steps"] = t
        facts["budget"] = budget
        facts["counted_in_budget"] = True
        facts["rounds"] = len(losses)
        facts["distill_loss"] = {"first": losses[0], "last": losses[-1]} if losses else None
        facts["dataset"] = self.data.facts()
        facts["agreement"]["distilled"] = self._agreement()
        facts["return"]["distilled"] = self._evaluate_return()
        facts["heldout"]["episodes"] = o.heldout.episodes
        ctx.env.seed(seed)  # the RL phase starts from a reset with the run's seed
        if o.rl:
            self.data.release()  # SB3's learn does not need it: free the memory for its buffers
        if stopped:
            facts["stopped_early"] = True
            return t
        if not o.rl:
            facts["unused_steps"] = budget - t
            advance(budget)  # the rest of the grid evaluates the distilled student
            return budget
        return t

    def _dataset(self, expected: int, seed: int) -> Dataset:
        """The empty dataset, bounded as ``memory_mb`` and ``max_states`` say; ``expected``:
        the states the collection will visit."""
        o, rng = self.options, np.random.default_rng(reservoir_seed(seed))
        return Dataset(max_states=o.max_states, memory_mb=o.memory_mb, expected=expected, rng=rng)

    def _trained_module(self) -> torch.nn.Module:
        pol = self._model.policy
        return pol.q_net if self._algo == "dqn" else pol

    def _raw(self, obs: np.ndarray) -> np.ndarray:
        """The student's observations before VecNormalize."""
        return self._vecnorm.get_original_obs() if self._vecnorm is not None else obs

    def _normalized(self, raw: np.ndarray) -> np.ndarray:
        """Raw observations as the student reads them now (current VecNormalize statistics)."""
        return self._vecnorm.normalize_obs(raw) if self._vecnorm is not None else raw

    def _states(self, infos: Any, dones: Any) -> np.ndarray:
        """``info["state"]`` of each env copy's current observation: after an episode's end,
        the state of the new episode's first observation (``reset_infos``)."""
        inner = innermost(self._env)
        out = []
        for i in range(inner.num_envs):
            info = inner.reset_infos[i] if infos is None or dones[i] else infos[i]
            if STATE_KEY not in info:
                raise ValueError(
                    "distill (teacher_obs: state): the target env puts no 'state' in its info; "
                    "add the StateInInfo wrapper before the pixel wrappers "
                    "(wrappers: [StateInInfo, PixelObservation, ...])"
                )
            out.append(np.asarray(info[STATE_KEY]))
        return np.stack(out)

    def _teacher_step(self, raw: np.ndarray, states: np.ndarray | None) -> tuple[Any, Any]:
        """The teacher's labels for the current states and its actions."""
        x = states if self.options.teacher_obs == "state" else raw
        inputs = self.teacher.prepare(x)
        dist = self.teacher.distribution(inputs)
        labels = teacher_labels(self.teacher, dist, inputs, self.options.value)
        acts = env_actions(dist, self._space, self.options.actions == "mode")
        return labels, acts

    def _student_act(self, obs: np.ndarray, deterministic: bool) -> np.ndarray:
        policy = self._model.policy
        tensor, _ = policy.obs_to_tensor(obs)
        a = student_actions(policy, self._algo, tensor, self.teacher.temperature, deterministic)
        if isinstance(self._space, gym.spaces.Box):
            a = np.clip(a, self._space.low, self._space.high)
        return a

    def _collect(
        self,
        obs: np.ndarray,
        states: np.ndarray | None,
        n_vec: int,
        k: int,
        beta: float,
        t: int,
        advance: Callable[[int], bool],
    ) -> tuple[np.ndarray, np.ndarray | None, int, bool]:
        """``n_vec`` steps of every env copy; labels every visited state; evaluates the grid."""
        env, o = self._env, self.options
        n = env.num_envs
        self._model.policy.set_training_mode(False)
        for _ in range(n_vec):
            raw = self._raw(obs)
            labels, teacher_acts = self._teacher_step(raw, states)
            if o.mode == "teacher":
                acts, by_student = teacher_acts, np.zeros(n, dtype=bool)
            else:
                by_student = self._rng.random(n) >= beta
                student = self._student_act(obs, o.actions == "mode")
                acts = np.where(
                    by_student.reshape((n,) + (1,) * (student.ndim - 1)), student, teacher_acts
                )
            self.data.add(raw, labels, acts, by_student, k)
            obs, _, dones, infos = env.step(acts)
            if o.teacher_obs == "state":
                states = self._states(infos, dones)
            self.data.episodes_ended += int(np.sum(dones))
            t += n
            if not advance(t):
                return obs, states, t, True
        return obs, states, t, False

    def _train(self) -> float:
        """``epochs`` passes over the aggregated dataset; the mean loss of the last pass."""
        o, policy = self.options, self._model.policy
        arrays = self.data.arrays()
        keys = [k for k in ("action", "logits", "mean", "std", "value") if k in arrays]
        n = len(arrays["obs"])
        device = policy.device
        policy.set_training_mode(True)
        last: list[float] = []
        for _ in range(o.epochs):
            perm = self._rng.permutation(n)
            last = []
            for start in range(0, n, o.batch_size):
                idx = perm[start : start + o.batch_size]
                obs, _ = policy.obs_to_tensor(self._normalized(arrays["obs"][idx]))
                batch = {k: torch.as_tensor(arrays[k][idx], device=device) for k in keys}
                dist = student_distribution(policy, self._algo, obs, self.teacher.temperature)
                value = policy.predict_values(obs) if o.value else None
                loss = distill_loss(dist, batch, o.loss, value)
                self._optimizer.zero_grad()
                loss.backward()
                self._optimizer.step()
                last.append(float(loss.detach()))
        policy.set_training_mode(False)
        return float(np.mean(last))

    # ------------------------------------------------------------------------------ measuring
    def _collect_heldout(self, seed: int) -> dict[str, np.ndarray]:
        """Teacher rollouts on the training env, reseeded with ``seed``, VecNormalize frozen:
        the student's raw observations and the teacher's deterministic actions."""
        env, steps = self._env, self.options.heldout.steps
        obs_list: list[np.ndarray] = []
        actions: list[np.ndarray] = []
        if steps > 0:
            with _FrozenStats(self._vecnorm):
                env.seed(seed)
                obs = env.reset()
                states = self._states(None, None) if self.options.teacher_obs == "state" else None
                for _ in range(-(-steps // env.num_envs)):
                    raw = self._raw(obs)
                    labels, acts = self._teacher_step(raw, states)
                    obs_list.append(np.array(raw, copy=True))
                    actions.append(labels.action)
                    obs, _, dones, infos = env.step(acts)
                    if states is not None:
                        states = self._states(infos, dones)
        if not obs_list:
            return {"obs": np.zeros((0,)), "action": np.zeros((0,))}
        return {"obs": np.concatenate(obs_list)[:steps], "action": np.concatenate(actions)[:steps]}

    def _agreement(self) -> float | None:
        """Action agreement with the teacher on the held-out states, deterministic actions."""
        obs, teacher = self.heldout["obs"], self.heldout["action"]
        if len(teacher) == 0:
            return None
        self._model.policy.set_training_mode(False)
        student = np.concatenate(
            [
                self._student_act(self._normalized(obs[i : i + BATCH_EVAL]), deterministic=True)
                for i in range(0, len(obs), BATCH_EVAL)
            ]
        )
        return agreement(student, teacher, self._space)

    def _evaluate_return(self) -> float | None:
        """Mean return of the student over ``heldout.episodes`` episodes (deterministic)."""
        episodes = self.options.heldout.episodes
        if episodes == 0:
            return None
        with _FrozenStats(self._vecnorm):
            self._env.seed(return_seed(self._seed))
            returns, _ = evaluate_policy(
                self._model,
                self._env,
                n_eval_episodes=episodes,
                deterministic=True,
                return_episode_rewards=True,
                warn=False,
            )
        return float(np.mean(returns))

    def after_training(self, model: Any) -> dict[str, Any]:
        facts = self._facts
        if "distillation_steps" not in facts:  # distillation never ran
            return facts
        rl_steps = int(model.num_timesteps) - facts["distillation_steps"] if self.options.rl else 0
        facts["rl_steps"] = max(rl_steps, 0)
        if facts["rl_steps"] > 0:
            facts["agreement"]["final"] = self._agreement()
            facts["return"]["final"] = self._evaluate_return()
        else:  # nothing trained after distillation
            facts["agreement"]["final"] = facts["agreement"]["distilled"]
            facts["return"]["final"] = facts["return"]["distilled"]
        return facts
