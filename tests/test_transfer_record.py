"""The typed transfer record: its ``meta.json`` form, reading old and odd blocks, merging facts."""

from __future__ import annotations

import json

import pytest

from rltransfer.transfer_record import (
    GroupState,
    Normalization,
    ParameterCounts,
    Skip,
    StatsOutcome,
    TransferRecord,
    as_record,
)

FULL = TransferRecord(
    "parameters",
    loaded=["hidden1.weight", "hidden1.bias"],
    skipped={"action_net.weight": Skip("shape", "shape (2, 64) != target (3, 64)")},
    frozen=["hidden1.weight"],
    reinitialised=[],
    groups={"hidden1": GroupState("freeze", 1.0, 500), "output": GroupState("finetune", 0.1)},
    parameters=ParameterCounts(
        total=400, loaded=300, frozen=256, reinitialised=0, more={"fresh": 3}
    ),
    reset=["optimizer state"],
    normalization=Normalization(
        "blend",
        vecnormalize=StatsOutcome("blended", "source statistics weighted as 100 observations"),
    ),
    adapters=["features_extractor.adapter: identity on 4 of 6 coordinates"],
    details={"lr": {"lr": 0.0003, "lr_mult": 1.0}, "exploration": None},
)


def test_the_json_form_is_flat_and_reads_back_to_the_same_json():
    data = FULL.to_json()
    assert json.loads(json.dumps(data)) == data  # plain JSON data
    assert data["skipped"] == {"action_net.weight": "shape (2, 64) != target (3, 64)"}
    assert data["groups"]["hidden1"] == {"mode": "freeze", "lr": 1.0, "unfreeze_at": 500}
    assert data["parameters"] == {
        "total": 400,
        "loaded": 300,
        "frozen": 256,
        "reinitialised": 0,
        "fresh": 3,
    }
    assert data["normalization"] == {
        "mode": "blend",
        "vecnormalize": "source statistics weighted as 100 observations",
    }
    assert data["lr"] == {"lr": 0.0003, "lr_mult": 1.0} and "details" not in data
    assert "distillation_steps" not in data  # unrecorded fields are left out
    back = TransferRecord.from_json(data)
    assert back.to_json() == data
    # a cause is known only in the run that wrote it: read back, it is "recorded"
    assert back.skipped["action_net.weight"] == Skip("recorded", "shape (2, 64) != target (3, 64)")
    assert back.normalization.vecnormalize.action == "recorded"
    assert back.parameters.percent("frozen") == 64.0 and back.parameters.more == {"fresh": 3}


def test_after_training_facts_fill_typed_fields_and_details():
    record = TransferRecord("policy (distillation)", details={"mode": "student"})
    after = record.with_facts({"distillation_steps": 6000, "rounds": 3})
    assert after.distillation_steps == 6000
    assert after.details == {"mode": "student", "rounds": 3}
    assert after.to_json() == {
        "transferred": "policy (distillation)",
        "distillation_steps": 6000,
        "mode": "student",
        "rounds": 3,
    }
    assert record.distillation_steps is None  # records are values: the original is unchanged
    with pytest.raises(ValueError, match="loaded: typed fields"):
        record.with_details(loaded=["x"])


@pytest.mark.parametrize(
    "block",
    [
        None,
        "parameters",
        [],
        {},
        {"loaded": 5, "skipped": ["x", "y"], "parameters": {"total": "n/a", "fresh": True}},
        {"groups": {"all": "freeze", "b": 3, "c": {"lr": "fast", "unfreeze_at": "soon"}}},
        {"normalization": "source statistics reused", "reset": "everything"},
        {"distillation_steps": float("nan"), "adapters": {"a": 1}, "frozen": "x"},
    ],
)
def test_any_block_reads_without_raising(block):
    record = TransferRecord.from_json(block)
    assert json.loads(json.dumps(record.to_json())) == record.to_json()


def test_odd_blocks_read_as_far_as_they_are_readable():
    odd = TransferRecord.from_json({"loaded": 2, "skipped": ["x"], "groups": {"all": "freeze"}})
    assert odd.transferred is None and len(odd.loaded) == 2  # a bare count: unnamed entries
    assert odd.skipped == {"x": Skip("recorded", "no reason recorded")}
    assert odd.groups == {"all": GroupState("freeze")}
    old = TransferRecord.from_json({"normalization": "reused", "reset": "everything", "x": 1})
    assert old.normalization == Normalization("reused") and old.reset == ["everything"]
    assert old.details == {"x": 1} and old.parameters is None


def test_a_plugin_may_return_a_dict_but_nothing_else():
    record = as_record({"transferred": "parameters", "loaded": ["a"], "keep": 0.5})
    assert record.loaded == ["a"] and record.details == {"keep": 0.5}
    assert as_record(FULL) is FULL
    with pytest.raises(TypeError, match="apply returned list"):
        as_record(["a"])


def test_a_skip_changes_cause_and_keeps_its_reason():
    skip = Skip("shape", "shape (2,) != target (3,)")
    relabelled = skip.because("action", "re-initialised: output (action space differs)")
    assert relabelled == Skip(
        "action", "re-initialised: output (action space differs): shape (2,) != target (3,)"
    )
