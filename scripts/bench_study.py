"""Where a study's time goes: runs the default study (or ``--study``) and reads every run's
``meta.json`` → ``timing`` (``rltransfer.stopwatch``).

Prints, per run and in total, the shares of set-up, training, evaluation, W&B, I/O and the rest
of each run's wall time; the worker start-up (a worker process's age when its first run began:
mostly imports); the study's wall time against the sum of its runs' times (parallel efficiency
= sum of run times / (wall time × workers)); and each run's peak memory. Writes
``runs/bench_study.json``.

Usage: python scripts/bench_study.py [--study FILE] [--workers 2] [--seeds 0,1,...]
       [--timesteps N] [--keep DIR]
       python scripts/bench_study.py --from runs/cartpole-pole-length --wall 480 [--workers 2]
``--timesteps`` shortens source and target budgets (a quick look, not the default study).
``--from`` reads a study folder that has already run (e.g. by ``make run``) instead, with the
study's wall time in seconds from ``--wall`` (or the span of its runs when not given).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from rltransfer.config.load import default_study_text
from rltransfer.study import run_study

SECTIONS = ("setup", "train", "eval", "wandb", "io", "other")


def _study(args: argparse.Namespace) -> dict[str, Any]:
    text = Path(args.study).read_text() if args.study else default_study_text()
    study = yaml.safe_load(text)
    if args.timesteps:
        study["source"]["timesteps"] = study["target"]["timesteps"] = args.timesteps
        study["eval"]["every"] = max(args.timesteps // 20, 1)
    return study


def _runs(root: Path) -> list[dict[str, Any]]:
    """Every finished run's meta under ``root`` (sources and targets), oldest first."""
    metas = [json.loads(p.read_text()) for p in root.rglob("meta.json")]
    done = [m for m in metas if m.get("status") == "complete" and "timing" in m]
    return sorted(done, key=lambda m: m["started_at"])


def _row(meta: dict[str, Any]) -> dict[str, Any]:
    timing = meta["timing"]
    seconds = timing["seconds"]
    total = timing["total_s"]
    return {
        "run": f"{meta['role']}/{meta['method']}/seed_{meta['seed']}",
        "wall_s": meta["wall_time_s"],
        "shares": {k: round(seconds.get(k, 0.0) / total, 4) if total else None for k in SECTIONS},
        "seconds": {k: seconds.get(k, 0.0) for k in SECTIONS},
        "process_age_s": timing.get("process_age_s"),
        "pid": timing.get("pid"),
        "peak_rss_mb": timing.get("peak_rss_mb"),
        "started_at": meta["started_at"],
    }


def summarise(rows: list[dict[str, Any]], wall: float, workers: int) -> dict[str, Any]:
    """Totals over the runs: seconds and shares per section, start-up per worker process,
    the sum of run times against the study's wall time."""
    total = {k: round(sum(r["seconds"][k] for r in rows), 3) for k in SECTIONS}
    run_time = sum(r["wall_s"] for r in rows)
    first_of_worker: dict[Any, dict[str, Any]] = {}
    for r in rows:  # rows are in start order: the first row of a pid is its worker's first run
        first_of_worker.setdefault(r["pid"], r)
    startup = [r["process_age_s"] for r in first_of_worker.values() if r["process_age_s"]]
    return {
        "runs": len(rows),
        "workers": workers,
        "study_wall_s": round(wall, 2),
        "sum_of_run_wall_s": round(run_time, 2),
        "parallel_efficiency": round(run_time / (wall * workers), 4) if wall else None,
        "seconds": total,
        "shares": {k: round(v / run_time, 4) if run_time else None for k, v in total.items()},
        "worker_startup_s": startup,
        "peak_rss_mb_max": max((r["peak_rss_mb"] or 0) for r in rows) if rows else None,
        "peak_rss_mb_median": statistics.median(r["peak_rss_mb"] or 0 for r in rows)
        if rows
        else None,
    }


def _print(rows: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    head = f"{'run':34s} {'wall':>7s} " + " ".join(f"{k:>6s}" for k in SECTIONS) + "  peak MB"
    print(head)
    for r in rows:
        shares = " ".join(f"{100 * (r['shares'][k] or 0):5.1f}%" for k in SECTIONS)
        print(f"{r['run']:34s} {r['wall_s']:6.1f}s {shares}  {r['peak_rss_mb']:7.0f}")
    shares = " ".join(f"{100 * (summary['shares'][k] or 0):5.1f}%" for k in SECTIONS)
    print(f"{'all runs':34s} {summary['sum_of_run_wall_s']:6.1f}s {shares}")
    print(
        f"study wall time {summary['study_wall_s']:.1f}s on {summary['workers']} worker(s); "
        f"sum of run times {summary['sum_of_run_wall_s']:.1f}s; parallel efficiency "
        f"{summary['parallel_efficiency']}; worker start-up (s): {summary['worker_startup_s']}; "
        f"peak memory per run ≤ {summary['peak_rss_mb_max']} MB"
    )


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--study", help="a study file (default: the built-in default study)")
    p.add_argument("--workers", type=int, default=None, help="default: the study's")
    p.add_argument("--seeds", help="comma-separated seed ids (default: the study's)")
    p.add_argument("--timesteps", type=int, help="shorter budgets, for a quick look")
    p.add_argument("--keep", help="write the study here instead of a temporary folder")
    p.add_argument("--from", dest="folder", help="read this study folder; run nothing")
    p.add_argument("--wall", type=float, help="with --from: the study's wall time, seconds")
    args = p.parse_args()
    if args.folder:
        rows = [_row(m) for m in _runs(Path(args.folder))]
        span = max(r["started_at"] + r["wall_s"] for r in rows) - rows[0]["started_at"]
        _report(rows, summarise(rows, args.wall or span, args.workers or 2))
        return
    study = _study(args)
    overrides: dict[str, Any] = {}
    if args.workers:
        overrides["workers"] = args.workers
    if args.seeds:
        overrides["seeds"] = [int(s) for s in args.seeds.split(",")]
    workers = args.workers or study.get("executor", {}).get("workers", 1)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(args.keep or tmp)
        started = time.perf_counter()
        result = run_study(study, out=out, quiet=True, **overrides)
        wall = time.perf_counter() - started
        rows = [_row(m) for m in _runs(result.out_dir)]
    _report(rows, summarise(rows, wall, workers))


def _report(rows: list[dict[str, Any]], summary: dict[str, Any]) -> None:
    _print(rows, summary)
    path = Path("runs") / "bench_study.json"
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps({"summary": summary, "runs": rows}, indent=2))
    print(f"-> {path}")


if __name__ == "__main__":
    main()
