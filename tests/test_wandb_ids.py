"""W&B run ids: unique per study and run, identical when a study is re-run (so W&B resumes the
same runs, the summary run too), and never part of a run's content-hash id."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

from rltransfer import run_study
from rltransfer.study import plan_study
from rltransfer.tracking import SUMMARY_ID, wandb_run_id, wandb_scope
from rltransfer.tracking.offline_reader import read_offline_runs
from rltransfer.validation import load_study


def _ids(study: dict, root: Path) -> dict[str, tuple[str, str]]:
    """label/seed → (content id, W&B id) of every planned run."""
    plan = plan_study(load_study(study), root)
    return {
        f"{r.label}/{r.seed}": (r.run_id, wandb_run_id(r.wandb_scope, r.run_id)) for r in plan.runs
    }


def test_studies_sharing_a_target_get_distinct_wandb_ids(tiny_study, tmp_path):
    other = copy.deepcopy(tiny_study)
    other["name"] = "tiny-other"
    a = _ids(tiny_study, tmp_path / "tiny")
    b = _ids(other, tmp_path / "tiny-other")
    for key in ("scratch/0", "scratch/1", "source/1000"):
        assert a[key][0] == b[key][0]  # the same computation: the same content id
        assert a[key][1] != b[key][1]  # but one W&B run per study
    assert len({w for _, w in a.values()}) == len(a)  # unique within the study
    # the same study in another result folder is another study on W&B
    elsewhere = _ids(tiny_study, tmp_path / "elsewhere" / "tiny")
    assert {k: v[1] for k, v in elsewhere.items()} != {k: v[1] for k, v in a.items()}


def test_wandb_ids_are_stable_and_independent_of_wandb_settings(tiny_study, tmp_path):
    first = _ids(tiny_study, tmp_path / "tiny")
    again = copy.deepcopy(tiny_study)
    again["tracking"] = {"wandb": {"mode": "offline", "project": "elsewhere", "entity": "me"}}
    assert _ids(again, tmp_path / "tiny") == first


def _wait_for_summaries(wandb_dir: Path, count: int) -> list:
    deadline = time.monotonic() + 15  # W&B's service may still be flushing the record files
    while True:
        runs = read_offline_runs(wandb_dir)
        summaries = [r for r in runs if r.job_type == "summary" and r.summary]
        if len(summaries) >= count or time.monotonic() > deadline:
            return runs
        time.sleep(0.2)


def test_a_rerun_resumes_the_same_wandb_runs(tiny_study, tmp_path):
    tiny_study["seeds"] = 1
    tiny_study["tracking"] = {"wandb": {"mode": "offline", "project": "rlt-test"}}
    first = run_study(tiny_study, out=tmp_path, quiet=True)
    again = run_study(tiny_study, out=tmp_path, quiet=True)
    assert len(again.skipped) == 3  # nothing retrained
    runs = _wait_for_summaries(first.out_dir / "wandb", 2)
    scope = wandb_scope("tiny", first.out_dir)
    summaries = [r for r in runs if r.job_type == "summary"]
    # one summary id, logged twice: `wandb sync` merges the two into one W&B run
    assert [r.run_id for r in summaries] == [wandb_run_id(scope, SUMMARY_ID)] * 2
    training = [r for r in runs if r.job_type in ("source", "target")]
    planned = {wandb_run_id(scope, r.run_id) for r in plan_study(first.spec, first.out_dir).runs}
    assert {r.run_id for r in training} == planned and len(training) == 3


def test_two_studies_on_one_target_log_two_scratch_runs(tiny_study, tmp_path):
    tiny_study["seeds"] = 1
    tiny_study["tracking"] = {"wandb": {"mode": "offline", "project": "rlt-test"}}
    other = {**copy.deepcopy(tiny_study), "name": "tiny-other"}
    wandb_ids, content_ids = {}, {}
    for study in (tiny_study, other):
        result = run_study(study, out=tmp_path, quiet=True)
        runs = read_offline_runs(result.out_dir / "wandb")
        (scratch,) = [r for r in runs if r.name.endswith("__scratch__seed0")]
        assert scratch.group == study["name"]
        wandb_ids[study["name"]] = scratch.run_id
        meta = json.loads((result.out_dir / "target/scratch/seed_0/meta.json").read_text())
        content_ids[study["name"]] = meta["run_id"]
    assert content_ids["tiny"] == content_ids["tiny-other"]  # the same scratch computation
    assert wandb_ids["tiny"] != wandb_ids["tiny-other"]  # two W&B runs, never merged
    assert all(wandb_ids[n].endswith("-" + content_ids[n]) for n in wandb_ids)
