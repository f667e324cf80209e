"""Environment throughput: steps per second of every registered family, on one core.

    python scripts/bench_envs.py [--steps 20000] [--repeats 3] [--out runs/bench_envs.json]

Each family is made with ``gymnasium.make`` and its defaults (plus a few named variants), then
stepped with uniformly random actions (drawn beforehand, so sampling is not timed), resetting at
the end of each episode. ``make`` counts the wrappers ``gymnasium.make`` adds (time limit, order
enforcing, env checker), as a training run sees them; ``raw`` steps ``env.unwrapped`` (episodes
then end only on termination, or every 1000 steps). Each rate is the best of ``--repeats``
measurements (other processes only ever slow a run down). Families whose optional dependency is
missing are listed as skipped. The results are printed and written as JSON.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import platform
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np

from rltransfer.envs import list_families
from rltransfer.envs.wrappers import GrayscalePixels, PixelObservation, StackFrames

EXTRA_MODULE = {"minigrid": "minigrid", "atari": "ale_py"}
PIXEL_CARTPOLE = "pixels 64x64 gray x4 (wrappers)"
# Extra configurations worth knowing the cost of: (family id, label, kwargs).
VARIANTS: list[tuple[str, str, dict[str, Any]]] = [
    ("rltransfer/PixelGrid-v0", "state", {"obs_mode": "state"}),
    ("rltransfer/PixelGrid-v0", "every appearance knob",
     {"texture": "noise", "noise": 0.3, "distractors": 4, "palette": "light"}),
    ("rltransfer/PixelGrid-v0", "both, slip, shaping, rooms",
     {"obs_mode": "both", "slip": 0.1, "shaping": 0.1, "layout": "rooms"}),
    ("rltransfer/PixelGrid-v0", "size 84", {"size": 84}),
]  # fmt: skip


def pixel_cartpole() -> gym.Env:
    """CartPole drawn with numpy at 64 x 64, grayscale, 4 frames stacked: (64, 64, 4)."""
    env = gym.make("rltransfer/CartPole-v0", render_mode="rgb_array")
    return StackFrames(GrayscalePixels(PixelObservation(env, 64, 64)), n=4)


def rate(env: gym.Env, steps: int, seed: int = 0, episode_cap: int = 1000) -> float:
    """Steps per second over ``steps`` random-action steps (resets included)."""
    env.action_space.seed(seed)
    actions = [env.action_space.sample() for _ in range(min(steps, 4096))]
    env.reset(seed=seed)
    t = 0
    start = time.perf_counter()
    for i in range(steps):
        _, _, terminated, truncated, _ = env.step(actions[i % len(actions)])
        t += 1
        if terminated or truncated or t >= episode_cap:
            env.reset()
            t = 0
    return steps / (time.perf_counter() - start)


def describe(space: gym.Space) -> str:
    if isinstance(space, gym.spaces.Dict):
        return "dict(" + ", ".join(f"{k}: {describe(v)}" for k, v in space.items()) + ")"
    return f"{type(space).__name__}{tuple(space.shape)} {space.dtype}"


def bench(label: tuple[str, str], make: Any, steps: int, repeats: int) -> dict[str, Any]:
    """Rates through ``make()``; ``raw`` only for ``gymnasium.make`` results (for a stack of
    pixel wrappers ``unwrapped`` would skip the wrappers being measured)."""
    env = make()
    raw = label[1] != PIXEL_CARTPOLE
    row = {
        "observation": describe(env.observation_space),
        "steps_per_s": round(max(rate(env, steps) for _ in range(repeats))),
        "steps_per_s_raw": round(max(rate(env.unwrapped, steps) for _ in range(repeats)))
        if raw
        else None,
    }
    env.close()
    return {"family": label[0], "variant": label[1], **row}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000, help="steps per measurement")
    parser.add_argument("--repeats", type=int, default=3, help="measurements; the best counts")
    parser.add_argument("--out", default="runs/bench_envs.json", help="JSON output path")
    args = parser.parse_args()

    jobs: list[tuple[tuple[str, str], Any]] = []
    skipped = []
    for family in list_families():
        extra = family["extra"]
        if extra and importlib.util.find_spec(EXTRA_MODULE[extra]) is None:
            skipped.append({"family": family["id"], "reason": f"needs rltransfer[{extra}]"})
            continue
        fid = family["id"]
        jobs.append(((fid, "defaults"), lambda fid=fid: gym.make(fid)))
        for vid, label, kwargs in VARIANTS:
            if vid == fid:
                jobs.append(((fid, label), lambda fid=fid, kw=kwargs: gym.make(fid, **kw)))
    jobs.append((("rltransfer/CartPole-v0", PIXEL_CARTPOLE), pixel_cartpole))

    results = []
    print(f"{'family':26s} {'variant':34s} {'make':>9s} {'raw':>9s}  observation")
    for label, make in jobs:
        row = bench(label, make, args.steps, args.repeats)
        results.append(row)
        raw = f"{row['steps_per_s_raw']:9,d}" if row["steps_per_s_raw"] else f"{'-':>9s}"
        print(f"{label[0]:26s} {label[1]:34s} {row['steps_per_s']:9,d} {raw}  {row['observation']}")
    for s in skipped:
        print(f"{s['family']:26s} skipped: {s['reason']}")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "steps": args.steps,
        "repeats": args.repeats,
        "unit": "environment steps per second, one process, random actions",
        "machine": {"python": platform.python_version(), "processor": platform.processor(),
                    "numpy": np.__version__, "gymnasium": gym.__version__},
        "results": results,
        "skipped": skipped,
    }  # fmt: skip
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
