"""Self-supervised pretraining of an encoder on frames of source environments (no rewards, no
labels), written as a weights file any study can load (``policy.weights: FILE``).

Frames come from a random policy or from a finished study's source agent. Two objectives,
summed:

* ``mae``: masked inpainting — half of the image's patches are blanked, and a linear decoder
  reconstructs the whole (downsampled) frame from the encoder's features;
* ``atc``: augmented temporal contrast (Stooke et al. 2021) — a frame and one a few steps later
  in the same episode, both randomly shifted, must match among the batch (InfoNCE, bilinear).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from rltransfer.config.spec import EnvSpec
from rltransfer.environments import make_env
from rltransfer.tools.agent_frames import agent_frames
from rltransfer.vision.encoder import Encoder, image_shape
from rltransfer.vision.registry import create_encoder
from rltransfer.vision.weights import save_weights

OBJECTIVES = ("mae", "atc")
_RECON = 16  # side of the reconstructed (downsampled) frame


def collect_frames(
    envs: Sequence[EnvSpec], frames: int, seed: int = 0, agent: str | Path | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``frames`` observations, split evenly over ``envs``, from a random policy or, with
    ``agent`` (a study's result folder), from that study's source agent.

    Returns images (N, C, H, W) uint8, channel-first, and episode ids (N,) (distinct across
    envs), in time order within each episode."""
    images, episodes, episode = [], [], 0
    for i, spec in enumerate(envs):
        env = make_env(spec)
        space = env.observation_space
        if not (isinstance(space, gym.spaces.Box) and len(space.shape) == 3):
            raise ValueError(f"{spec.id}: pretraining needs image observations, got {space}")
        transpose = image_shape(space) != tuple(space.shape)
        n = frames // len(envs) + (1 if i < frames % len(envs) else 0)
        if agent is not None:
            raw, eps = agent_frames(agent, spec, n, seed + i, episode)
        else:
            raw, eps = _random_frames(env, n, seed + i, episode)
        images += [im.transpose(2, 0, 1) if transpose else im for im in raw]
        episodes += eps
        episode = (eps[-1] if eps else episode) + 1
        env.close()
    shapes = {im.shape for im in images}
    if len(shapes) > 1:
        raise ValueError(f"the environments' frames differ in shape: {sorted(shapes)}")
    return np.stack(images).astype(np.uint8), np.asarray(episodes)


def _random_frames(
    env: gym.Env, n: int, seed: int, episode: int
) -> tuple[list[np.ndarray], list[int]]:
    env.action_space.seed(seed)
    obs, _ = env.reset(seed=seed)
    images, episodes = [], []
    for _ in range(n):
        images.append(obs)
        episodes.append(episode)
        obs, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            episode += 1
            obs, _ = env.reset()
    return images, episodes


def random_shift(x: torch.Tensor, pad: int = 4) -> torch.Tensor:
    """Random translation by up to ``pad`` pixels (replicate padding), per image."""
    b, _, h, w = x.shape
    padded = F.pad(x, (pad,) * 4, mode="replicate")
    dx = torch.randint(0, 2 * pad + 1, (b,), device=x.device)
    dy = torch.randint(0, 2 * pad + 1, (b,), device=x.device)
    rows = (torch.arange(h, device=x.device)[None, :] + dy[:, None])[:, None, :, None]
    cols = (torch.arange(w, device=x.device)[None, :] + dx[:, None])[:, None, None, :]
    idx_b = torch.arange(b, device=x.device)[:, None, None, None]
    idx_c = torch.arange(x.shape[1], device=x.device)[None, :, None, None]
    return padded[idx_b, idx_c, rows, cols]


def mask_patches(x: torch.Tensor, ratio: float = 0.5) -> torch.Tensor:
    """Blank (set to the mean grey) a random ``ratio`` of 8×8-grid patches of each image."""
    b, _, h, w = x.shape
    keep = (torch.rand(b, 1, 8, 8, device=x.device) >= ratio).float()
    keep = F.interpolate(keep, size=(h, w), mode="nearest")
    return x * keep + 0.5 * (1 - keep)


class _Heads(nn.Module):
    def __init__(self, dim: int, channels: int, proj: int = 64):
        super().__init__()
        self.decoder = nn.Linear(dim, channels * _RECON * _RECON)
        self.project = nn.Sequential(nn.Linear(dim, proj), nn.ReLU(), nn.Linear(proj, proj))
        self.bilinear = nn.Parameter(torch.eye(proj))


def _pairs(episodes: np.ndarray, max_gap: int) -> np.ndarray:
    """Indices i whose frame i + k (1 <= k <= max_gap) is in the same episode, for k = gap."""
    ok = np.zeros(len(episodes), dtype=bool)
    ok[:-max_gap] = episodes[:-max_gap] == episodes[max_gap:]
    return np.flatnonzero(ok)


def pretrain_encoder(
    encoder: Encoder,
    images: np.ndarray,
    episodes: np.ndarray,
    *,
    steps: int = 500,
    batch_size: int = 64,
    objectives: Sequence[str] = OBJECTIVES,
    lr: float = 3e-4,
    gap: int = 2,
    seed: int = 0,
    device: str = "cpu",
    log: Callable[[int, dict[str, float]], None] | None = None,
) -> list[dict[str, float]]:
    """Train ``encoder`` in place on ``images`` (N, C, H, W) uint8; returns the loss history."""
    unknown = set(objectives) - set(OBJECTIVES)
    if unknown or not objectives:
        raise ValueError(f"objectives must be among {', '.join(OBJECTIVES)}, got {objectives}")
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    encoder.to(device).train()
    heads = _Heads(encoder.features_dim, images.shape[1]).to(device)
    opt = torch.optim.Adam([*encoder.parameters(), *heads.parameters()], lr=lr)
    pairs = _pairs(episodes, gap)
    if "atc" in objectives and len(pairs) < 2:
        raise ValueError("too few frames within episodes for the temporal objective")
    data = torch.as_tensor(images)
    history = []
    for step in range(1, steps + 1):
        losses: dict[str, torch.Tensor] = {}
        if "mae" in objectives:
            x = data[rng.integers(0, len(data), batch_size)].to(device).float() / 255
            recon = heads.decoder(encoder(mask_patches(x))).view(-1, x.shape[1], _RECON, _RECON)
            target = F.interpolate(x, size=(_RECON, _RECON), mode="area")
            losses["mae"] = F.mse_loss(recon, target)
        if "atc" in objectives:
            i = pairs[rng.integers(0, len(pairs), batch_size)]
            a = random_shift(data[i].to(device).float() / 255)
            p = random_shift(data[i + gap].to(device).float() / 255)
            za, zp = heads.project(encoder(a)), heads.project(encoder(p))
            logits = za @ heads.bilinear @ zp.T
            logits = logits - logits.max(dim=1, keepdim=True).values
            losses["atc"] = F.cross_entropy(logits, torch.arange(len(i), device=device))
        loss = sum(losses.values())
        opt.zero_grad()
        loss.backward()
        opt.step()
        record = {k: float(v.detach()) for k, v in losses.items()}
        history.append(record)
        if log is not None:
            log(step, record)
    encoder.eval()
    return history


def run_pretrain(
    envs: Sequence[EnvSpec],
    encoder_name: str,
    out: str | Path,
    *,
    frames: int = 2000,
    weights: str = "none",
    encoder_kwargs: dict[str, Any] | None = None,
    log: Callable[[int, dict[str, float]], None] | None = None,
    seed: int = 0,
    agent: str | Path | None = None,
    **train: Any,
) -> Path:
    """Collect frames, pretrain ``encoder_name`` from ``weights``, write ``out`` (``.pt`` or
    ``.safetensors``) with its preprocessing and provenance. Returns the file."""
    images, episodes = collect_frames(envs, frames, seed, agent)
    space = gym.spaces.Box(0, 255, images.shape[1:], np.uint8)
    encoder = create_encoder(encoder_name, space, weights, **(encoder_kwargs or {}))
    history = pretrain_encoder(encoder, images, episodes, seed=seed, log=log, **train)
    provenance = {
        "source": "pretrain",
        "envs": [{"id": e.id, "kwargs": e.kwargs} for e in envs],
        "frames": int(len(images)),
        "policy": f"source agent of {agent}" if agent else "random",
        "init": weights,
        "objectives": list(train.get("objectives", OBJECTIVES)),
        "steps": len(history),
        "final_losses": history[-1] if history else {},
        "seed": seed,
    }
    return save_weights(out, encoder.cpu(), provenance)
