"""Ray on a real cluster (``ray start --head`` on this machine), joined as a user would.

The target env is a ``module:Id`` plug-in whose file lives only in the study's folder: the
driver imports it from there, the cluster's workers only through the shipped ``runtime_env``.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from rltransfer.errors import UserError
from rltransfer.executors import make_executor
from rltransfer.executors.ray_cluster import AUTOSCALING_ENV, shipped_modules
from rltransfer.study import plan_study
from rltransfer.validation import load_study

PLUGIN = "plugin_env_xyz"
PLUGIN_SOURCE = '''
"""A user's own env, registered on import; it warns once per run, from the worker."""
import warnings

import gymnasium as gym
from gymnasium.envs.registration import load_env_creator

import rltransfer.envs  # noqa: F401

Base = load_env_creator(gym.spec("rltransfer/CartPole-v0").entry_point)


class PluginCartPole(Base):
    def __init__(self, **kwargs):
        warnings.warn("plugin-env-xyz says hello", UserWarning)
        super().__init__(**kwargs)


gym.register("PluginCartPole-v0", entry_point=PluginCartPole, max_episode_steps=500,
             reward_threshold=475.0)
'''


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Cluster:
    address: str
    """``HOST:PORT`` of its GCS, what drivers join."""
    dashboard: str
    """``http://HOST:PORT`` of its job server, for ``ray job submit``."""


def _stop(pgid: int, grace: float = 3.0) -> None:
    """Stop the processes of our ``ray start`` (its process group) only: ``ray stop`` would stop
    every Ray on this machine, other users' included. Workers exit with their raylet."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.2)


@pytest.fixture(scope="module")
def cluster():
    """A 2-CPU head node with its own ports, temp folder and job server, stopped at the end."""
    pytest.importorskip("ray")
    temp = tempfile.mkdtemp(prefix="rlt-ray-")
    port = _free_port()
    cmd = [str(Path(sys.executable).with_name("ray")), "start", "--head", "--num-cpus", "2"]
    cmd += ["--num-gpus", "0", "--port", str(port), "--disable-usage-stats", "--temp-dir", temp]
    dashboard = _free_port()
    cmd += ["--include-dashboard=true", "--dashboard-port", str(dashboard)]
    cmd += ["--ray-client-server-port", str(_free_port())]
    cmd += ["--dashboard-agent-listen-port", str(_free_port())]
    # Started from an empty folder, so the workers cannot import the plug-in by accident. Token
    # authentication off: Ray >= 2.5x turns it on when ~/.ray/auth_token exists (any local
    # ray.init writes one), and a driver joining by address then needs RAY_AUTH_MODE=token.
    env = {**os.environ, "RAY_AUTH_MODE": "disabled"}
    proc = subprocess.Popen(
        cmd,
        cwd=temp,
        env=env,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        out, _ = proc.communicate(timeout=120)
        assert proc.returncode == 0, out.decode(errors="replace")
        yield Cluster(f"127.0.0.1:{port}", f"http://127.0.0.1:{dashboard}")
    finally:
        _stop(proc.pid)
        shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture
def plugin_study(tiny_study, tmp_path, monkeypatch):
    """The tiny study on the Ray executor, its target the plug-in, which only the study's folder
    holds (the driver finds it there, as ``PYTHONPATH=.`` in that folder would)."""
    folder = tmp_path / "study"
    folder.mkdir()
    (folder / f"{PLUGIN}.py").write_text(PLUGIN_SOURCE)
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delitem(sys.modules, PLUGIN, raising=False)
    tiny_study["target"]["env"] = {"id": f"{PLUGIN}:PluginCartPole-v0", "kwargs": {"length": 1.0}}
    tiny_study["executor"] = {"kind": "ray", "workers": 2}
    return tiny_study


def _importable_on_cluster(address: str) -> bool:
    """Can a plain task of a plain job on the cluster import the plug-in?"""
    import ray

    ray.init(address=address, log_to_driver=False, configure_logging=False)
    try:
        probe = ray.remote(lambda: importlib.util.find_spec(PLUGIN) is not None)
        return ray.get(probe.remote(), timeout=60)
    finally:
        ray.shutdown()


def test_a_joined_cluster_runs_a_plugin_env_study(cluster, plugin_study, tmp_path, monkeypatch):
    import ray

    monkeypatch.setenv("RAY_ADDRESS", cluster.address)  # as `ray job submit` sets it
    assert not _importable_on_cluster(cluster.address)  # only the shipped module can help
    # one shared source, so that every transfer run reads the same source files
    spec = load_study(plugin_study, source={"replicas": 1})
    plan = plan_study(spec, tmp_path / "runs" / spec.name)
    assert shipped_modules(plan.runs) == [str(tmp_path / "study" / f"{PLUGIN}.py")]
    executor = make_executor(spec.executor, lambda run_id, t: None, plan.runs)
    try:
        gcs = ray.get_runtime_context().gcs_address  # joined ours, not a new local Ray
        assert gcs.rpartition(":")[2] == cluster.address.rpartition(":")[2]
        assert executor.submit(plan.sources[0]).result(timeout=120)["status"] == "complete"
        with pytest.warns(UserWarning) as caught:
            futures = [executor.submit(r) for r in plan.targets[:3]]
            # the source's files went to the object store with the first target run: later runs
            # need no access to them
            shutil.rmtree(plan.sources[0].out_dir)
            futures += [executor.submit(r) for r in plan.targets[3:]]
            metas = [f.result(timeout=180) for f in futures]
    finally:
        executor.shutdown()
    assert not ray.is_initialized()
    assert [m["status"] for m in metas] == ["complete"] * len(plan.targets)
    for run in plan.targets:
        rows = (Path(run.out_dir) / "curve.csv").read_text().splitlines()
        assert len(rows) == 1 + 384 // 128 + 1, rows  # header, t = 0, every 128 steps
        if run.label == "finetune":
            meta = json.loads((Path(run.out_dir) / "meta.json").read_text())
            assert meta["transfer"]["loaded"]
    forwarded = {str(w.message) for w in caught}
    for run in plan.targets:  # each run's own warning came back, named by the run
        assert f"{run.label}/seed_{run.seed}: plugin-env-xyz says hello" in forwarded


def test_a_run_no_node_can_host_is_a_user_error(cluster, tiny_study, monkeypatch):
    import ray

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    monkeypatch.delenv(AUTOSCALING_ENV, raising=False)
    tiny_study["executor"] = {"kind": "ray", "address": cluster.address, "gpus_per_run": 1}
    spec = load_study(tiny_study)  # joining: the cluster, not this machine, has the GPUs
    with pytest.raises(UserError, match=r"executor\.gpus_per_run: .*largest node: 0"):
        make_executor(spec.executor, lambda run_id, t: None)
    assert not ray.is_initialized()
    cpus = replace(spec.executor, gpus_per_run=0.0, cpus_per_run=3.0)
    with pytest.raises(UserError, match=r"executor\.cpus_per_run: .*largest node: 2"):
        make_executor(cpus, lambda run_id, t: None)
    monkeypatch.setenv(AUTOSCALING_ENV, "1")  # an autoscaler may add the nodes: submit anyway
    make_executor(spec.executor, lambda run_id, t: None).shutdown()


def test_cli_on_a_cluster_exits_2_for_an_impossible_gpu_request(
    cluster, tiny_study, write_study, capsys, monkeypatch
):
    from rltransfer.cli import main

    monkeypatch.delenv(AUTOSCALING_ENV, raising=False)
    tiny_study["executor"] = {"kind": "ray", "gpus_per_run": 1}
    path = write_study(tiny_study)
    out = path.parent / "out"
    assert main(["run", str(path), "--ray-address", cluster.address, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "executor.gpus_per_run" in err and "Traceback" not in err
    assert not list(out.rglob("curve.csv"))  # nothing trained


def test_run_study_on_a_cluster_ships_the_plugin_env(cluster, plugin_study, tmp_path, monkeypatch):
    from rltransfer import run_study

    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    with pytest.warns(UserWarning) as caught:
        result = run_study(
            plugin_study, out=tmp_path / "runs", quiet=True, ray_address=cluster.address
        )
    for method in ("scratch", "finetune"):
        for seed in (0, 1):
            assert len(result.curves[method][seed].return_mean) == 1 + 384 // 128
            assert f"{method}/seed_{seed}: plugin-env-xyz says hello" in {
                str(w.message) for w in caught
            }


def test_an_address_nothing_answers_at_is_a_user_error(monkeypatch):
    from rltransfer.config.spec import ExecutorSpec

    ray = pytest.importorskip("ray")
    nowhere = f"127.0.0.1:{_free_port()}"
    started = time.monotonic()
    with pytest.raises(UserError, match=r"^executor\.address: no Ray cluster answers at 127"):
        make_executor(ExecutorSpec(kind="ray", address=nowhere), lambda run_id, t: None)
    monkeypatch.setenv("RAY_ADDRESS", nowhere)
    with pytest.raises(UserError, match=r"^RAY_ADDRESS: no Ray cluster answers"):
        make_executor(ExecutorSpec(kind="ray"), lambda run_id, t: None)
    assert time.monotonic() - started < 10 and not ray.is_initialized()


@pytest.mark.slow
def test_ray_job_submit_runs_a_study_from_its_folder(cluster, plugin_study, tmp_path):
    """The README's cluster recipe: the job's working dir is the study's folder (plug-in
    included); the driver inside the job joins through the RAY_ADDRESS that Ray sets."""
    import yaml

    folder = tmp_path / "study"
    (folder / "study.yaml").write_text(yaml.safe_dump(plugin_study))
    out = tmp_path / "out"
    cmd = [str(Path(sys.executable).with_name("ray")), "job", "submit"]
    cmd += ["--address", cluster.dashboard, "--working-dir", str(folder), "--"]
    cmd += [sys.executable, "-m", "rltransfer", "run", "study.yaml", "--out", str(out), "--quiet"]
    env = {k: v for k, v in os.environ.items() if k != "RAY_ADDRESS"}
    job = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    logs = job.stdout + job.stderr
    assert job.returncode == 0, logs[-4000:]
    labels = ["scratch/seed_0", "scratch/seed_1", "finetune/seed_0", "finetune/seed_1"]
    target = out / "tiny" / "target"
    assert sorted(str(p.parent.relative_to(target)) for p in target.rglob("curve.csv")) == sorted(
        labels
    )
    for label in labels:  # every run's warning reached the job's driver, named by the run
        assert f"{label}: plugin-env-xyz says hello" in logs
