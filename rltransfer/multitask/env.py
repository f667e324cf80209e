"""Task identity from the environment, and balanced sampling of the tasks.

``TaskIdWrapper`` turns task k's observation ``o`` into ``{"obs": o, "task": k}`` with the space
``Dict({"obs": <original space>, "task": Discrete(K)})``; SB3 one-hot encodes the ``task`` entry
(shape (B, K), float) before the policy sees it.

Balanced sampling: ``make_task_vec_env`` holds ``n_envs`` copies of every task, task k in the
copies ``[k·n_envs, (k+1)·n_envs)``. Every env copy steps once per vector step, so each rollout
(and so each update) holds exactly the same number of steps of every task, whatever the
episode lengths; the total budget ``source.timesteps`` counts the steps of all tasks together.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np

from rltransfer.config.spec import EnvSpec
from rltransfer.environments import make_env

OBS_KEY = "obs"
TASK_KEY = "task"


def task_space(observation_space: gym.Space, n_tasks: int) -> gym.spaces.Dict:
    """The observation space a task-identified env yields."""
    return gym.spaces.Dict({OBS_KEY: observation_space, TASK_KEY: gym.spaces.Discrete(n_tasks)})


def is_task_space(space: gym.Space) -> bool:
    """True for a ``{"obs", "task": Discrete}`` Dict space (a multi-task source's)."""
    return (
        isinstance(space, gym.spaces.Dict)
        and set(space.spaces) == {OBS_KEY, TASK_KEY}
        and isinstance(space[TASK_KEY], gym.spaces.Discrete)
    )


class TaskIdWrapper(gym.ObservationWrapper):
    """Adds the task id ``task`` (an int in [0, n_tasks)) to every observation."""

    def __init__(self, env: gym.Env, task: int, n_tasks: int):
        super().__init__(env)
        if not 0 <= task < n_tasks:
            raise ValueError(f"task {task} is not in [0, {n_tasks})")
        self.task = task
        self.observation_space = task_space(env.observation_space, n_tasks)

    def observation(self, observation: Any) -> dict[str, Any]:
        return {OBS_KEY: observation, TASK_KEY: np.int64(self.task)}


def make_task_env(env_spec: EnvSpec, task: int, n_tasks: int, monitor: bool = True) -> gym.Env:
    """Task ``task`` of ``n_tasks``: the env of ``env_spec`` (with a Monitor) that names its
    task in every observation."""
    from stable_baselines3.common.monitor import Monitor

    env = make_env(env_spec)
    return TaskIdWrapper(Monitor(env) if monitor else env, task, n_tasks)


def make_task_vec_env(envs: list[EnvSpec], n_envs: int) -> Any:
    """A DummyVecEnv of ``n_envs`` copies of each task in ``envs`` (len(envs) · n_envs in all),
    task k in copies [k·n_envs, (k+1)·n_envs); ``venv.task_of`` (shape (len(envs)·n_envs,),
    int) names each copy's task."""
    from stable_baselines3.common.vec_env import DummyVecEnv

    k = len(envs)
    fns = [
        (lambda spec=spec, i=i: make_task_env(spec, i, k))
        for i, spec in enumerate(envs)
        for _ in range(n_envs)
    ]
    venv = DummyVecEnv(fns)
    venv.task_of = np.repeat(np.arange(k), n_envs)
    return venv
