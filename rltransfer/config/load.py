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

from rltransfer.config.parse import FieldError, parse_dataclass
from rltransfer.config.spec import StudySpec
from rltransfer.errors import UserError

DEFAULT_STUDY = "default.yaml"

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
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
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


def load_study(path_or_spec: Any = None, **overrides: Any) -> StudySpec:
    """Read, override, parse and validate a study; raise ``UserError`` on any mistake."""
    from rltransfer.config.validate import validate_study

    data, label = read_study_data(path_or_spec)
    data = apply_overrides(data, overrides)
    seeds = data.get("seeds")
    if isinstance(seeds, int) and not isinstance(seeds, bool):
        if seeds < 1:
            raise UserError(f"{label}: seeds: must be at least 1, got {seeds}")
        data["seeds"] = list(range(seeds))
    try:
        spec = parse_dataclass(StudySpec, data, "")
        validate_study(spec)
    except FieldError as e:
        raise UserError(f"{label}: {e}") from None
    return spec
