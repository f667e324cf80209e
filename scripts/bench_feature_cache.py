"""Benchmark of the frozen-feature cache: PPO on a pixel env with a frozen resnet18.

Measures env steps per second (wall clock, including PPO updates) for
  (a) inline: stable-baselines3 with the same frozen extractor inside the policy, so every PPO
      epoch re-encodes every frame;
  (b) cached: ``FeatureVecEnv`` encodes each observation once, the policy is an MLP on features;
  (c) floor: stepping the cached env alone — one batched encoder forward per env step.
Targets: (b) >= 8 x (a) and (c) / (b) <= 1.5. Prints the figures and writes them as JSON.

    .venv/bin/python scripts/bench_feature_cache.py [--steps 2048] [--size 64] [--out FILE]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from stable_baselines3.common.vec_env import DummyVecEnv

from rltransfer.agents import build_model
from rltransfer.config.parse import parse_dataclass
from rltransfer.config.spec import PolicySpec
from rltransfer.envs.vision_testing import GridPixelEnv
from rltransfer.vision import find_feature_env, prepare_env


def _venv(n: int, size: int) -> DummyVecEnv:
    return DummyVecEnv([lambda: GridPixelEnv(size=size, grid=8) for _ in range(n)])


def _policy(encoder: str, cache: bool) -> PolicySpec:
    data = {"encoder": encoder, "groups": {"all": "freeze"}, "cache": cache, "net_arch": [64]}
    return parse_dataclass(PolicySpec, data, "policy")


def _ppo(env, policy: PolicySpec, hyper: dict, device: str):
    return build_model("ppo", env, hyperparams=hyper, policy=policy, seed=0, device=device)


def bench(args: argparse.Namespace) -> dict:
    """Time the three variants in interleaved rounds of one PPO rollout each, so that a change
    in machine load during the run affects them alike."""
    hyper = {"n_steps": args.n_steps, "batch_size": args.batch_size, "n_epochs": args.epochs}
    rollout = args.n_envs * args.n_steps
    rounds = max(1, args.steps // rollout)

    inline_env = prepare_env(
        _venv(args.n_envs, args.size), _policy(args.encoder, False), device=args.device, seed=0
    )
    inline = _ppo(inline_env, _policy(args.encoder, False), hyper, args.device)
    cached_env = prepare_env(
        _venv(args.n_envs, args.size), _policy(args.encoder, True), device=args.device, seed=0
    )
    cached = _ppo(cached_env, _policy(args.encoder, True), hyper, args.device)
    floor_env = find_feature_env(cached_env)
    rng = np.random.default_rng(0)

    def step_only(n: int) -> None:
        floor_env.reset()
        for _ in range(n // args.n_envs):
            floor_env.step(rng.integers(0, 4, args.n_envs))

    variants = {
        "inline": lambda n: inline.learn(n, reset_num_timesteps=False),
        "cached": lambda n: cached.learn(n, reset_num_timesteps=False),
        "floor": step_only,
    }
    for run in variants.values():  # warm-up: one rollout and update each
        run(rollout)
    seconds = dict.fromkeys(variants, 0.0)
    for r in range(rounds):
        for name, run in variants.items():
            start = time.perf_counter()
            run(rollout)
            seconds[name] += time.perf_counter() - start
        print(
            f"round {r + 1}/{rounds}: "
            + ", ".join(f"{k} {rollout * (r + 1) / v:.1f}" for k, v in seconds.items())
            + " env steps/s",
            flush=True,
        )
    results = {k: rounds * rollout / v for k, v in seconds.items()}
    return {
        "steps_per_s": results,
        "cached_over_inline": results["cached"] / results["inline"],
        "floor_over_cached": results["floor"] / results["cached"],
        "targets": {"cached_over_inline": ">= 8", "floor_over_cached": "<= 1.5"},
        "config": {
            **vars(args),
            "timed_steps": rounds * rollout,
            "rounds": rounds,
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "env": f"GridPixelEnv(size={args.size}, grid=8), uint8 HxWx3",
        },
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--encoder", default="resnet18")
    p.add_argument("--size", type=int, default=64, help="image side in pixels")
    p.add_argument("--steps", type=int, default=1024, help="timed env steps per variant")
    p.add_argument("--n-envs", type=int, default=8)
    p.add_argument("--n-steps", type=int, default=64, help="PPO rollout length per env")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--epochs", type=int, default=10, help="PPO epochs (SB3's default: 10)")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=1, help="torch threads (runs use 1)")
    p.add_argument("--out", default="runs/bench_feature_cache.json")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    report = bench(args)
    print(
        f"cached / inline = {report['cached_over_inline']:.1f}x (target >= 8); "
        f"floor / cached = {report['floor_over_cached']:.2f}x (target <= 1.5)"
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
