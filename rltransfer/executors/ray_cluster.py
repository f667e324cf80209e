"""Joining or starting Ray, shipping a study's own modules, checking a run fits on a node.

* **Where.** ``executor.address`` (``--ray-address``), else ``RAY_ADDRESS`` (set by ``ray job
  submit`` too), joins that cluster as it is; with neither, a private local Ray is started with
  ``num_cpus`` (``address="local"``: never some other Ray found on this machine). A Ray already
  initialised in this process (a user's script) is used as it is. An address nothing answers at
  is a ``UserError`` at once (Ray itself would retry for minutes), as is a refused connection.
* **What workers import.** A study's env ids and wrappers may name ``module:Id`` or
  ``module:Class`` modules that exist only on the driver (next to the study file, in the current
  folder). Their files go to the job's ``runtime_env`` (``py_modules``); modules of installed
  packages, the standard library and rltransfer itself are left to the nodes' own installs.
* **Whether a run can ever start.** Ray queues a task that no node can host forever, silently;
  a run asking for more CPUs or GPUs than the largest live node has is a ``UserError`` instead
  (``RLTRANSFER_RAY_AUTOSCALING=1`` submits anyway, for an autoscaler to add the nodes).
"""

from __future__ import annotations

import importlib.util
import json
import os
import site
import socket
import sys
import sysconfig
import warnings
from collections.abc import Iterable
from pathlib import Path

from rltransfer.config.spec import EnvSpec
from rltransfer.errors import UserError
from rltransfer.layout import RunSpec

AUTOSCALING_ENV = "RLTRANSFER_RAY_AUTOSCALING"
"""Set to ``1`` to submit runs a cluster cannot host yet (an autoscaler will add the nodes)."""

_JOB_CONFIG_ENV = "RAY_JOB_CONFIG_JSON_ENV_VAR"  # ray's own name, set inside `ray job submit`


def join_address(address: str | None) -> str | None:
    """The cluster to join: ``executor.address``, else ``RAY_ADDRESS``; ``None``: start one."""
    return address or os.environ.get("RAY_ADDRESS") or None


def connect(address: str | None, num_cpus: int | None, modules: list[str]) -> bool:
    """Initialise Ray for this driver; ``True`` if this call did (and shutdown should undo it).

    ``modules`` are the files and folders to ship to every worker (``runtime_env.py_modules``).
    """
    import ray

    if ray.is_initialized():
        _warn_unshipped(modules, "Ray was already initialised in this process")
        return False
    field = "executor.address" if address else "RAY_ADDRESS"
    address = join_address(address)
    runtime_env = {"py_modules": modules} if modules else None
    if runtime_env and "py_modules" in _job_runtime_env():
        _warn_unshipped(modules, "the Ray job's own runtime_env sets py_modules")
        runtime_env = None
    kwargs = {"log_to_driver": False, "configure_logging": False, "runtime_env": runtime_env}
    if address is None:
        ray.init(address="local", num_cpus=num_cpus, include_dashboard=False, **kwargs)
        return True
    _check_reachable(address, field)
    try:  # joining: the cluster's resources are what they are (num_cpus would be an error)
        ray.init(address=address, **kwargs)
    except ConnectionError as e:
        cause = f"{e} ({str(e.__cause__).splitlines()[-1]})" if e.__cause__ else str(e)
        if "auth" in cause.lower():
            cause += "; a cluster with token authentication needs RAY_AUTH_MODE=token and a token"
        raise UserError(f"{field}: cannot join the Ray cluster at {address}: {cause}") from None
    return True


def _check_reachable(address: str, field: str, timeout: float = 10.0) -> None:
    """Fail fast on a ``HOST:PORT`` nothing listens at (Ray itself retries for many minutes)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    if not host or not port.isdigit():
        return  # ``auto``, or a form Ray resolves itself
    try:
        socket.create_connection((host, int(port)), timeout=timeout).close()
    except OSError as e:
        raise UserError(
            f"{field}: no Ray cluster answers at {address} ({e}); start one with `ray start "
            "--head`, or fix the address"
        ) from None


def _job_runtime_env() -> dict:
    """The runtime_env of the Ray job this driver runs in (``ray job submit``), or ``{}``."""
    raw = os.environ.get(_JOB_CONFIG_ENV)
    return (json.loads(raw).get("runtime_env") or {}) if raw else {}


def _warn_unshipped(modules: list[str], why: str) -> None:
    if modules:
        warnings.warn(
            f"{why}, so rltransfer cannot ship the study's own modules ({', '.join(modules)}) to "
            "the workers; put them in its runtime_env (py_modules or working_dir, e.g. `ray job "
            "submit --working-dir DIR`) or install them on every node",
            stacklevel=3,
        )


def check_resources(cpus_per_run: float, gpus_per_run: float) -> None:
    """Raise ``UserError`` when no live node has the CPUs or GPUs one run asks for.

    On an autoscaling cluster set ``RLTRANSFER_RAY_AUTOSCALING=1`` to submit anyway.
    """
    import ray

    if os.environ.get(AUTOSCALING_ENV, "") not in ("", "0"):
        return
    nodes = [n.get("Resources", {}) for n in ray.nodes() if n.get("Alive")]
    total = ray.cluster_resources()
    asks = (("CPU", cpus_per_run, "cpus_per_run"), ("GPU", gpus_per_run, "gpus_per_run"))
    for key, need, name in asks:
        largest = max((n.get(key, 0.0) for n in nodes), default=0.0)
        if need > largest:
            raise UserError(
                f"executor.{name}: each run asks for {need:g} {key}, but no node of the Ray "
                f"cluster has that many (largest node: {largest:g}, cluster in all: "
                f"{total.get(key, 0.0):g}), so no run could ever start. Lower "
                f"executor.{name}, join a cluster that has them, or, on an autoscaling cluster "
                f"that will add such nodes, set {AUTOSCALING_ENV}=1"
            )


def shipped_modules(runs: Iterable[RunSpec]) -> list[str]:
    """Files or package folders of the runs' ``module:`` references (env ids, wrappers, plug-in
    methods and encoders) that the nodes would not have: not in an installed package, not the
    standard library, not rltransfer."""
    names: set[str] = set()
    for run in runs:
        for env in (run.env, *(run.envs or ()), run.source_env):
            names |= _module_names(env)
        plugins = [run.method.method if run.method else None]
        plugins += [p.encoder for p in (run.policy, run.source_policy) if p is not None]
        names |= {r.partition(":")[0].split(".")[0] for r in plugins if r and ":" in r}
    paths = {p for p in map(_local_path, sorted(names)) if p is not None}
    return sorted(paths)


def _module_names(env: EnvSpec | None) -> set[str]:
    if env is None:
        return set()
    refs = [env.id, *(w.entry for w in env.wrappers)]
    return {r.partition(":")[0].split(".")[0] for r in refs if ":" in r}


def _local_path(top: str) -> str | None:
    """Where the driver imports top-level module ``top`` from, if it is the user's own."""
    if top == "rltransfer" or top in sys.stdlib_module_names:
        return None
    try:
        found = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if found is None:
        return None
    locations = list(found.submodule_search_locations or [])
    path = locations[0] if len(locations) == 1 else found.origin
    if not path or not os.path.exists(path) or _installed(Path(path)):
        return None
    return str(Path(path).resolve())


def _installed(path: Path) -> bool:
    """Is ``path`` under site-packages or the interpreter's own library folders?"""
    roots = {sysconfig.get_paths()[k] for k in ("purelib", "platlib", "stdlib", "platstdlib")}
    roots |= set(site.getsitepackages()) | {site.getusersitepackages()}
    resolved = path.resolve()
    return any(resolved.is_relative_to(Path(r).resolve()) for r in roots if r)
