"""Executors: a local Ray gives the same results as one in-process worker; remote runs need no
shared filesystem; failures travel back to the driver."""

from __future__ import annotations

import json
import shutil
import sys

import numpy as np
import pytest

from rltransfer import run_study
from rltransfer.executors.packing import RemoteRunError, pack_inputs, run_packed, unpack_result
from rltransfer.run import execute_run
from rltransfer.study import plan_study
from rltransfer.validation import load_study


@pytest.mark.slow
def test_ray_executor_matches_one_local_worker(tiny_study, tmp_path):
    pytest.importorskip("ray")
    local = run_study(tiny_study, out=tmp_path / "local", quiet=True)
    remote = run_study(tiny_study, out=tmp_path / "ray", quiet=True, executor="ray", workers=2)
    for method, seeds in local.curves.items():
        for seed, curve in seeds.items():
            np.testing.assert_array_equal(
                curve.return_mean, remote.curves[method][seed].return_mean
            )
    assert remote.summary["methods"] == local.summary["methods"]
    # the driver wrote every file the workers sent back, including their W&B-free run folders
    assert (remote.out_dir / "target" / "finetune" / "seed_1" / "model.zip").is_file()
    # never more runs at once than workers: a task blocked in ray.get (e.g. on a progress queue)
    # would hand its CPU to another run and oversubscribe the cores
    metas = [json.loads(p.read_text()) for p in remote.out_dir.rglob("meta.json")]
    spans = [(m["started_at"], m["started_at"] + m["wall_time_s"]) for m in metas]
    most = max(sum(a <= t < b for a, b in spans) for t, _ in spans)
    assert most <= 2, spans


def test_packed_run_needs_no_access_to_the_study_folder(tiny_study, tmp_path):
    from rltransfer.tracking.offline_reader import read_offline_runs

    tiny_study["tracking"] = {"wandb": {"mode": "offline"}}
    spec = load_study(tiny_study)
    plan = plan_study(spec, tmp_path / "driver" / spec.name)
    execute_run(plan.sources[0])
    finetune = next(r for r in plan.targets if r.label == "finetune" and r.seed == 0)
    inputs = pack_inputs(finetune)
    assert set(inputs) == {"model.zip"}
    shutil.rmtree(tmp_path / "driver")  # the worker cannot see the driver's files
    packed = run_packed(finetune, inputs)
    assert packed.error is None and "curve.csv" in packed.run_files
    meta = unpack_result(finetune, packed)
    written = json.loads(
        (
            tmp_path / "driver" / spec.name / "target" / "finetune" / "seed_0" / "meta.json"
        ).read_text()
    )
    assert written == meta and written["status"] == "complete"
    assert len(written["transfer"]["loaded"]) > 0
    runs = read_offline_runs(tmp_path / "driver" / spec.name / "wandb")
    assert [r.name for r in runs] == ["tiny__finetune__seed0"]  # its W&B run came back too


def test_packed_failure_is_written_and_raised(tiny_study, tmp_path, monkeypatch):
    from tests.test_failures import FLAKY_ENV

    (tmp_path / "flaky_envs.py").write_text(FLAKY_ENV)
    monkeypatch.syspath_prepend(str(tmp_path))
    sys.modules.pop("flaky_envs", None)
    tiny_study["hyperparams"]["n_envs"] = 1
    tiny_study["target"]["env"] = "flaky_envs:FlakyCartPole-v0"
    spec = load_study(tiny_study)
    plan = plan_study(spec, tmp_path / "runs" / spec.name)
    doomed = next(r for r in plan.targets if r.label == "scratch" and r.seed == 1)
    packed = run_packed(doomed, {})
    assert packed.error is not None and "exploded" in packed.error
    with pytest.raises(RemoteRunError, match="exploded"):
        unpack_result(doomed, packed)
    out = tmp_path / "runs" / spec.name / "target" / "scratch" / "seed_1"
    assert "the simulator exploded" in (out / "traceback.txt").read_text()
    assert json.loads((out / "meta.json").read_text())["status"] == "failed"


def test_ray_options_are_validated(tiny_study, capsys):
    from rltransfer.cli import main
    from rltransfer.errors import UserError

    tiny_study["executor"] = {"kind": "local", "address": "auto"}
    with pytest.raises(UserError, match="executor.address: only the ray executor takes it"):
        load_study(tiny_study)
    assert main(["run", "--ray-address", "auto"]) == 2
    assert "executor.address" in capsys.readouterr().err


def test_device_auto_keeps_mlp_policies_on_cpu():
    import torch

    from rltransfer.agents import resolve_device

    assert resolve_device("auto", "mlp") == "cpu"
    assert resolve_device("cpu", "nature_cnn") == "cpu"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto", "nature_cnn") == expected


def test_a_gpu_per_run_on_a_local_ray_without_cuda_is_a_study_error(tiny_study, monkeypatch):
    import torch

    from rltransfer.errors import UserError

    pytest.importorskip("ray")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    tiny_study["executor"] = {"kind": "ray", "gpus_per_run": 0.5}
    if torch.cuda.is_available():
        assert load_study(tiny_study).executor.gpus_per_run == 0.5
    else:
        with pytest.raises(UserError, match=r"executor\.gpus_per_run: .*no CUDA device here"):
            load_study(tiny_study)
    # joining a cluster: its GPUs count, not this machine's (checked when joining)
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")
    assert load_study(tiny_study).executor.gpus_per_run == 0.5
    tiny_study["executor"] = {"kind": "ray", "cpus_per_run": 1.5}
    with pytest.raises(UserError, match=r"executor\.cpus_per_run: above 1 must be a whole"):
        load_study(tiny_study)


def test_only_the_users_own_modules_are_shipped_to_ray(tiny_study, tmp_path, monkeypatch):
    from dataclasses import replace

    from rltransfer.config.spec import EnvSpec, WrapperSpec
    from rltransfer.executors.ray_cluster import shipped_modules

    (tmp_path / "own_pkg" / "envs").mkdir(parents=True)
    (tmp_path / "own_pkg" / "__init__.py").write_text("")
    (tmp_path / "own_pkg" / "envs" / "__init__.py").write_text("")
    (tmp_path / "own_wrappers.py").write_text("")
    monkeypatch.syspath_prepend(str(tmp_path))
    run = plan_study(load_study(tiny_study), tmp_path / "runs").sources[0]
    env = EnvSpec(
        "own_pkg.envs:Foo-v0",
        wrappers=[
            WrapperSpec("own_wrappers:Pixels"),
            WrapperSpec("gymnasium.wrappers:TimeLimit"),  # an installed package
            WrapperSpec("rltransfer.envs.wrappers:StackFrames"),  # on every node already
            WrapperSpec("json:JSONDecoder"),  # the standard library
            WrapperSpec("GrayscalePixels"),
        ],
    )
    assert shipped_modules([run]) == []  # registered ids only
    shipped = shipped_modules(
        [run, replace(run, env=EnvSpec("rltransfer/CartPole-v0"), source_env=env)]
    )
    assert shipped == sorted([str(tmp_path / "own_pkg"), str(tmp_path / "own_wrappers.py")])
