"""Benchmark of the frozen-feature cache: PPO on a pixel env with a frozen resnet18.

Measures env steps per second (wall clock, including PPO updates) for
  (a) inline: stable-baselines3 with the same frozen extractor inside the policy, so every PPO
      epoch re-encodes every frame;
  (b) cached: ``FeatureVecEnv`` without a store (``cache_memory_mb: 0``) encodes each
      observation once, in one batch per step; the policy is an MLP on features;
  (c) content-addressed: ``FeatureVecEnv`` with its store (``cache_memory_mb: 512``): a frame
      seen before is not encoded again, a new one is encoded alone;
  (d) floor: stepping the cached env (b) alone — one batched encoder forward per env step.
Also the encoder's cost per frame at batch sizes 1, ``n_envs`` and ``batch_size`` (what bounds
(b) / (a)), and the store's hit rate. Targets: (b) >= 10 x (a), (c) >= 30 x (a). Prints the
figures and writes them as JSON.

    .venv/bin/python scripts/bench_feature_cache.py [--steps 2048] [--size 64] [--env grid]
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
from rltransfer.config.spec import DEFAULT_CACHE_MEMORY_MB, EnvSpec, PolicySpec
from rltransfer.environments import make_env
from rltransfer.envs.vision_testing import GridPixelEnv
from rltransfer.vision import FeatureVecEnv, find_feature_env, prepare_env

ENVS = {
    "grid": "GridPixelEnv(size={size}, grid=8): 63 distinct frames",
    "pixelgrid": "rltransfer/PixelGrid-v0 (size={size}, {kwargs})",
}


def _venv(n: int, size: int, env: str = "grid", kwargs: dict | None = None) -> DummyVecEnv:
    if env == "pixelgrid":
        spec = EnvSpec("rltransfer/PixelGrid-v0", {"size": size, **(kwargs or {})})
        return DummyVecEnv([lambda: make_env(spec) for _ in range(n)])
    return DummyVecEnv([lambda: GridPixelEnv(size=size, grid=8) for _ in range(n)])


def _policy(encoder: str, cache: bool, memory_mb: float = 0.0) -> PolicySpec:
    data = {
        "encoder": encoder,
        "groups": {"all": "freeze"},
        "cache": cache,
        "cache_memory_mb": memory_mb,
        "net_arch": [64],
    }
    return parse_dataclass(PolicySpec, data, "policy")


def _ppo(env, policy: PolicySpec, hyper: dict, device: str):
    return build_model("ppo", env, hyperparams=hyper, policy=policy, seed=0, device=device)


def encoder_ms_per_frame(cache: FeatureVecEnv, batches: list[int], seconds: float = 2.0):
    """The cached encoder's wall-clock cost per frame (ms) at each batch size, on env frames."""
    frames = cache.venv.reset()
    out = {}
    for b in batches:
        x = np.concatenate([frames] * (b // len(frames) + 1))[:b]
        cache.encode_raw(x)  # warm-up
        start, n = time.perf_counter(), 0
        while time.perf_counter() - start < seconds:
            cache.encode_raw(x)
            n += b
        out[str(b)] = 1000 * (time.perf_counter() - start) / n
    return out


def bench(args: argparse.Namespace) -> dict:
    """Time the four variants in interleaved rounds of one PPO rollout each, so that a change
    in machine load during the run affects them alike."""
    hyper = {"n_steps": args.n_steps, "batch_size": args.batch_size, "n_epochs": args.epochs}
    rollout = args.n_envs * args.n_steps
    rounds = max(1, args.steps // rollout)
    policies = {
        "inline": _policy(args.encoder, False),
        "cached": _policy(args.encoder, True, 0.0),
        "content": _policy(args.encoder, True, args.memory_mb),
    }
    models, envs = {}, {}
    for name, policy in policies.items():
        venv = _venv(args.n_envs, args.size, args.env, json.loads(args.env_kwargs))
        envs[name], _ = prepare_env(venv, policy, device=args.device, seed=0)
        models[name] = _ppo(envs[name], policy, hyper, args.device)
    floor_env = find_feature_env(envs["cached"])
    store = find_feature_env(envs["content"])
    rng = np.random.default_rng(0)

    def step_only(n: int) -> None:
        floor_env.reset()
        for _ in range(n // args.n_envs):
            floor_env.step(rng.integers(0, 4, args.n_envs))

    def learn(name: str):
        return lambda n: models[name].learn(n, reset_num_timesteps=False)

    variants = {name: learn(name) for name in policies} | {"floor": step_only}
    for run in variants.values():  # warm-up: one rollout and update each
        run(rollout)
    warm = store.cache_stats()
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
    stats = store.cache_stats()
    timed = {k: stats[k] - warm[k] for k in ("hits", "misses")}
    batches = sorted({1, args.n_envs, args.batch_size})
    return {
        "steps_per_s": results,
        "cached_over_inline": results["cached"] / results["inline"],
        "content_over_inline": results["content"] / results["inline"],
        "content_over_cached": results["content"] / results["cached"],
        "floor_over_cached": results["floor"] / results["cached"],
        "hit_rate_timed": timed["hits"] / max(1, timed["hits"] + timed["misses"]),
        "cache_stats": stats,
        "encoder_ms_per_frame": encoder_ms_per_frame(floor_env, batches),
        "targets": {"cached_over_inline": ">= 10", "content_over_inline": ">= 30"},
        "config": {
            **vars(args),
            "timed_steps": rounds * rollout,
            "rounds": rounds,
            "torch_threads": torch.get_num_threads(),
            "torch": torch.__version__,
            "machine": platform.machine(),
            "cpus": os.cpu_count(),
            "env_description": ENVS[args.env].format(size=args.size, kwargs=args.env_kwargs)
            + ", uint8 HxWx3",
        },
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--encoder", default="resnet18")
    p.add_argument("--env", choices=sorted(ENVS), default="grid", help="the pixel env")
    p.add_argument(
        "--env-kwargs",
        default="{}",
        help='PixelGrid knobs as JSON, e.g. \'{"goal": "random"}\' (more distinct frames)',
    )
    p.add_argument(
        "--memory-mb",
        type=float,
        default=DEFAULT_CACHE_MEMORY_MB,
        help="the content-addressed store's budget (policy.cache_memory_mb)",
    )
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
    ms = ", ".join(f"batch {b}: {v:.2f}" for b, v in report["encoder_ms_per_frame"].items())
    print(
        f"cached / inline = {report['cached_over_inline']:.1f}x (target >= 10); "
        f"content-addressed / inline = {report['content_over_inline']:.1f}x (target >= 30); "
        f"content-addressed / cached = {report['content_over_cached']:.1f}x; "
        f"floor / cached = {report['floor_over_cached']:.2f}x; "
        f"hit rate {report['hit_rate_timed']:.3f} (timed rounds), "
        f"{report['cache_stats']['hit_rate']:.3f} (all); encoder ms per frame: {ms}"
    )
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written: {out}")


if __name__ == "__main__":
    main()
