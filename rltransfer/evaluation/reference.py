"""The evaluation path ``Evaluator`` replaced: SB3's ``evaluate_policy`` over a
``DummyVecEnv``. Kept only as the reference that tests and ``scripts/bench_eval.py`` compare the
lock-step evaluator with."""

from __future__ import annotations

import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.evaluation import evaluate_policy

from .evaluator import Evaluator, build_eval_env, sync_normalization


class ReferenceEvaluator:
    """``evaluator``'s episodes through ``evaluate_policy``, on env copies of its own."""

    def __init__(self, evaluator: Evaluator):
        self.spec, self.seed = evaluator.spec, evaluator.seed
        self.env = build_eval_env(evaluator.make, evaluator.n_envs, evaluator.train_env, fast=False)

    def returns(self, model: BaseAlgorithm) -> np.ndarray:
        """The returns, shape (episodes,), as the old ``Evaluator.returns`` computed them."""
        sync_normalization(self.env, model)
        self.env.seed(self.seed)
        returns, _ = evaluate_policy(
            model,
            self.env,
            n_eval_episodes=self.spec.episodes,
            deterministic=self.spec.deterministic,
            return_episode_rewards=True,
            warn=False,
        )
        return np.asarray(returns, dtype=np.float64)

    def close(self) -> None:
        self.env.close()
