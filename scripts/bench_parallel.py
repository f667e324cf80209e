"""Parallel efficiency of the executors: 8 runs on 2 workers, local process pool and Ray.

The 8 runs are the target runs of one study (PPO on CartPole, scratch and finetune × 4 seeds,
from a source checkpoint trained first, so no run waits for another). Efficiency = (time of the
8 runs one after another in one process) / (2 × wall time with 2 workers); 1.0 is perfect.
Ray is started before its timing (joining a running cluster is the normal case), and its
start-up time is reported separately. Target: >= 0.85. Results go to runs/bench_parallel.json.

Each run is 40k env steps by default (about 20 s here): every worker process pays a one-off
start (spawning, importing torch and SB3, about 5 s), which a bench of 10-second runs would
mostly measure instead of the parallel execution.

Usage: python scripts/bench_parallel.py [--timesteps 40000]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from rltransfer import run_study

ENV = "CartPole-v1"


def _study(checkpoint: str | None, timesteps: int) -> dict:
    source = {"checkpoint": checkpoint} if checkpoint else {"env": ENV, "timesteps": timesteps}
    return {
        "name": "bench-parallel",
        "algo": "ppo",
        "source": source,
        "target": {"env": ENV, "timesteps": timesteps},
        "methods": ["scratch", "finetune"],
        "seeds": 4,
        "eval": {"every": timesteps // 5, "episodes": 10},
        "tracking": {"wandb": {"mode": "disabled"}},
    }


def _timed(study: dict, **overrides) -> float:
    with tempfile.TemporaryDirectory() as out:
        t0 = time.perf_counter()
        run_study(study, out=out, quiet=True, **overrides)
        return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--timesteps", type=int, default=40_000)
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        trained = run_study(_study(None, args.timesteps), out=tmp, quiet=True, seeds=1)
        checkpoint = Path(tmp) / "checkpoint.zip"
        checkpoint.write_bytes((trained.out_dir / "source" / "model.zip").read_bytes())
        study = _study(str(checkpoint), args.timesteps)
        serial = _timed(study, workers=1)
        print(f"8 runs serially: {serial:.1f}s", flush=True)
        local = _timed(study, workers=2)
        print(f"8 runs, local pool of 2: {local:.1f}s", flush=True)
        result = {
            "runs": 8,
            "timesteps_per_run": args.timesteps,
            "serial_s": serial,
            "local_2_workers_s": local,
            "efficiency_local": serial / (2 * local),
        }
        try:
            import ray
        except ImportError:
            print("ray is not installed: pip install 'rltransfer[ray]'")
        else:
            t0 = time.perf_counter()
            ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
            result["ray_startup_s"] = time.perf_counter() - t0
            result["ray_2_workers_s"] = _timed(study, workers=2, executor="ray")
            result["efficiency_ray"] = serial / (2 * result["ray_2_workers_s"])
            ray.shutdown()
            print(
                f"8 runs, Ray with 2 CPUs: {result['ray_2_workers_s']:.1f}s "
                f"(start-up {result['ray_startup_s']:.1f}s, not counted)",
                flush=True,
            )
    out = Path("runs") / "bench_parallel.json"
    out.parent.mkdir(exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(
        f"efficiency local: {result['efficiency_local']:.3f}"
        + (f", ray: {result['efficiency_ray']:.3f}" if "efficiency_ray" in result else "")
        + f"  -> {out}"
    )


if __name__ == "__main__":
    main()
