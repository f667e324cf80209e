"""Run a set of planned runs on an executor, each target after its own source."""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field

from rltransfer.executors import Executor
from rltransfer.layout import TRACEBACK_FILE, RunSpec, run_label
from rltransfer.progress import StudyProgress


@dataclass
class Outcome:
    """What running some runs gave: labels of failed and skipped runs, and the folders of the
    source runs that failed (their targets cannot run, now or at a later look)."""

    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    broken_sources: set[str] = field(default_factory=set)


def execute_runs(
    runs: list[RunSpec],
    todo: list[RunSpec],
    executor: Executor,
    progress: StudyProgress,
    broken_sources: set[str] = frozenset(),  # type: ignore[assignment]
) -> Outcome:
    """Run ``todo`` (those of ``runs`` not done yet) on ``executor``, each after its source.
    Targets of a source in ``broken_sources`` (failed at an earlier look) fail at once."""
    out = Outcome(broken_sources=set(broken_sources))
    for r in runs:
        if r not in todo:
            out.skipped.append(run_label(r))
            progress.finished(r.run_id, run_label(r), "already complete, skipped")
    orphans = [r for r in todo if r.role == "target" and r.source_dir in broken_sources]
    out.failed += [f"{run_label(r)} (its source failed)" for r in orphans]
    todo = [r for r in todo if r not in orphans]
    pending = {r.out_dir for r in todo if r.role == "source"}  # targets wait for their source
    waiting = [r for r in todo if r.role == "target" and r.source_dir in pending]
    ready = [r for r in todo if r not in waiting]
    running: dict[Future, RunSpec] = {}
    while ready or running or waiting:
        for r in ready:
            progress.started(r.run_id, run_label(r), r.timesteps)
            running[executor.submit(r)] = r
        ready = []
        done, _ = wait(list(running), return_when=FIRST_COMPLETED)
        for fut in done:
            r = running.pop(fut)
            error = fut.exception()
            if error is None:
                meta = fut.result()
                progress.finished(r.run_id, run_label(r), f"done in {meta['wall_time_s']:.0f}s")
            else:
                out.failed.append(run_label(r))
                progress.finished(
                    r.run_id,
                    run_label(r),
                    f"FAILED ({type(error).__name__}: "
                    f"{error}); traceback in {r.out_dir}/{TRACEBACK_FILE}",
                )
            if r.role == "source":
                mine = [w for w in waiting if w.source_dir == r.out_dir]
                waiting = [w for w in waiting if w not in mine]
                if error is None:
                    ready += mine
                else:
                    out.broken_sources.add(r.out_dir)
                    out.failed += [run_label(w) + f" ({run_label(r)} failed)" for w in mine]
    return out
