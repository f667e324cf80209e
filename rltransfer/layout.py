"""The study folder: every file and folder name, the run statuses, the paths, and ``RunSpec``.

Every reader and writer of a study folder takes its names from here::

    runs/<study>/                  a study folder (``--out``/<name>)
      study.yaml                   the resolved study (STUDY_FILE)
      summary.json, report.md      the analysis (SUMMARY_FILE, REPORT_FILE) and its plots
      source/                      the study's source agent when one is shared by every pair
      source/seed_<k>/             ... or seed pair k's own (replicated sources, ``replicas``)
      sources/<method>/[seed_<k>/] a method's own source (``methods[i].source``)
      target/<method>/seed_<k>/    the target run of a method and seed pair k
      wandb/offline-run-*          W&B's offline runs (WANDB_DIR)

    a run folder:
      meta.json          "running" when the run starts, "complete" or "failed" last (META_FILE)
      curve.csv          the evaluation curve; curve.partial.csv while it trains
      model.zip          the trained SB3 agent
      normalize.json     its VecNormalize observation statistics and settings, when it used one
      progress.csv       SB3's own logger output
      traceback.txt      a failed run's traceback

A source replica is named by its *key*, its folder relative to the study folder (``source``,
``source/seed_3``, ``sources/<method>/seed_3``; ``source/checkpoint_1`` for a checkpoint list,
which names no folder); which pair uses which replica is ``rltransfer.config.replicas``.

A foundation module: it imports nothing of rltransfer at run time (the spec dataclasses that
``RunSpec`` holds only for type checking), so every layer, ``config`` too, may use it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rltransfer.config.spec import EnvSpec, EvalSpec, MethodSpec, PolicySpec, WandbSpec

# --- names ----------------------------------------------------------------------------------

STUDY_FILE = "study.yaml"
"""The study as it ran, resolved (``rltransfer report`` reads it back)."""
SUMMARY_FILE = "summary.json"
REPORT_FILE = "report.md"
SOURCE_DIR = "source"
"""The study's source: the run folder of a shared source, else the folder of its replicas."""
SOURCES_DIR = "sources"
"""Methods' own sources: ``sources/<method>``."""
TARGET_DIR = "target"
"""Target runs: ``target/<method>/seed_<k>``."""
WANDB_DIR = "wandb"
"""W&B writes its runs under ``<dir>/wandb`` (the study folder unless ``tracking.wandb.dir``)."""
WANDB_OFFLINE_RUNS = "offline-run-*"
"""W&B's folders of offline runs, under ``WANDB_DIR``."""

META_FILE = "meta.json"
CURVE_FILE = "curve.csv"
PARTIAL_CURVE_FILE = "curve.partial.csv"
"""The curve so far, rewritten at each grid point while the run trains (the alarm reads it)."""
MODEL_FILE = "model.zip"
NORMALIZE_FILE = "normalize.json"
"""``{"mean", "var", "count", "clip_obs", "epsilon"}``: the VecNormalize statistics and the
settings to apply them with (files written before the settings were stored have neither; SB3's
defaults then apply)."""
PROGRESS_FILE = "progress.csv"
TRACEBACK_FILE = "traceback.txt"

SEED_PREFIX = "seed_"
CHECKPOINT_PREFIX = "checkpoint_"
_SEED_DIR = re.compile(rf"^{SEED_PREFIX}(\d+)$")
TARGET_RUNS = f"{TARGET_DIR}/<method>/{SEED_PREFIX}<k>"
"""Where the target runs are, as said to users."""

# --- statuses (meta.json) -------------------------------------------------------------------

STATUS_COMPLETE = "complete"
STATUS_FAILED = "failed"
STATUS_RUNNING = "running"
UNFINISHED = (STATUS_RUNNING, STATUS_FAILED)
"""Statuses of a run whose files are no result. A folder without ``meta.json`` holds curves made
by another tool."""

# --- paths ----------------------------------------------------------------------------------


def seed_dir_name(seed: int) -> str:
    """``seed_<k>``: the folder of seed pair ``k``."""
    return f"{SEED_PREFIX}{seed}"


def checkpoint_key_name(index: int) -> str:
    """``checkpoint_<j>``: the last part of the key of replica j of a checkpoint list."""
    return f"{CHECKPOINT_PREFIX}{index}"


def seed_of_dir(name: str) -> int | None:
    """``k`` for a folder named ``seed_<k>``, else None."""
    m = _SEED_DIR.match(name)
    return int(m.group(1)) if m else None


def target_root(root: str | Path) -> Path:
    """``<root>/target``: the target runs of the study folder ``root``."""
    return Path(root) / TARGET_DIR


def target_dir(root: str | Path, method: str, seed: int) -> Path:
    """``<root>/target/<method>/seed_<k>``: the run folder of ``method`` on seed pair ``seed``."""
    return target_root(root) / method / seed_dir_name(seed)


def source_folder(method: str | None = None) -> str:
    """The key of a source's folder: ``source`` for the study's, ``sources/<method>`` for a
    method's own; its replicas' keys are below it."""
    return SOURCE_DIR if method is None else f"{SOURCES_DIR}/{method}"


def source_dir(root: str | Path, key: str = SOURCE_DIR) -> Path:
    """The folder of the source replica ``key`` (``source``, ``source/seed_3``, …) under the
    study folder ``root``."""
    return Path(root) / key


def study_file(root: str | Path) -> Path:
    """``<root>/study.yaml``."""
    return Path(root) / STUDY_FILE


# --- run folders ----------------------------------------------------------------------------


def read_meta(folder: str | Path) -> dict[str, Any] | None:
    """``folder/meta.json`` as a mapping; None when it is missing, unreadable or not a mapping."""
    try:
        meta = json.loads((Path(folder) / META_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return meta if isinstance(meta, dict) else None


def finished_run_id(out_dir: str | Path) -> str | None:
    """The id of the complete run in ``out_dir`` (from its ``meta.json``), or None."""
    m = read_meta(out_dir)
    if m is None or m.get("status") != STATUS_COMPLETE or "run_id" not in m:
        return None
    return str(m["run_id"])


def is_complete(out_dir: str | Path, run_id: str) -> bool:
    """True when ``out_dir`` holds a finished run of exactly this spec."""
    return finished_run_id(out_dir) == run_id


# --- one run --------------------------------------------------------------------------------


@dataclass
class RunSpec:
    """Everything one run needs; plain data, so it can cross to another process or machine."""

    run_id: str
    """Content hash of what determines the result; a changed spec gives a new id."""
    role: str
    """``source`` or ``target``."""
    label: str
    """The method's label (``scratch``, ``finetune``, …) or ``source``."""
    seed: int
    env: EnvSpec
    timesteps: int
    algo: str
    hyperparams: dict[str, Any]
    policy: PolicySpec
    eval: EvalSpec
    eval_seed: int
    device: str
    out_dir: str
    study: str
    method: MethodSpec | None = None
    source_dir: str | None = None
    source_checkpoint: str | None = None
    wandb: WandbSpec | None = None
    """The study's resolved W&B settings (``rltransfer.tracking.resolve_wandb``); None: the
    defaults, ``WandbSpec()``."""
    wandb_dir: str = ""
    """W&B writes under ``<wandb_dir>/wandb``."""
    wandb_scope: str = ""
    """The study's W&B scope (``rltransfer.tracking.wandb_scope``): the W&B id is
    ``<scope>-<run_id>``, unique per study and stable across re-runs."""
    config: dict[str, Any] = field(default_factory=dict)
    torch_threads: int | None = 1
    baseline_dir: str | None = None
    """The scratch run of the same seed, watched by the negative-transfer alarm."""
    threshold: float | None = None
    stop_on_negative: bool = False
    source_env: EnvSpec | None = None
    """Target runs with ``eval.on_source``: also evaluated on this env (forgetting)."""
    source_policy: PolicySpec | None = None
    """The source agent's architecture when it differs from ``policy`` (teachers use it)."""
    envs: list[EnvSpec] | None = None
    """A multi-task source run: its K tasks (``env`` is then task 0), ``rltransfer.multitask``."""
    heads: str | None = None
    """A multi-task source run's output layers: ``multi`` | ``conditioned``."""
    replica: str | None = None
    """A replicated source run: which replica (``seed_3``); None for a single shared source."""
    zero_shot_env: EnvSpec | None = None
    """Source runs: the target task, where the trained agent is evaluated once after training
    (its zero-shot return on the target, ``meta.json``'s ``zero_shot``)."""
    zero_shot_seed: int | None = None
    """The evaluation seed of that zero-shot evaluation: the first pair's that uses the source,
    so it faces the same episodes as that pair's target runs at t = 0."""


def run_label(spec: RunSpec) -> str:
    """``finetune/seed_0``, ``source``, ``source/seed_3`` or ``source of <method>``: how the
    run is named to users."""
    if spec.role == "source":
        name = "source" if spec.label == "source" else f"source of {spec.label}"
        return f"{name}/{spec.replica}" if spec.replica else name
    return f"{spec.label}/{seed_dir_name(spec.seed)}"
