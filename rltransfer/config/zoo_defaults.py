"""Default hyperparameters per (algorithm, environment).

The values are rl-zoo3's published tuned hyperparameters for classic control
(rl-baselines3-zoo, ``hyperparams/{ppo,a2c,dqn,sac}.yml``), keyed by the Gymnasium task they were
tuned on. ``n_timesteps`` is left out: the study sets budgets. ``policy_kwargs`` are written as data
(``activation_fn`` as a name). A study's own ``hyperparams`` are laid over these.
"""

from __future__ import annotations

import copy
from typing import Any

_DQN_NET = {"net_arch": [256, 256]}

ZOO: dict[str, dict[str, dict[str, Any]]] = {
    "ppo": {
        "CartPole": {
            "n_envs": 8,
            "n_steps": 32,
            "batch_size": 256,
            "gae_lambda": 0.8,
            "gamma": 0.98,
            "n_epochs": 20,
            "ent_coef": 0.0,
            "learning_rate": "lin_0.001",
            "clip_range": "lin_0.2",
        },
        "Acrobot": {
            "normalize": True,
            "n_envs": 16,
            "n_steps": 256,
            "gae_lambda": 0.94,
            "gamma": 0.99,
            "n_epochs": 4,
            "ent_coef": 0.0,
        },
        "MountainCar": {
            "normalize": True,
            "n_envs": 16,
            "n_steps": 16,
            "gae_lambda": 0.98,
            "gamma": 0.99,
            "n_epochs": 4,
            "ent_coef": 0.0,
        },
        "Pendulum": {
            "n_envs": 4,
            "n_steps": 1024,
            "gae_lambda": 0.95,
            "gamma": 0.9,
            "n_epochs": 10,
            "ent_coef": 0.0,
            "learning_rate": 1e-3,
            "clip_range": 0.2,
            "use_sde": True,
            "sde_sample_freq": 4,
        },
    },
    "a2c": {
        "CartPole": {"n_envs": 8, "ent_coef": 0.0},
        "Acrobot": {"normalize": True, "n_envs": 16, "ent_coef": 0.0},
        "MountainCar": {"normalize": True, "n_envs": 16, "ent_coef": 0.0},
        "Pendulum": {
            "normalize": True,
            "n_envs": 8,
            "ent_coef": 0.0,
            "max_grad_norm": 0.5,
            "n_steps": 8,
            "gae_lambda": 0.9,
            "vf_coef": 0.4,
            "gamma": 0.99,
            "use_rms_prop": True,
            "normalize_advantage": False,
            "learning_rate": "lin_7e-4",
            "use_sde": True,
            "policy_kwargs": {"log_std_init": -2, "ortho_init": False},
        },
    },
    "dqn": {
        "CartPole": {
            "learning_rate": 2.3e-3,
            "batch_size": 64,
            "buffer_size": 100_000,
            "learning_starts": 1000,
            "gamma": 0.99,
            "target_update_interval": 10,
            "train_freq": 256,
            "gradient_steps": 128,
            "exploration_fraction": 0.16,
            "exploration_final_eps": 0.04,
            "policy_kwargs": _DQN_NET,
        },
        "MountainCar": {
            "learning_rate": 4e-3,
            "batch_size": 128,
            "buffer_size": 10_000,
            "learning_starts": 1000,
            "gamma": 0.98,
            "target_update_interval": 600,
            "train_freq": 16,
            "gradient_steps": 8,
            "exploration_fraction": 0.2,
            "exploration_final_eps": 0.07,
            "policy_kwargs": _DQN_NET,
        },
        "Acrobot": {
            "learning_rate": 6.3e-4,
            "batch_size": 128,
            "buffer_size": 50_000,
            "learning_starts": 0,
            "gamma": 0.99,
            "target_update_interval": 250,
            "train_freq": 4,
            "gradient_steps": -1,
            "exploration_fraction": 0.12,
            "exploration_final_eps": 0.1,
            "policy_kwargs": _DQN_NET,
        },
    },
    "sac": {
        "Pendulum": {"learning_rate": 1e-3},
    },
}

# Gymnasium ids and the testbed's families that share a tuned entry.
_TASK_OF_ID = {
    "CartPole-v1": "CartPole",
    "CartPole-v0": "CartPole",
    "rltransfer/CartPole-v0": "CartPole",
    "Acrobot-v1": "Acrobot",
    "rltransfer/Acrobot-v0": "Acrobot",
    "MountainCar-v0": "MountainCar",
    "rltransfer/MountainCar-v0": "MountainCar",
    "Pendulum-v1": "Pendulum",
    "rltransfer/Pendulum-v0": "Pendulum",
}


def zoo_defaults(algo: str, env_id: str) -> dict[str, Any]:
    """Return a copy of the tuned hyperparameters for ``algo`` on ``env_id`` ({} when none)."""
    task = _TASK_OF_ID.get(env_id)
    return copy.deepcopy(ZOO.get(algo, {}).get(task, {})) if task else {}
