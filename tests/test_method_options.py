"""The method catalog and the method options: mistakes a run would trip on exit 2 before
training, naming the field; the catalog stays one registry with classes loaded on demand."""

from __future__ import annotations

import re
from typing import Any

import pytest

from rltransfer.config.parse import FieldError
from rltransfer.methods import CATALOG, METHODS, method_class, register_method
from rltransfer.methods.catalog import MethodEntry

M = r"methods\[1\]"
"""The method's index in the study file (``scratch`` comes first)."""


def _with_method(tiny_study: dict[str, Any], **method: Any) -> dict[str, Any]:
    tiny_study["methods"] = ["scratch", {"name": "m", **method}]
    return tiny_study


@pytest.mark.parametrize(
    ("method", "field", "words"),
    [
        ({"method": "freeze", "train": []}, rf"{M}\.train", "name at least one layer group"),
        ({"method": "layerwise", "groups": {"all": "freeze"}}, rf"{M}\.groups",
         "nothing would train"),
        ({"method": "layerwise", "groups": {"hidden": "freeze", "output": "freeze"}},
         rf"{M}\.groups", "nothing would train"),
        ({"method": "layerwise", "groups": {"encoder": "melt"}}, rf"{M}\.groups\.encoder\.mode",
         "must be one of freeze, finetune, reinit, got 'melt'"),
        ({"method": "layerwise", "groups": {"output": {"unfreeze_at": -5}}},
         rf"{M}\.groups\.output\.unfreeze_at", "must be >= 0 env steps, got -5"),
        ({"method": "layerwise", "groups": {"output": {"finetune": 0}}},
         rf"{M}\.groups\.output\.lr", "must be > 0"),
        ({"method": "multitask", "groups": {"output": "melt"}}, rf"{M}\.groups\.output\.mode",
         "got 'melt'"),
        ({"method": "kickstart", "teacher": {"policy": {"encoder": "resnet9000"}}},
         rf"{M}\.teacher\.policy\.encoder", "unknown encoder 'resnet9000'"),
        ({"method": "reuse", "teacher": {"policy": {"encoder": "mlpp"}}},
         rf"{M}\.teacher\.policy\.encoder", "did you mean 'mlp'"),
        ({"method": "distill", "teacher": {"policy": {"encoder": "nature_cn"}}},
         rf"{M}\.teacher\.policy\.encoder", "unknown encoder"),
    ],
    ids=lambda v: v if isinstance(v, str) and not v.startswith(("methods", "(")) else None,
)  # fmt: skip
def test_method_option_mistakes_exit_2_before_training(
    tiny_study, study_exit_2, tmp_path, method, field, words
):
    err = study_exit_2(_with_method(tiny_study, **method))
    assert re.search(rf"{field}: .*{re.escape(words)}", err), err
    assert "Traceback" not in err
    assert not (tmp_path / "out" / "tiny" / "source").exists(), "training started"


@pytest.mark.parametrize(
    "groups",
    [
        {"all": "freeze", "output": "reinit"},  # the heads train
        {"all": {"unfreeze_at": 128}},  # frozen only for a while
    ],
)
def test_layerwise_plans_where_something_trains_are_valid(tiny_study, groups):
    from rltransfer.validation import load_study

    spec = load_study(_with_method(tiny_study, method="layerwise", groups=groups))
    assert [m.method for m in spec.methods] == ["scratch", "layerwise"]


def test_layerwise_all_frozen_with_progressive_unfreezing_is_valid(tiny_study):
    from rltransfer.validation import load_study

    study = _with_method(tiny_study, method="layerwise", groups={"all": "freeze"}, progressive=128)
    assert load_study(study).methods[1].method == "layerwise"


def test_options_parse_from_the_catalog_without_the_implementation():
    entry = CATALOG["layerwise"]
    options = entry.parse_options({"groups": {"encoder": {"finetune": 0.1}}}, "m")
    assert options.groups["encoder"].mode == "finetune" and options.groups["encoder"].lr == 0.1
    with pytest.raises(FieldError, match=r"m\.groups\.encoder\.mode: must be one of"):
        entry.parse_options({"groups": {"encoder": "melt"}}, "m")
    with pytest.raises(FieldError, match="'scratch' takes no options"):
        CATALOG["scratch"].parse_options({"lr": 1}, "m")


def test_every_entry_loads_a_class_bound_to_it():
    for kind, entry in CATALOG.items():
        cls = method_class(kind, "method")
        assert cls is METHODS[kind]
        assert (cls.kind, cls.description, cls.transfers) == (
            kind,
            entry.description,
            entry.transfers,
        )
        assert cls.Options is entry.options and cls.needs_source == entry.needs_source
    assert CATALOG["scratch"].needs_source is False


def test_unknown_method_names_the_field_and_suggests():
    with pytest.raises(FieldError, match=r"methods\[0\]\.method: unknown method 'finetun'.*"
                       r"did you mean 'finetune'"):  # fmt: skip
        method_class("finetun", "methods[0].method")


@pytest.fixture
def plugin_kind():
    """A kind for a plug-in method, removed from the catalog afterwards."""
    from rltransfer.methods import catalog

    kind = "test_plugin_noop"
    yield kind
    catalog._ENTRIES.pop(kind, None)  # no public unregister: plug-ins live for the process
    catalog._LOADED.pop(kind, None)


def test_register_method_adds_a_plugin_and_refuses_duplicates(plugin_kind):
    from rltransfer.methods import TransferMethod

    class Noop(TransferMethod):
        kind = plugin_kind
        description = "changes nothing (a test plug-in)"
        transfers = "nothing"
        needs_source = False

        def apply(self, ctx):
            return {"transferred": "nothing"}

    assert register_method(Noop) is Noop
    assert METHODS[plugin_kind] is Noop and method_class(plugin_kind, "m") is Noop
    assert CATALOG[plugin_kind].impl.endswith(":test_register_method_adds_a_plugin_and_refuses_"
                                              "duplicates.<locals>.Noop")  # fmt: skip
    with pytest.raises(ValueError, match="already registered"):
        register_method(Noop)
    with pytest.raises(ValueError, match="'freeze' is already registered"):
        register_method(METHODS["freeze"])


def test_an_entry_pointing_at_the_wrong_class_is_refused():
    entry = MethodEntry("freeze_alias", "x", "parameters", "rltransfer.methods.freeze:Freeze")
    with pytest.raises(TypeError, match="does not implement method 'freeze_alias'"):
        entry.load()
