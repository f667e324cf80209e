"""Overhead of rltransfer over a plain stable-baselines3 script, for the same PPO run.

Both sides train PPO on CartPole-v1 with rl-zoo3's hyperparameters, the same seed and budget, one
torch thread, and evaluate 10 episodes (on 8 vectorised env copies) at the same grid of timesteps
(t = 0 and every ``--every`` steps). rltransfer's side goes through the whole run path: study
loading and validation, planning, the run, W&B offline logging, and atomic writes of the model,
curve and meta. The two alternate in one process; the ratio of medians is printed and written to
``runs/bench_overhead.json``, with the same ratio for the time outside evaluation (rltransfer's
``meta.json`` → ``timing``; the plain side times its ``evaluate_policy`` calls), which isolates
the run path from the evaluator. Target: ratio <= 1.03.

Usage: python scripts/bench_overhead.py [--timesteps 20000] [--every 2000] [--repeats 5]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.utils import LinearSchedule
from stable_baselines3.common.vec_env import DummyVecEnv

from rltransfer.run import execute_run
from rltransfer.study import plan_study
from rltransfer.validation import load_study

ENV = "CartPole-v1"
SEED = 0


class GridEval(BaseCallback):
    """Evaluate on the same seeded episodes every ``every`` steps, as a careful user would."""

    def __init__(self, eval_env: DummyVecEnv, every: int, timesteps: int):
        super().__init__()
        self.eval_env, self.every, self.next, self.last = eval_env, every, every, timesteps
        self.returns: list[float] = []
        self.seconds = 0.0

    def evaluate(self, model: PPO) -> None:
        t0 = time.perf_counter()
        self.eval_env.seed(SEED + 10_000)
        mean, _ = evaluate_policy(model, self.eval_env, n_eval_episodes=10, deterministic=True)
        self.returns.append(mean)
        self.seconds += time.perf_counter() - t0

    def _on_step(self) -> bool:
        while self.next < self.last and self.num_timesteps >= self.next:
            self.evaluate(self.model)
            self.next += self.every
        return True


def plain_sb3(timesteps: int, every: int, workdir: Path) -> float:
    """What a user would write by hand with SB3 alone, with the same evaluation protocol."""
    torch.set_num_threads(1)
    env = DummyVecEnv([lambda: Monitor(gym.make(ENV)) for _ in range(8)])
    eval_env = DummyVecEnv([lambda: Monitor(gym.make(ENV)) for _ in range(8)])
    model = PPO(
        "MlpPolicy",
        env,
        n_steps=32,
        batch_size=256,
        gae_lambda=0.8,
        gamma=0.98,
        n_epochs=20,
        ent_coef=0.0,
        learning_rate=LinearSchedule(1e-3, 0.0, 1.0),
        clip_range=LinearSchedule(0.2, 0.0, 1.0),
        seed=SEED,
        verbose=0,
    )
    grid_eval = GridEval(eval_env, every, timesteps)
    grid_eval.evaluate(model)  # t = 0
    model.learn(total_timesteps=timesteps, callback=grid_eval)
    grid_eval.evaluate(model)  # t = budget, after the last update
    model.save(workdir / "model.zip")
    np.save(workdir / "returns.npy", np.asarray(grid_eval.returns))
    return grid_eval.seconds


def through_rltransfer(timesteps: int, every: int, workdir: Path) -> float:
    study = {
        "name": "bench",
        "algo": "ppo",
        "source": {"env": ENV, "timesteps": timesteps},
        "target": {"env": ENV, "timesteps": timesteps},
        "methods": ["scratch", "finetune"],
        "seeds": [SEED],
        "eval": {"every": every, "episodes": 10},
        "tracking": {"wandb": {"mode": "offline"}},
    }
    spec = load_study(study)
    plan = plan_study(spec, workdir / spec.name)
    scratch = next(r for r in plan.targets if r.label == "scratch")
    meta = execute_run(scratch)
    return meta["timing"]["seconds"]["eval"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--timesteps", type=int, default=20_000)
    p.add_argument("--every", type=int, default=2_000)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    times: dict[str, list[float]] = {"sb3": [], "rltransfer": []}
    eval_times: dict[str, list[float]] = {"sb3": [], "rltransfer": []}
    sides = {"sb3": plain_sb3, "rltransfer": through_rltransfer}
    through_rltransfer(2 * args.every, args.every, Path(tempfile.mkdtemp()))  # warm imports
    for i in range(args.repeats):
        order = ["sb3", "rltransfer"] if i % 2 == 0 else ["rltransfer", "sb3"]
        for side in order:
            with tempfile.TemporaryDirectory() as d:
                t0 = time.perf_counter()
                eval_times[side].append(sides[side](args.timesteps, args.every, Path(d)))
                times[side].append(time.perf_counter() - t0)
            print(
                f"repeat {i}: {side:10s} {times[side][-1]:.2f}s "
                f"(evaluation {eval_times[side][-1]:.2f}s)",
                flush=True,
            )
    ratio = statistics.median(times["rltransfer"]) / statistics.median(times["sb3"])
    outside = {
        side: statistics.median(t - e for t, e in zip(times[side], eval_times[side], strict=True))
        for side in times
    }
    ratio_outside = outside["rltransfer"] / outside["sb3"]
    result = {
        "timesteps": args.timesteps,
        "every": args.every,
        "times_s": times,
        "evaluation_s": eval_times,
        "ratio_rltransfer_over_sb3": round(ratio, 4),
        "ratio_outside_evaluation": round(ratio_outside, 4),
        "target": 1.03,
    }
    out = Path("runs") / "bench_overhead.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(
        f"ratio rltransfer / plain SB3 (median of {args.repeats}): {ratio:.3f}; outside "
        f"evaluation: {ratio_outside:.3f}  -> {out}"
    )


if __name__ == "__main__":
    main()
