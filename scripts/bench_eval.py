"""Evaluation cost: the lock-step evaluator against SB3's ``evaluate_policy`` (the old path).

    python scripts/bench_eval.py [--timesteps 50000] [--points 5] [--out runs/bench_eval.json]

PPO on ``rltransfer/CartPole-v0`` with rl-zoo3's hyperparameters (``zoo_defaults``) is trained
for ``--timesteps`` steps (more, up to 3x, until the deterministic policy scores >= 475 over 10
episodes), timing the training. Then ``--points`` evaluation points of 10 episodes (a study's
``eval`` default) are run on each path, alternating, with the same seed: the time per point is
the median. The share of evaluation in a run is estimated as ``21 x t_point / (train + 21 x
t_point)``: a 50k-step run with ``eval.every: 2500`` has 21 points. Both paths must return the
same episodes' returns. One thread for torch. The machine is shared, so figures are indicative.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.vec_env import DummyVecEnv

from rltransfer.agents import build_model
from rltransfer.config.spec import EnvSpec, EvalSpec
from rltransfer.config.zoo_defaults import zoo_defaults
from rltransfer.environments import make_env
from rltransfer.evaluation import Evaluator
from rltransfer.evaluation.reference import ReferenceEvaluator

ENV = EnvSpec("rltransfer/CartPole-v0")
POINTS_PER_RUN = 21


def train(timesteps: int) -> tuple[object, float, int]:
    """A PPO agent with zoo hyperparameters; (model, training seconds, steps trained)."""
    hp = zoo_defaults("ppo", ENV.id)
    venv = DummyVecEnv([lambda: Monitor(make_env(ENV)) for _ in range(hp["n_envs"])])
    model = build_model("ppo", venv, hyperparams=hp, seed=0, device="cpu")
    start = time.perf_counter()
    model.learn(timesteps)
    seconds, steps = time.perf_counter() - start, timesteps
    probe = Evaluator(ENV, EvalSpec(episodes=10), 999)
    while probe(model)[0] < 475 and steps < 3 * timesteps:
        start = time.perf_counter()
        model.learn(timesteps // 5, reset_num_timesteps=False)
        seconds, steps = seconds + time.perf_counter() - start, steps + timesteps // 5
    probe.close()
    return model, seconds, steps


def time_points(model: object, points: int) -> dict[str, object]:
    new = Evaluator(ENV, EvalSpec(episodes=10), 0)
    old = ReferenceEvaluator(new)
    times: dict[str, list[float]] = {"old": [], "new": []}
    returns = {}
    for _ in range(points):
        for name, path in (("old", old), ("new", new)):
            start = time.perf_counter()
            returns[name] = path.returns(model)
            times[name].append(time.perf_counter() - start)
    old.close()
    new.close()
    if not np.array_equal(returns["old"], returns["new"]):
        raise SystemExit(f"the paths disagree: {returns['old']} vs {returns['new']}")
    return {"times": times, "returns": returns["new"].tolist()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timesteps", type=int, default=50_000)
    parser.add_argument("--points", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("runs/bench_eval.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    model, train_s, steps = train(args.timesteps)
    measured = time_points(model, args.points)
    old = statistics.median(measured["times"]["old"])
    new = statistics.median(measured["times"]["new"])
    run_train_s = train_s * args.timesteps / steps  # a run of --timesteps steps

    def share(point_s: float) -> float:
        return POINTS_PER_RUN * point_s / (run_train_s + POINTS_PER_RUN * point_s)

    result = {
        "env": ENV.id,
        "algo": "ppo (rl-zoo3 hyperparameters)",
        "trained_steps": steps,
        "train_seconds_per_run": round(run_train_s, 2),
        "mean_return": float(np.mean(measured["returns"])),
        "episode_steps_per_point": int(np.sum(measured["returns"])),
        "seconds_per_point": {"old": round(old, 4), "new": round(new, 4)},
        "speedup": round(old / new, 1),
        "eval_share_of_run": {"old": round(share(old), 3), "new": round(share(new), 3)},
        "all_times": {k: [round(t, 4) for t in v] for k, v in measured["times"].items()},
        "python": platform.python_version(),
        "torch_threads": torch.get_num_threads(),
        "note": "indicative: a shared 2-core machine",
    }
    print(json.dumps(result, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
