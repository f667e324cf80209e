"""The effective W&B settings of a study, and the W&B ids of its runs.

Precedence, field by field (``mode``, ``project``, ``entity``, ``dir``): the command-line flag,
then the study file (both arrive in ``WandbSpec``; ``None`` = unset), then the ``WANDB_*``
environment variable, then the default. ``wandb.init`` is then called with every value explicit.

W&B ids are ``<scope>-<run id>``: the scope hashes the study's name and result folder, so two
studies that share a run (a scratch baseline on the same target) log to two W&B runs, while a
re-run of the same study resumes the same ones. The id never enters a run's content hash.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path

from rltransfer.config.spec import WANDB_MODES, WandbSpec
from rltransfer.errors import UserError, did_you_mean
from rltransfer.layout import WANDB_DIR, WANDB_OFFLINE_RUNS

MODES = WANDB_MODES
DEFAULTS = WandbSpec(mode="offline", project="rltransfer", entity=None, dir=None)
"""``dir`` None: the study folder (``runs/<study>``)."""
ENV_VARS = {
    "mode": "WANDB_MODE",
    "project": "WANDB_PROJECT",
    "entity": "WANDB_ENTITY",
    "dir": "WANDB_DIR",
}
_MODE_ALIASES = {"dryrun": "offline", "run": "online"}  # W&B's older names, as wandb accepts
SUMMARY_ID = "summary"
"""The run-id part of a study's summary run."""


def sync_command(wandb_root: str | Path) -> str:
    """The command that uploads a study's offline runs later."""
    return f"wandb sync {Path(wandb_root) / WANDB_DIR}/{WANDB_OFFLINE_RUNS}"


def resolve_wandb(spec: WandbSpec, environ: Mapping[str, str] | None = None) -> WandbSpec:
    """``spec`` with every unset field filled from ``WANDB_*`` (``environ``, default
    ``os.environ``), else the default. Idempotent. ``dir`` becomes an absolute path (None: the
    study folder). A bad ``WANDB_MODE`` raises ``UserError`` naming the variable."""
    env = os.environ if environ is None else environ
    values: dict[str, str | None] = {}
    for name, var in ENV_VARS.items():
        value = getattr(spec, name)
        if value is None and env.get(var):
            value = env[var]
            if name == "mode":
                value = _MODE_ALIASES.get(value, value)
                if value not in MODES:
                    raise UserError(
                        f"{var}: must be one of {', '.join(MODES)}, got '{env[var]}'"
                        f"{did_you_mean(env[var], MODES)} (tracking.wandb.mode or --wandb "
                        "override it)"
                    )
        values[name] = value if value is not None else getattr(DEFAULTS, name)
    if values["dir"] is not None:
        values["dir"] = str(Path(values["dir"]).expanduser().resolve())
    return WandbSpec(**values)


def mode_origin(spec: WandbSpec, environ: Mapping[str, str] | None = None) -> str:
    """Where the effective mode came from, for messages."""
    env = os.environ if environ is None else environ
    if spec.mode is not None:
        return "the study file or --wandb"
    return ENV_VARS["mode"] if env.get(ENV_VARS["mode"]) else "the default"


def wandb_scope(study: str, root: str | Path) -> str:
    """10 hex digits naming one study in one result folder (``runs/<study>``, made absolute)."""
    text = f"{study}\n{Path(root).expanduser().resolve()}"
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def wandb_run_id(scope: str, run_id: str) -> str:
    """The W&B id of run ``run_id`` (a content hash, or ``SUMMARY_ID``) in study ``scope``;
    ``run_id`` itself when there is no scope (a run outside a study)."""
    return f"{scope}-{run_id}" if scope else run_id
