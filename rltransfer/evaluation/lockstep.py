"""The lock-step evaluation loop: every env copy steps together, one batched policy forward
per step, under ``torch.inference_mode``.

It keeps SB3's ``evaluate_policy`` schedule and draws exactly: with ``n`` copies and ``E``
episodes, copy ``i`` counts its first ``(E + i) // n`` episodes; every copy steps until all
have theirs (finished copies keep stepping, so the batch is always the ``n`` copies in order);
returns are Monitor's ``info["episode"]["r"]`` when the copies are Monitor-wrapped (an
episodic-life "done" without it is not an episode's end), else the summed step rewards; they
are listed in the order the episodes end (copy order within a step). The actions are SB3's
``predict``'s, computed from the policy's own modules: the same random draws in the same order
when ``deterministic`` is false (DQN's epsilon-greedy too), so the returns equal
``evaluate_policy``'s for a given global RNG state.

Side by side (``run_side_by_side``): with deterministic actions and a family whose episodes are
independent of each other (``BatchedDynamics.independent_episodes``), the evaluator gives each
episode of SB3's schedule a copy of its own, started where SB3's copy would start it, and plays
them all at once: half the sequential steps for 10 episodes on 8 copies. The episodes are the
same; the policy's forward then runs on a batch of another size, whose float rounding may differ
in the last bit (a deterministic action changes only at an exact tie of two scores; the tests
find the same returns). Deterministic PPO/A2C (Categorical) and DQN heads run as the tensor
operations of their ``predict``, without the module and distribution objects' overhead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from stable_baselines3 import DQN
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.distributions import CategoricalDistribution
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.policies import (
    ActorCriticCnnPolicy,
    ActorCriticPolicy,
    BaseModel,
    BasePolicy,
    MultiInputActorCriticPolicy,
)
from stable_baselines3.common.preprocessing import is_image_space, maybe_transpose
from stable_baselines3.common.torch_layers import MlpExtractor
from stable_baselines3.common.vec_env import VecEnv, VecMonitor, is_vecenv_wrapped
from stable_baselines3.dqn.policies import CnnPolicy, DQNPolicy, MultiInputPolicy, QNetwork
from torch import nn

Actor = Callable[[Any], np.ndarray]
"""Observations of the n copies (n, *obs_shape) or a dict of them → actions (n, *act_shape)."""


def _batch(obs: np.ndarray, space: spaces.Space) -> np.ndarray:
    """``BasePolicy.obs_to_tensor``'s array for one (sub)space: images channel-first."""
    obs = maybe_transpose(obs, space) if is_image_space(space) else np.asarray(obs)
    return obs.reshape((-1, *space.shape))


def _obs_tensor(policy: BasePolicy, obs: Any, device: torch.device) -> Any:
    """``policy.obs_to_tensor(obs)[0]`` for a batch, with the device looked up once (SB3 finds
    it through ``parameters()`` on every call)."""
    space = policy.observation_space
    if isinstance(obs, dict):
        return {k: torch.as_tensor(_batch(v, space[k]), device=device) for k, v in obs.items()}
    return torch.as_tensor(_batch(obs, space), device=device)


def _policy_actions(
    policy: BasePolicy, obs: Any, deterministic: bool, device: torch.device
) -> np.ndarray:
    """``BasePolicy.predict``'s actions for a batch, without its per-call checks."""
    tensor = _obs_tensor(policy, obs, device)
    actions = policy._predict(tensor, deterministic=deterministic)
    actions = actions.cpu().numpy().reshape((-1, *policy.action_space.shape))
    space = policy.action_space
    if isinstance(space, spaces.Box):
        if policy.squash_output:
            return policy.unscale_action(actions)
        return np.clip(actions, space.low, space.high)
    return actions


_ACTOR_CRITICS = (ActorCriticPolicy, ActorCriticCnnPolicy, MultiInputActorCriticPolicy)
_Q_POLICIES = (DQNPolicy, CnnPolicy, MultiInputPolicy)
"""Policy classes whose prediction path the direct heads reproduce (subclasses may change it)."""
_ELEMENTWISE = {nn.Tanh: torch.tanh, nn.ReLU: torch.relu, nn.Identity: lambda x: x}


def _hooked(module: nn.Module) -> bool:
    """Whether calling ``module`` runs hooks that a direct head would skip."""
    return bool(module._forward_hooks or module._forward_pre_hooks)


def _as_calls(module: nn.Module) -> list[Callable[[torch.Tensor], torch.Tensor]] | None:
    """``module``'s forward as the tensor calls its modules' ``forward`` make (``F.linear``,
    ``torch.tanh``, ...), without ``nn.Module.__call__``'s overhead; None for anything but a
    Sequential of plain Linear, Tanh, ReLU and Identity layers (hooks included)."""
    layers = list(module) if type(module) is nn.Sequential else [module]
    if any(_hooked(layer) for layer in [module, *layers]):
        return None
    calls = []
    for layer in layers:
        if type(layer) is nn.Linear:
            w, b = layer.weight, layer.bias
            calls.append(lambda x, w=w, b=b: torch.nn.functional.linear(x, w, b))
        elif type(layer) in _ELEMENTWISE:
            calls.append(_ELEMENTWISE[type(layer)])
        else:
            return None
    return calls


def _categorical_mode(policy: BasePolicy) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """For SB3's own ``ActorCriticPolicy`` classes with a Categorical head: observations
    (n, ...) → deterministic actions (n,), by the very tensor operations of ``policy._predict``
    (features, ``policy_net``, ``action_net``, ``Categorical``'s normalised logits, softmax,
    argmax), so the values are the same bits. None when the policy is another kind."""
    if type(policy) not in _ACTOR_CRITICS or type(policy.mlp_extractor) is not MlpExtractor:
        return None
    if type(policy.action_dist) is not CategoricalDistribution:
        return None
    calls = _as_calls(policy.mlp_extractor.policy_net)
    head = _as_calls(policy.action_net)
    if calls is None or head is None:  # (``forward_actor`` is not a call: no hooks of its own)
        return None
    calls += head

    def mode(obs: torch.Tensor) -> torch.Tensor:
        x = BaseModel.extract_features(policy, obs, policy.pi_features_extractor)
        for call in calls:
            x = call(x)
        logits = x - x.logsumexp(dim=-1, keepdim=True)
        return torch.argmax(torch.softmax(logits, dim=-1), dim=1)

    return mode


def _greedy_q(policy: BasePolicy) -> Callable[[torch.Tensor], torch.Tensor] | None:
    """For SB3's own ``DQNPolicy`` classes: observations (n, ...) → greedy actions (n,), by
    the tensor operations of ``QNetwork._predict``; None for another kind of policy."""
    if type(policy) not in _Q_POLICIES or type(policy.q_net) is not QNetwork:
        return None
    q = policy.q_net
    calls = _as_calls(q.q_net)
    if calls is None or _hooked(q):  # ``QNetwork._predict`` calls ``q``
        return None

    def greedy(obs: torch.Tensor) -> torch.Tensor:
        x = BaseModel.extract_features(q, obs, q.features_extractor)
        for call in calls:
            x = call(x)
        return x.argmax(dim=1).reshape(-1)

    return greedy


def _deterministic_head(policy: BasePolicy) -> Callable[[torch.Tensor], torch.Tensor] | None:
    return _categorical_mode(policy) or _greedy_q(policy)


def actor(model: BaseAlgorithm, deterministic: bool) -> Actor:
    """``model.predict(obs, deterministic=...)[0]`` for a batch of observations, computed with
    the policy's modules directly. A model or policy that overrides ``predict`` in a way this
    module does not know (a recurrent policy, say) is called through its ``predict``."""
    policy = model.policy
    known = type(model).predict in (BaseAlgorithm.predict, DQN.predict)
    if not known or type(policy).predict is not BasePolicy.predict:
        return lambda obs: model.predict(obs, deterministic=deterministic)[0]
    policy.set_training_mode(False)
    device = policy.device
    epsilon = isinstance(model, DQN) and not deterministic
    mode = _deterministic_head(policy) if deterministic else None
    if mode is not None:
        return lambda obs: mode(_obs_tensor(policy, obs, device)).cpu().numpy()

    def act(obs: Any) -> np.ndarray:
        if epsilon and np.random.rand() < model.exploration_rate:  # as DQN.predict draws
            n = len(next(iter(obs.values()))) if isinstance(obs, dict) else len(obs)
            return np.array([model.action_space.sample() for _ in range(n)])
        return _policy_actions(policy, obs, deterministic, device)

    return act


@contextmanager
def unvalidated_distributions() -> Iterator[None]:
    """``torch.distributions`` without argument validation inside the block. Validation only
    checks parameters (and raises on bad ones); the values are the same, and skipping it
    roughly halves a small policy's forward (151 → 87 µs for a batch of 8, PPO on CartPole)."""
    before = torch.distributions.Distribution._validate_args
    torch.distributions.Distribution.set_default_validate_args(False)
    try:
        yield
    finally:
        torch.distributions.Distribution.set_default_validate_args(before)


def episodes_per_copy(episodes: int, n: int) -> list[int]:
    """SB3's ``evaluate_policy`` split of ``episodes`` episodes over ``n`` copies: copy ``i``
    plays ``(episodes + i) // n`` of them (they sum to ``episodes``)."""
    return [(episodes + i) // n for i in range(n)]


def schedule(episodes: int, n: int) -> list[tuple[int, int]]:
    """SB3's schedule of ``episodes`` episodes on ``n`` copies as ``(copy, k)`` pairs: copy
    ``i`` plays its episodes ``k = 0 .. episodes_per_copy(episodes, n)[i] - 1``, in copy order."""
    return [(i, k) for i, m in enumerate(episodes_per_copy(episodes, n)) for k in range(m)]


def _is_monitored(venv: VecEnv) -> bool:
    return is_vecenv_wrapped(venv, VecMonitor) or venv.env_is_wrapped(Monitor)[0]


def run_side_by_side(venv: VecEnv, act: Actor, rows: list[tuple[int, int]]) -> np.ndarray:
    """Every copy of ``venv`` (seeded beforehand, ``BatchedVecEnv.seed_rows``) plays one
    episode at once: copy ``r`` plays episode ``rows[r] = (i, k)`` of ``schedule``, so one
    batched forward per step serves all the episodes of a point. Returns shape (len(rows),)
    float64, in the order ``run_episodes`` lists them: by the step at which each episode would
    end there (the lengths of copy ``i``'s episodes before ``k`` added), then by copy.

    Used only with deterministic actions: each row's actions then depend on its own
    observations alone, up to the float rounding of a forward of another batch size."""
    n = venv.num_envs
    returns, ends = np.zeros(n), np.zeros(n, dtype=np.int64)
    current, finished = np.zeros(n), np.zeros(n, dtype=bool)
    monitored = _is_monitored(venv)
    obs, t = venv.reset(), 0
    with torch.inference_mode(), unvalidated_distributions():
        while not finished.all():
            obs, rewards, dones, infos = venv.step(act(obs))
            current += rewards
            t += 1
            for r in np.flatnonzero(dones & ~finished).tolist():
                if monitored and "episode" not in infos[r]:  # a life lost, not the game
                    current[r] = 0
                    continue
                returns[r] = infos[r]["episode"]["r"] if monitored else current[r]
                finished[r], ends[r] = True, t
    end_in_schedule = {}
    for r, (i, k) in enumerate(rows):
        end_in_schedule[i, k] = ends[r] + (end_in_schedule[i, k - 1] if k else 0)
    order = sorted(range(n), key=lambda r: (end_in_schedule[rows[r]], rows[r][0]))
    return returns[order]


def run_episodes(venv: VecEnv, act: Actor, episodes: int) -> np.ndarray:
    """Run ``episodes`` episodes on ``venv`` (seeded beforehand) with ``act``; return their
    returns, shape (episodes,) float64, in the order they end."""
    n = venv.num_envs
    targets = np.array(episodes_per_copy(episodes, n))
    counts = np.zeros(n, dtype=int)
    current = np.zeros(n)
    monitored = _is_monitored(venv)
    returns: list[float] = []
    obs = venv.reset()
    with torch.inference_mode(), unvalidated_distributions():
        while (counts < targets).any():
            obs, rewards, dones, infos = venv.step(act(obs))
            current += rewards
            for i in np.flatnonzero(dones).tolist():
                if counts[i] >= targets[i]:
                    continue
                if not monitored:
                    returns.append(current[i])
                    counts[i] += 1
                elif "episode" in infos[i]:
                    returns.append(infos[i]["episode"]["r"])
                    counts[i] += 1
                current[i] = 0
    return np.asarray(returns, dtype=np.float64)
