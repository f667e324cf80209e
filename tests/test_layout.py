"""The study folder's names and paths (``rltransfer.layout``): the folders a study plans are the
ones the analysis reads, a run folder's status words, and a foundation module that imports
nothing of rltransfer when it runs."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np

from rltransfer import layout
from rltransfer.analysis.curves import Curve, load_study_curves, run_dirs, write_curve
from rltransfer.config.replicas import pair_replicas
from rltransfer.config.spec import EnvSpec, EvalSpec, PolicySpec, SourceSpec
from rltransfer.study import load_study, plan_study


def test_paths_of_the_study_folder():
    root = Path("runs/s")
    assert layout.target_dir(root, "finetune", 3) == Path("runs/s/target/finetune/seed_3")
    assert layout.target_dir("runs/s", "finetune", 3) == Path("runs/s/target/finetune/seed_3")
    assert layout.source_dir(root) == Path("runs/s/source")
    assert layout.source_dir(root, "source/seed_3") == Path("runs/s/source/seed_3")
    assert layout.source_folder() == "source"
    assert layout.source_folder("own") == "sources/own"
    assert layout.study_file(root) == Path("runs/s/study.yaml")
    assert layout.seed_of_dir("seed_12") == 12
    assert layout.seed_of_dir("seed_x") is None and layout.seed_of_dir("seed_1a") is None


def test_replica_keys_are_source_folders():
    paired = pair_replicas(SourceSpec(seed=1000), layout.source_folder(), [4, 5])
    assert {k: (r.key, r.seed, r.name) for k, r in paired.items()} == {
        4: ("source/seed_4", 1004, "seed_4"),
        5: ("source/seed_5", 1005, "seed_5"),
    }
    shared = pair_replicas(SourceSpec(seed=7, replicas=1), layout.source_folder("own"), [4, 5])
    assert {r.key for r in shared.values()} == {"sources/own"} and shared[4].name is None
    assert layout.source_dir("r", paired[5].key) == Path("r/source/seed_5")


def test_the_planned_folders_are_the_ones_the_analysis_reads(tmp_path):
    plan = plan_study(load_study(None), tmp_path)
    grid = np.array([0, 10])
    for r in plan.targets:
        write_curve(Path(r.out_dir) / layout.CURVE_FILE, Curve(grid, grid * 1.0, grid * 0.0, grid))
    found = {(m, s) for m, s, _ in run_dirs(tmp_path)}
    assert found == {(r.label, r.seed) for r in plan.targets}
    curves = load_study_curves(tmp_path)
    assert sorted(curves) == ["finetune", "scratch"] and sorted(curves["scratch"]) == list(
        range(20)
    )
    assert {layout.run_label(r) for r in plan.targets[:2]} == {"scratch/seed_0", "scratch/seed_1"}
    assert [layout.run_label(r) for r in plan.sources[:2]] == ["source/seed_0", "source/seed_1"]


def test_a_run_folder_is_complete_only_with_its_id(tmp_path):
    run = tmp_path / "run"
    assert layout.read_meta(run) is None and not layout.is_complete(run, "abc")
    run.mkdir()
    for status, done in (
        (layout.STATUS_RUNNING, False),
        (layout.STATUS_FAILED, False),
        (layout.STATUS_COMPLETE, True),
    ):
        (run / layout.META_FILE).write_text(json.dumps({"run_id": "abc", "status": status}))
        assert layout.is_complete(run, "abc") is done
        assert (status in layout.UNFINISHED) is not done
    assert layout.finished_run_id(run) == "abc" and not layout.is_complete(run, "other")
    (run / layout.META_FILE).write_text("[1, 2]")  # not a mapping
    assert layout.read_meta(run) is None and layout.finished_run_id(run) is None


def test_layout_imports_nothing_of_rltransfer_when_it_runs():
    tree = ast.parse(Path(layout.__file__).read_text("utf-8"))
    found = [
        node.module
        for node in tree.body  # module level, outside ``if TYPE_CHECKING:``
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("rltransfer")
    ]
    assert found == []


def test_normalize_json_stores_the_vecnormalize_settings(tmp_path):
    from stable_baselines3.common.vec_env import VecNormalize

    from rltransfer.agents import build_model
    from rltransfer.layout import RunSpec
    from rltransfer.run import _make_train_env, _save_model

    spec = RunSpec(
        run_id="t", role="source", label="source", seed=0, env=EnvSpec("CartPole-v1"),
        timesteps=0, algo="ppo", hyperparams={"n_envs": 2, "normalize": {"clip_obs": 5.0}},
        policy=PolicySpec(net_arch=[8]), eval=EvalSpec(), eval_seed=0, device="cpu",
        out_dir=str(tmp_path), study="t",
    )  # fmt: skip
    env, recipe = _make_train_env(spec, None, None)
    assert isinstance(env, VecNormalize) and env.clip_obs == 5.0
    model = build_model(
        "ppo", env, hyperparams=recipe.hyperparams, net_arch=[8], seed=0, device="cpu"
    )
    _save_model(model, tmp_path)
    stats = json.loads((tmp_path / layout.NORMALIZE_FILE).read_text())
    assert stats["clip_obs"] == 5.0 and stats["epsilon"] == 1e-8
    assert set(stats) == {"mean", "var", "count", "clip_obs", "epsilon"}
    assert (tmp_path / layout.MODEL_FILE).is_file()
