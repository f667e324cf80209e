"""The source agent as a frozen teacher: it acts, and it gives its action distribution.

Policy-transfer methods (``reuse``, ``kickstart``, ``distill``) query the source policy instead
of copying its weights. The teacher is rebuilt from the source checkpoint's ``policy.pth``
(read with ``weights_only=True``; nothing is unpickled) with a known architecture: the study's
``policy`` by default, or the method's ``teacher`` option for a checkpoint trained elsewhere.
It runs in eval mode, without gradients, on the student's device.

Distributions (SB3 ``Distribution`` objects, so ``log_prob`` sums over action dimensions):

* PPO / A2C teachers: their own action distribution (categorical or diagonal Gaussian);
* DQN teachers: a categorical distribution with logits Q(s, ·) / ``temperature``;
* SAC teachers: their squashed Gaussian.

Observations: the teacher takes raw env observations and applies its own VecNormalize statistics
(``normalize.json`` of the source run), frozen, as the source saw them in training: through SB3's
``VecNormalize.normalize_obs`` with the source's ``clip_obs`` and ``epsilon`` (SB3's defaults for
a ``normalize.json`` written before they were stored).
"""

from __future__ import annotations

import copy
import random
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.distributions import CategoricalDistribution, Distribution
from stable_baselines3.common.vec_env import DummyVecEnv, VecNormalize

from rltransfer.agents import build_model
from rltransfer.checkpoints import SpaceInfo
from rltransfer.config.parse import join
from rltransfer.config.spec import PolicySpec
from rltransfer.methods.teacher_options import TeacherOptions
from rltransfer.vision.registry import encoder_entry


def check_teacher_policy(options: TeacherOptions, path: str) -> None:
    """Raise ``FieldError`` at ``<path>.teacher.policy.encoder`` when the teacher's own
    architecture names an encoder the registry lacks (``path``: the method's)."""
    if options.policy is not None:
        encoder_entry(options.policy.encoder, join(path, "teacher.policy.encoder"))


@contextmanager
def preserved_rng() -> Iterator[None]:
    """Restore Python's, NumPy's and torch's global random states on exit."""
    states = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


class _SpacesEnv(gym.Env):
    """An env that only has spaces: SB3 needs one to build a model."""

    def __init__(self, observation_space: gym.Space, action_space: gym.Space):
        self.observation_space, self.action_space = observation_space, action_space

    def reset(self, *, seed: int | None = None, options: Any = None) -> tuple[Any, dict]:
        return self.observation_space.sample(), {}

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        return self.observation_space.sample(), 0.0, True, False, {}


def space_from_info(info: SpaceInfo, like: gym.Space | None = None) -> gym.Space:
    """A Gymnasium space for a checkpoint's ``SpaceInfo``; ``like`` (the target's space) when it
    has the same kind and shape, so bounds and dtype are exact."""
    if like is not None and SpaceInfo.as_policy_sees(like) == info:
        return like
    if info.kind == "Discrete":
        return gym.spaces.Discrete(int(info.n))
    if info.kind == "Box" and len(info.shape) == 3:
        return gym.spaces.Box(0, 255, info.shape, np.uint8)  # channel-first, as SB3 saves it
    if info.kind == "Box":
        return gym.spaces.Box(-np.inf, np.inf, info.shape, np.float32)
    raise ValueError(f"a teacher cannot be rebuilt for a {info} observation or action space")


NORMALIZE_SETTINGS = ("clip_obs", "epsilon")
"""The VecNormalize settings ``normalize.json`` stores with the statistics."""


def frozen_normalizer(stats: dict[str, Any]) -> VecNormalize:
    """A VecNormalize that normalises observations as the source's did in training: its
    statistics (``mean``, ``var``, ``count`` of ``normalize.json``), frozen, and its settings
    (``clip_obs``, ``epsilon``; SB3's defaults when the file predates them). Use its
    ``normalize_obs``."""
    mean = np.asarray(stats["mean"], dtype=np.float64)
    space = gym.spaces.Box(-np.inf, np.inf, mean.shape, np.float64)
    venv = DummyVecEnv([lambda: _SpacesEnv(space, gym.spaces.Discrete(2))])
    settings = {k: float(stats[k]) for k in NORMALIZE_SETTINGS if stats.get(k) is not None}
    norm = VecNormalize(venv, training=False, norm_obs=True, norm_reward=False, **settings)
    norm.obs_rms.mean = mean
    norm.obs_rms.var = np.asarray(stats["var"], dtype=np.float64)
    norm.obs_rms.count = float(stats.get("count", norm.obs_rms.count))
    return norm


class Teacher:
    """A frozen source policy. ``model``: the rebuilt SB3 agent; ``obs_stats``: its
    ``normalize.json`` (None: observations are used as they are), applied by ``normalizer``."""

    def __init__(self, model: Any, algo: str, obs_stats: dict[str, Any] | None, temperature: float):
        self.model, self.algo, self.temperature = model, algo, temperature
        self.policy = model.policy
        self.policy.set_training_mode(False)
        for p in self.policy.parameters():
            p.requires_grad_(False)
        self.obs_stats = obs_stats
        self.normalizer = frozen_normalizer(obs_stats) if obs_stats is not None else None

    @property
    def observation_space(self) -> gym.Space:
        return self.policy.observation_space

    @property
    def device(self) -> torch.device:
        return self.policy.device

    def to(self, device: str | torch.device) -> Teacher:
        self.policy.to(device)
        return self

    def prepare(self, obs: np.ndarray) -> torch.Tensor:
        """Raw env observations (n, *obs_shape) → the teacher's input tensor."""
        x = np.asarray(obs)
        if self.normalizer is not None:
            x = self.normalizer.normalize_obs(x)
        tensor, _ = self.policy.obs_to_tensor(x)
        return tensor

    @torch.no_grad()
    def distribution(self, obs: torch.Tensor) -> Distribution:
        """The teacher's action distribution for a batch of prepared observations."""
        if self.algo == "dqn":
            q = self.policy.q_net(obs)
            dist = CategoricalDistribution(int(q.shape[-1]))
            return dist.proba_distribution(action_logits=q / self.temperature)
        if self.algo == "sac":
            mean, log_std, kwargs = self.policy.actor.get_action_dist_params(obs)
            return self.policy.actor.action_dist.proba_distribution(mean, log_std, **kwargs)
        return self.policy.get_distribution(obs)

    @torch.no_grad()
    def act(self, obs: np.ndarray, deterministic: bool = False) -> np.ndarray:
        """Actions (n, ...) for raw observations (n, *obs_shape), as the env takes them."""
        dist = self.distribution(self.prepare(obs))
        actions = dist.mode() if deterministic else dist.sample()
        actions = actions.cpu().numpy()
        space = self.model.action_space
        if isinstance(space, gym.spaces.Box):
            if getattr(self.policy, "squash_output", False):
                actions = self.policy.unscale_action(actions)
            actions = np.clip(actions, space.low, space.high)
        return actions


def load_teacher(
    source: Any,
    *,
    options: TeacherOptions,
    study_policy: PolicySpec,
    hyperparams: dict[str, Any],
    observation_space: gym.Space | None = None,
    action_space: gym.Space | None = None,
    device: str = "cpu",
) -> Teacher:
    """Rebuild the source agent (``SourceArtifact``) as a frozen ``Teacher``.

    ``observation_space``/``action_space``: the target's, used when the source has the same
    (exact bounds); otherwise the spaces are rebuilt from the checkpoint. Raises ``ValueError``
    naming the tensors when the checkpoint does not fit the teacher architecture.
    """
    info = source.info
    # SB3 seeds the global generators and the spaces when it builds a model: build the teacher
    # on copies of the learner's spaces and give the learner its random streams back.
    obs_space = space_from_info(info.observation_space, copy.deepcopy(observation_space))
    act_space = space_from_info(info.action_space, copy.deepcopy(action_space))
    policy = options.policy or getattr(source, "policy", None) or study_policy
    # the architecture-shaping hyperparameters (gSDE adds its own log_std shape)
    hp = {k: hyperparams[k] for k in ("policy_kwargs", "use_sde") if k in hyperparams}
    venv = DummyVecEnv([lambda: _SpacesEnv(obs_space, act_space)])
    with warnings.catch_warnings(), preserved_rng():
        warnings.simplefilter("ignore", UserWarning)  # PPO's batch-size advice for one env copy
        model = build_model(info.algo, venv, hyperparams=hp, policy=policy, seed=0, device=device)
    state = source.policy_state()
    own = model.policy.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    wrong = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or wrong:
        parts = [
            f"{what}: {', '.join(names[:4])}{' …' if len(names) > 4 else ''}"
            for what, names in (("missing", missing), ("unexpected", unexpected), ("shape", wrong))
            if names
        ]
        raise ValueError(
            f"the source checkpoint {source.model_path} does not fit the teacher architecture "
            f"({'; '.join(parts)}); set the method's 'teacher: {{policy: ...}}' option to the "
            "source agent's policy"
        )
    model.policy.load_state_dict(state)
    return Teacher(model, info.algo, source.obs_stats(), options.temperature)
