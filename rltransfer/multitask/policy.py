"""A policy with a shared trunk and task-specific output layers, over SB3's ActorCriticPolicy.

Shared across tasks: the features extractor (``VisionExtractor`` on ``obs["obs"]``) and the MLP
hidden layers (``mlp_extractor``), under exactly the state-dict names a single-task policy uses,
so a single-task target loads them by name and shape. Task-specific: the output layers, under
``action_net.*`` and ``value_net.*`` (the ``output`` layer group of ``methods.layers``):

* ``multi``: one ``nn.Linear`` per task (``action_net.heads.<k>.weight``, …); task k's
  observations use head k only.
* ``conditioned``: one ``nn.Linear`` reading ``[latent, one-hot task]``
  (``action_net.linear.weight`` of shape (out, latent + K)).

The extractor's ``task_input`` stage (``TaskInput``, registered here with
``rltransfer.vision.stages``) hands ``obs["obs"]`` to the encoder and writes the batch's one-hot
task (B, K) into a ``TaskContext`` shared with the heads each time SB3 calls
``extract_features``, which every path (``forward``, ``evaluate_actions``, ``predict_values``,
``get_distribution``) does before the heads run. A Gaussian policy's ``log_std`` stays shared.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.policies import ActorCriticPolicy
from torch import nn

from rltransfer.multitask.env import OBS_KEY, TASK_KEY, is_task_space
from rltransfer.vision.stages import OBSERVATION, register_stage

HEADS = ("multi", "conditioned")


class TaskContext:
    """The one-hot task ids (B, K) of the batch being evaluated; a plain object, not a module,
    so it owns no parameters or state-dict entries."""

    def __init__(self) -> None:
        self.task: torch.Tensor | None = None

    def set(self, one_hot: torch.Tensor) -> None:
        self.task = one_hot.reshape(one_hot.shape[0], -1).float()

    def get(self, batch: int) -> torch.Tensor:
        if self.task is None or self.task.shape[0] != batch:
            got = None if self.task is None else tuple(self.task.shape)
            raise RuntimeError(
                f"no task ids for a batch of {batch} (have {got}): the features extractor must "
                "run before the task heads"
            )
        return self.task


class TaskInput(nn.Module):
    """The features extractor's first stage on a multi-task Dict space ``{"obs", "task"}``:
    ``obs["obs"]`` goes on to the encoder, the one-hot task (B, K) to ``task_context`` (set by
    ``MultiTaskPolicy``; None: the task is dropped). No parameters, no state-dict entries."""

    def __init__(self, space: gym.spaces.Dict):
        super().__init__()
        self.output_space = space[OBS_KEY]
        self.task_context: TaskContext | None = None

    def forward(self, observations: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.task_context is not None:
            self.task_context.set(observations[TASK_KEY])
        return observations[OBS_KEY]


@register_stage("task_input", place=OBSERVATION)
def task_input_stage(config: dict[str, Any], space: gym.Space) -> TaskInput | None:
    """A ``TaskInput`` on a multi-task space (``is_task_space``), else nothing."""
    return TaskInput(space) if is_task_space(space) else None


class TaskHeads(nn.Module):
    """Latent (B, in_features) → output (B, out_features), by the task of each row.

    ``kind``: ``multi`` (``heads``: K linear layers) or ``conditioned`` (``linear`` on
    [latent, one-hot task], in_features + K inputs)."""

    def __init__(self, kind: str, in_features: int, out_features: int, n_tasks: int):
        super().__init__()
        if kind not in HEADS:
            raise ValueError(f"unknown heads '{kind}'; available: {', '.join(HEADS)}")
        self.kind = kind
        self.n_tasks = n_tasks
        self.context = TaskContext()
        if kind == "multi":
            self.heads = nn.ModuleList(nn.Linear(in_features, out_features) for _ in range(n_tasks))
        else:
            self.linear = nn.Linear(in_features + n_tasks, out_features)

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        task = self.context.get(latent.shape[0]).to(latent.dtype)
        if self.kind == "conditioned":
            return self.linear(torch.cat([latent, task], dim=-1))
        outs = torch.stack([h(latent) for h in self.heads], dim=1)  # (B, K, out)
        return (task.unsqueeze(-1) * outs).sum(dim=1)


class MultiTaskPolicy(ActorCriticPolicy):
    """``ActorCriticPolicy`` for ``{"obs", "task"}`` observations with ``TaskHeads`` outputs.

    Extra keyword: ``heads`` (``multi`` | ``conditioned``). The features extractor must accept
    the Dict space and write the task into a ``task_context`` (``VisionExtractor`` does, through
    its ``TaskInput`` stage)."""

    def __init__(self, observation_space: Any, action_space: Any, lr_schedule: Any, **kwargs: Any):
        self.heads_kind = kwargs.pop("heads", "multi")
        self.n_tasks = int(observation_space["task"].n)
        super().__init__(observation_space, action_space, lr_schedule, **kwargs)

    def _get_constructor_parameters(self) -> dict[str, Any]:
        return {**super()._get_constructor_parameters(), "heads": self.heads_kind}

    def _build(self, lr_schedule: Any) -> None:
        super()._build(lr_schedule)  # builds single-task heads, then replaced here
        context = TaskContext()
        heads = {}
        for name, gain in (("action_net", 0.01), ("value_net", 1.0)):
            old = getattr(self, name)
            if not isinstance(old, nn.Linear):
                raise ValueError(f"{name} is not a linear layer ({type(old).__name__})")
            new = TaskHeads(self.heads_kind, old.in_features, old.out_features, self.n_tasks)
            new.context = context
            if self.ortho_init:
                new.apply(partial(self.init_weights, gain=gain))
            heads[name] = new
        self.action_net, self.value_net = heads["action_net"], heads["value_net"]
        for module in self.modules():
            if hasattr(module, "task_context"):
                module.task_context = context
        self.task_context = context
        self.optimizer = self.optimizer_class(  # type: ignore[call-arg]
            self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs
        )


def task_logits(policy: MultiTaskPolicy, obs: np.ndarray, task: int) -> torch.Tensor:
    """The action-distribution parameters (1, n_outputs) of ``policy`` for one raw
    observation ``obs`` labelled as task ``task``."""
    tensor, _ = policy.obs_to_tensor({"obs": obs, "task": np.int64(task)})
    with torch.no_grad():
        features = policy.extract_features(tensor, policy.pi_features_extractor)
        latent = policy.mlp_extractor.forward_actor(features)
        return policy.action_net(latent)
