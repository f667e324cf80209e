"""Load a study file (YAML) or a dict into a validated ``StudySpec``.

Every mistake raises ``UserError`` whose message names the file and the dotted field, e.g.
``study.yaml: target.env.id: unknown environment 'CartPol-v1' (did you mean 'CartPole-v1'?)``.
"""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from rltransfer.config.parse import FieldError, join, parse_dataclass
from rltransfer.config.seeds import SeedsSpec
from rltransfer.config.spec import StudySpec
from rltransfer.errors import UserError

DEFAULT_STUDY = "default.yaml"
MAX_SEEDS = 10_000
"""The most seeds a study may have (a count is checked before its list is built)."""

# Command-line names for overrides → the study key they set.
OVERRIDES = {
    "seeds": ("seeds",),
    "workers": ("executor", "workers"),
    "executor": ("executor", "kind"),
    "ray_address": ("executor", "address"),
    "wandb": ("tracking", "wandb", "mode"),
    "device": ("device",),
}


def default_study_text() -> str:
    return resources.files("rltransfer.studies").joinpath(DEFAULT_STUDY).read_text()


def _unique_keys(node: yaml.Node, path: str, seen: set[int]) -> None:
    """Raise ``FieldError`` for a key that appears twice in one mapping, at any depth (YAML would
    silently keep the last). Merge keys (``<<``) may be overridden, as YAML allows."""
    if id(node) in seen:  # an alias: checked where it was defined
        return
    seen.add(id(node))
    if isinstance(node, yaml.MappingNode):
        first: dict[tuple[str, str], str] = {}
        for key, value in node.value:
            if key.tag == "tag:yaml.org,2002:merge" or not isinstance(key, yaml.ScalarNode):
                continue
            mark = key.start_mark
            where = f"line {mark.line + 1}, column {mark.column + 1}"
            if (key.tag, key.value) in first:
                raise FieldError(
                    join(path, key.value),
                    f"duplicate key at {where} (first at {first[key.tag, key.value]}); "
                    "give each key once",
                )
            first[key.tag, key.value] = where
            _unique_keys(value, join(path, key.value), seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _unique_keys(item, join(path, i), seen)


def load_yaml(text: str) -> Any:
    """``yaml.safe_load`` that rejects duplicate mapping keys (``FieldError`` naming the key's
    dotted path and line)."""
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _unique_keys(node, "", set())
        return loader.construct_document(node)
    finally:
        loader.dispose()


def read_study_data(path_or_spec: Any) -> tuple[dict[str, Any], str]:
    """Return the raw study mapping and a label for messages (the file name)."""
    if path_or_spec is None:
        return yaml.safe_load(default_study_text()), f"<default study {DEFAULT_STUDY}>"
    if isinstance(path_or_spec, dict):
        return copy.deepcopy(path_or_spec), "<study dict>"
    path = Path(path_or_spec)
    label = str(path)
    if not path.is_file():
        raise UserError(f"{label}: no such study file")
    try:
        data = load_yaml(path.read_text(encoding="utf-8"))
    except FieldError as e:
        raise UserError(f"{label}: {e}") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise UserError(f"{label}: not valid YAML{where}: {getattr(e, 'problem', e)}") from None
    except UnicodeDecodeError:
        raise UserError(f"{label}: not a text file") from None
    if not isinstance(data, dict):
        raise UserError(f"{label}: a study file must be a mapping of keys (name, algo, source, …)")
    return data, label


def apply_overrides(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Lay command-line or API overrides over the raw study; ``None`` values are ignored."""
    for key, value in overrides.items():
        if value is None:
            continue
        keys = OVERRIDES.get(key, (key,))
        node = data
        for k in keys[:-1]:
            node = node.setdefault(k, {}) if isinstance(node.get(k, {}), dict) else node
        if isinstance(value, dict) and isinstance(node.get(keys[-1]), dict):
            node[keys[-1]] = {**node[keys[-1]], **value}
        else:
            node[keys[-1]] = value
    return data


def _expand_seeds(data: dict[str, Any]) -> None:
    """``seeds: N`` → ``[0, ..., N-1]``, with N checked before the list is built; a mapping
    (``SeedsSpec``) → its ids, and ``sequential`` when it asks for sequential seeding."""
    seeds = data.get("seeds")
    if isinstance(seeds, dict):
        plan = parse_dataclass(SeedsSpec, seeds, "seeds")
        if not 1 <= plan.total <= MAX_SEEDS:
            key = "count" if plan.count is not None else "max"
            raise FieldError(f"seeds.{key}", f"must be in [1, {MAX_SEEDS}], got {plan.total}")
        data["seeds"] = plan.ids
        if plan.sequential is not None:
            data["sequential"] = vars(plan.sequential)
        return
    if isinstance(seeds, float) and seeds.is_integer():
        seeds = int(seeds)
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if not 1 <= seeds <= MAX_SEEDS:
            raise FieldError("seeds", f"a count must be in [1, {MAX_SEEDS}], got {seeds}")
        data["seeds"] = list(range(seeds))
    elif isinstance(seeds, list) and len(seeds) > MAX_SEEDS:
        raise FieldError("seeds", f"must hold at most {MAX_SEEDS} seeds, got {len(seeds)}")


def parse_study(path_or_spec: Any = None, **overrides: Any) -> tuple[StudySpec, str]:
    """Read, override and parse a study (types and ranges only, nothing resolved); return it
    with a label for messages (the file name). ``UserError`` on any mistake.

    ``rltransfer.validation.load_study`` checks it against the environments, algorithms and
    methods and resolves its defaults."""
    data, label = read_study_data(path_or_spec)
    data = apply_overrides(data, overrides)
    try:
        _expand_seeds(data)
        return parse_dataclass(StudySpec, data, ""), label
    except FieldError as e:
        raise UserError(f"{label}: {e}") from None
