"""Frames from the source agent of a finished study, for self-supervised pretraining.

The agent is rebuilt from the study's resolved ``study.yaml`` (algorithm, hyperparameters,
policy) and its checkpoint's tensors (``policy.pth``, read with ``weights_only=True``); nothing
is unpickled. Frames are the raw image observations the agent sees while acting.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnvWrapper

from rltransfer.agents import build_model
from rltransfer.checkpoints import read_policy_state
from rltransfer.config.spec import EnvSpec
from rltransfer.environments import make_env
from rltransfer.methods.parameters import load_matching
from rltransfer.validation import load_study
from rltransfer.vision.plan import prepare_env


class _Recorder(VecEnvWrapper):
    """Keeps the last raw observation batch (below the feature cache, if any)."""

    def reset(self) -> np.ndarray:
        self.last = self.venv.reset()
        return self.last

    def step_wait(self) -> Any:
        obs, rewards, dones, infos = self.venv.step_wait()
        self.last = obs
        return obs, rewards, dones, infos


def agent_frames(
    study_dir: str | Path, spec: EnvSpec, frames: int, seed: int = 0, first_episode: int = 0
) -> tuple[list[np.ndarray], list[int]]:
    """``frames`` raw observations of ``spec`` while the study's source agent acts
    (stochastically), with episode ids starting at ``first_episode``."""
    root = Path(study_dir)
    if not (root / "study.yaml").is_file():
        raise ValueError(f"{root}: no study.yaml (give a study's result folder)")
    study = load_study(str(root / "study.yaml"), tracking={"wandb": {"mode": "disabled"}})
    checkpoint = Path(study.source.checkpoint or root / "source" / "model.zip")
    if not checkpoint.is_file():
        raise ValueError(f"{checkpoint}: the source agent's checkpoint is missing")
    if study.hyperparams.get("normalize"):
        raise ValueError("agents trained with VecNormalize are not supported here")
    recorder = _Recorder(DummyVecEnv([lambda: make_env(spec)]))
    venv, setup = prepare_env(recorder, study.policy, device="cpu", seed=seed)
    model = build_model(
        study.algo,
        venv,
        hyperparams=study.hyperparams,
        policy=study.policy,
        seed=seed,
        device="cpu",
        setup=setup,
    )
    load_matching(model, read_policy_state(checkpoint))
    venv.seed(seed)
    obs = venv.reset()
    images, episodes, episode = [], [], first_episode
    for _ in range(frames):
        images.append(recorder.last[0])
        episodes.append(episode)
        action, _ = model.predict(obs, deterministic=False)
        obs, _, dones, _ = venv.step(action)
        episode += int(dones[0])
    venv.close()
    return images, episodes
