"""Memory of a pixel distillation as its budget grows: before (the unbounded dataset) and after
(the bounded one, ``memory_mb``).

    .venv/bin/python scripts/bench_distill_memory.py [--steps 5000 20000 100000] [--sizes 64 128]
        [--baseline COMMIT] [--measure-before-up-to 100000] [--out runs/bench_distill_memory.json]

A state teacher (an untrained PPO MLP: labels cost the same whatever the weights) distils into a
``tiny_cnn`` pixel student on PixelGrid (``StateInInfo`` + ``PixelObservation``, ``size``×``size``×3
uint8 frames), ``mode: teacher``, 8 env copies, 2 rounds of 1 epoch, no held-out measurement,
``rl: false``: the dataset and the student's training, nothing else. Each measurement runs in a
fresh process and reports its peak resident memory (``resource.getrusage(RUSAGE_SELF).ru_maxrss``),
the bytes the dataset holds at the end (before: the per-step lists plus the concatenated copy that
training reads; after: the kept rows) and its wall time.

* ``before``: the code of ``--baseline`` (the commit before the bounded dataset), extracted with
  ``git archive`` into a temporary folder and imported from there; measured up to
  ``--measure-before-up-to`` steps, beyond it extrapolated linearly from the two largest measured
  budgets (marked ``"extrapolated": true``).
* ``after``: this tree, the default bound (``memory_mb: 2048``), and ``after 512 MB`` with
  ``memory_mb: 512``, both always measured.

The machine is shared while this runs: the times are indicative; the memory figures are not
affected by load. ``torch.set_num_threads(1)``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
BASELINE = "403d388216d34a000dff3d4da2eec62572f135b5"
"""The commit before the bounded dataset (its distill keeps every state, twice)."""
HP = {"n_envs": 8, "n_steps": 32, "batch_size": 256}
GB = 1e9


def _peak_rss() -> int:
    """Peak resident memory of this process, bytes (Linux reports kilobytes)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _dataset_bytes(data: Any) -> int:
    """What the dataset holds: the bounded one's rows; the old one's lists and its cache."""
    if hasattr(data, "nbytes"):
        return int(data.nbytes)
    lists = [data.obs, data.acted, data.student, data.round]
    held = sum(a.nbytes for part in lists for a in part)
    held += sum(
        getattr(lab, k).nbytes
        for lab in data.labels
        for k in ("action", "logits", "mean", "std", "value")
        if getattr(lab, k) is not None
    )
    cache = getattr(data, "_cache", None) or {}
    return int(held + sum(a.nbytes for a in cache.values()))


def child(job: dict[str, Any]) -> dict[str, Any]:
    """One distillation of ``job["steps"]`` env steps in this process; its memory figures."""
    import gymnasium as gym
    import torch
    from stable_baselines3.common.monitor import Monitor
    from stable_baselines3.common.vec_env import DummyVecEnv

    import rltransfer.envs  # noqa: F401
    from rltransfer.agents import build_agent, build_model
    from rltransfer.config.parse import parse_dataclass
    from rltransfer.config.spec import EnvSpec, EvalSpec, PolicySpec
    from rltransfer.layout import RunSpec
    from rltransfer.methods import SourceArtifact, TransferContext, method_class
    from rltransfer.run import _make_train_env

    torch.set_num_threads(1)
    size, steps = job["size"], job["steps"]
    kwargs = {"obs_mode": "state", "size": size, "render_mode": "rgb_array"}
    teacher = Path(job["tmp"]) / "teacher.zip"
    state = DummyVecEnv([lambda: Monitor(gym.make("rltransfer/PixelGrid-v0", obs_mode="state"))])
    build_model("ppo", state, hyperparams=HP, net_arch=[64], seed=0, device="cpu").save(teacher)
    options = {"mode": "teacher", "rl": False, "rounds": 2, "epochs": 1, "batch_size": 256,
               "teacher_obs": "state", "teacher": {"policy": {"net_arch": [64]}},
               "heldout": {"steps": 0, "episodes": 0}, **job["options"]}  # fmt: skip
    cls = method_class("distill", "method")
    method = cls(cls.parse_options(options, "options"))
    env = {"id": "rltransfer/PixelGrid-v0", "kwargs": kwargs,
           "wrappers": ["StateInInfo", "PixelObservation"]}  # fmt: skip
    spec = RunSpec(
        run_id="bench", role="target", label="distill", seed=0,
        env=parse_dataclass(EnvSpec, env, "env"), timesteps=steps, algo="ppo", hyperparams=HP,
        policy=parse_dataclass(PolicySpec, {"encoder": "tiny_cnn"}, "policy"),
        eval=EvalSpec(), eval_seed=0, device="cpu", out_dir=job["tmp"], study="bench",
    )  # fmt: skip
    source = SourceArtifact(teacher)
    venv, recipe = _make_train_env(spec, method, source)
    model = build_agent(recipe, venv)
    ctx = TransferContext(model, venv, source)
    method.apply(ctx)
    before = _peak_rss()
    start = time.perf_counter()
    method.before_learning(ctx, steps, lambda t: True)
    seconds = time.perf_counter() - start
    facts = method.after_training(model)["dataset"]
    return {
        "frame": [size, size, 3],
        "steps": steps,
        "states_visited": facts.get("visited", facts["states"]),
        "states_kept": facts["states"],
        "bound_states": facts.get("bound", {}).get("states"),
        "dataset_bytes": _dataset_bytes(method.data),
        "peak_rss_bytes": _peak_rss(),
        "peak_rss_before_distillation_bytes": before,
        "seconds": round(seconds, 1),
        "extrapolated": False,
    }


def _run(job: dict[str, Any], pythonpath: str | None) -> dict[str, Any]:
    env = dict(os.environ)
    if pythonpath is not None:
        env["PYTHONPATH"] = pythonpath
    cmd = [sys.executable, __file__, "--child", json.dumps(job)]
    out = subprocess.run(cmd, env=env, cwd=job["tmp"], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"child {job} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _extrapolate(rows: list[dict[str, Any]], steps: int) -> dict[str, Any]:
    """Linear in the steps, through the two largest measured budgets."""
    a, b = sorted(rows, key=lambda r: r["steps"])[-2:]
    out = {"frame": b["frame"], "steps": steps, "extrapolated": True}
    for key in ("dataset_bytes", "peak_rss_bytes", "seconds"):
        slope = (b[key] - a[key]) / (b["steps"] - a["steps"])
        out[key] = round(b[key] + slope * (steps - b["steps"]), 1)
    out["states_visited"] = out["states_kept"] = steps // HP["n_envs"] * HP["n_envs"]
    return out


def _line(variant: str, r: dict[str, Any]) -> str:
    mark = "~" if r["extrapolated"] else " "
    kept = f"{r['states_kept']:>7}/{r['states_visited']:<7}"
    return (
        f"{variant:<14} {r['frame'][0]:>4} {r['steps']:>7}  {kept} {mark}"
        f"{r['dataset_bytes'] / GB:7.2f} GB  {mark}{r['peak_rss_bytes'] / GB:6.2f} GB"
        f"  {mark}{r['seconds']:6.1f} s"
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, nargs="+", default=[5000, 20000, 100000])
    p.add_argument("--sizes", type=int, nargs="+", default=[64, 128])
    p.add_argument("--baseline", default=BASELINE)
    p.add_argument(
        "--measure-before-up-to", type=int, nargs="+", default=[100000, 20000],
        help="per size (in --sizes order): the largest budget measured before",
    )  # fmt: skip
    p.add_argument("--out", default=str(ROOT / "runs" / "bench_distill_memory.json"))
    p.add_argument("--child", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.child:
        print(json.dumps(child(json.loads(args.child))))
        return 0
    variants = [("before", {}), ("after", {}), ("after 512 MB", {"memory_mb": 512})]
    results: list[dict[str, Any]] = []
    print(f"{'variant':<14} {'size':>4} {'steps':>7}  {'kept/visited':<15}  dataset      "
          "peak RSS   distill time   (~: extrapolated)")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "before"
        old.mkdir()
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.baseline, "rltransfer"],
                                 capture_output=True, check=True).stdout  # fmt: skip
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        for i, size in enumerate(args.sizes):
            limit = args.measure_before_up_to[min(i, len(args.measure_before_up_to) - 1)]
            for variant, options in variants:
                measured: list[dict[str, Any]] = []
                for steps in args.steps:
                    if variant == "before" and steps > limit and len(measured) >= 2:
                        r = _extrapolate(measured, steps)
                    else:
                        job = {"size": size, "steps": steps, "options": options, "tmp": tmp}
                        r = _run(job, str(old) if variant == "before" else str(ROOT))
                        measured.append(r)
                    r["variant"] = variant
                    results.append(r)
                    print(_line(variant, r), flush=True)
    out = {
        "benchmark": "distill_memory",
        "baseline_commit": args.baseline,
        "setup": "PixelGrid state teacher -> tiny_cnn pixel student, mode teacher, 8 envs, "
        "2 rounds x 1 epoch, rl false, no held-out; one fresh process per row",
        "units": {"dataset_bytes": "bytes", "peak_rss_bytes": "bytes (ru_maxrss)", "seconds": "s"},
        "machine": {
            "python": platform.python_version(),
            "cpu_count": os.cpu_count(),
            "note": "shared, busy machine: times are indicative",
        },  # fmt: skip
        "results": results,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=2) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
