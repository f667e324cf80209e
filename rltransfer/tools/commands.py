"""The ``rltransfer encoders | pretrain | probe`` subcommands (argument parsing in ``cli.py``,
which imports this module only when one of them runs; each subcommand imports its own tool).

Mistakes raise ``UserError`` (exit 2) with a message naming the option.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

import numpy as np
import yaml

from rltransfer.config.parse import FieldError, parse_dataclass
from rltransfer.config.spec import EnvSpec
from rltransfer.environments import check_env_spec
from rltransfer.errors import UserError, did_you_mean
from rltransfer.paths import existing_dir, existing_file, output_file
from rltransfer.vision.features import NORMS, FeatureReader, tap_names
from rltransfer.vision.registry import get_entry, list_encoders
from rltransfer.vision.weights import WEIGHT_SUFFIXES, WeightsError

REFERENCE_IMAGE = (3, 64, 64)
REFERENCE_VECTOR = (8,)


def _yaml(text: str, option: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise UserError(f"{option}: not valid YAML/JSON: {e}") from None


def _env(text: str, option: str) -> EnvSpec:
    data = _yaml(text, option) if text.lstrip().startswith("{") else text
    try:
        spec = parse_dataclass(EnvSpec, data, option)
        check_env_spec(spec, option).close()
    except FieldError as e:
        raise UserError(str(e)) from None
    return spec


def _kwargs(text: str) -> dict[str, Any]:
    data = _yaml(text, "--encoder-kwargs")
    if not isinstance(data, dict):
        raise UserError(f"--encoder-kwargs: must be a mapping, got {text!r}")
    return data


def _encoder(name: str, option: str = "--encoder") -> Any:
    if name not in list_encoders():
        hint = did_you_mean(name, list_encoders())
        raise UserError(f"{option}: unknown encoder '{name}'{hint}; see `rltransfer encoders`")
    return get_entry(name)


def _weights(text: str, option: str = "--weights") -> str:
    """A weights spec; a file name must be an existing file."""
    if text not in ("none", "source") and not text.startswith("torchvision:"):
        existing_file(text, option)
    return text


def describe(name: str, taps: bool = False) -> dict[str, Any]:
    """An encoder's kind, groups and features size on a reference input."""
    entry = get_entry(name)
    shape = REFERENCE_IMAGE if entry.kind == "image" else REFERENCE_VECTOR
    enc = entry.build(shape)
    dims = FeatureReader(enc, list(enc.groups)).dims if enc.groups else []
    d = {
        "name": name,
        "kind": entry.kind,
        "input": list(shape),
        "features": enc.features_dim,
        "groups": dict(zip(enc.groups, dims, strict=True)),
        "params": sum(p.numel() for p in enc.parameters()),
        "weights": f"torchvision:<{name} weights enum>" if entry.torchvision else "file",
        "description": entry.description,
    }
    if taps:
        d["taps"] = tap_names(enc)
    return d


def cmd_encoders(args: argparse.Namespace) -> int:
    names = [_encoder(args.name, "name").name] if args.name else list_encoders()
    rows = [describe(n, args.taps) for n in names]
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        shape = "×".join(str(s) for s in r["input"])
        print(
            f"{r['name']:20s} {r['kind']:6s} features {r['features']} (on {shape})  "
            f"{r['description']}"
        )
        groups = ", ".join(f"{g} ({d})" for g, d in r["groups"].items()) or "none"
        print(f"    groups: {groups}")
        if args.taps:
            print(f"    taps: {', '.join(r['taps'])}")
    return 0


def cmd_pretrain(args: argparse.Namespace) -> int:
    from rltransfer.tools.pretrain import OBJECTIVES, run_pretrain

    envs = [_env(e, f"--env[{i}]") for i, e in enumerate(args.env)]
    entry = _encoder(args.encoder)
    if entry.kind != "image":
        raise UserError(f"--encoder: {entry.name} reads vectors; pretraining needs an image one")
    if not args.out.endswith(WEIGHT_SUFFIXES):
        raise UserError(f"--out: must end in {', '.join(WEIGHT_SUFFIXES)}, got {args.out}")
    output_file(args.out, "--out")
    _weights(args.weights)
    if args.agent is not None:
        existing_dir(args.agent, "--agent")
    objectives = [o.strip() for o in args.objectives.split(",") if o.strip()]
    bad = [o for o in objectives if o not in OBJECTIVES]
    if bad or not objectives:
        raise UserError(f"--objectives: choose among {', '.join(OBJECTIVES)}, got {bad}")

    def log(step: int, losses: dict[str, float]) -> None:
        if step == 1 or step % max(1, args.steps // 10) == 0 or step == args.steps:
            print(
                f"step {step}/{args.steps}: " + ", ".join(f"{k} {v:.4f}" for k, v in losses.items())
            )

    try:
        path = run_pretrain(
            envs,
            entry.name,
            args.out,
            frames=args.frames,
            weights=args.weights,
            encoder_kwargs=_kwargs(args.encoder_kwargs),
            log=log,
            seed=args.seed,
            agent=args.agent,
            steps=args.steps,
            batch_size=args.batch_size,
            objectives=objectives,
            lr=args.lr,
            device=args.device,
        )
    except (ValueError, WeightsError, TypeError) as e:
        raise UserError(f"pretrain: {e}") from None
    print(f"weights: {path} (use as policy.weights: {path})")
    return 0


def cmd_probe(args: argparse.Namespace) -> int:
    from rltransfer.tools.probe import images_from_env, images_from_folder, probe

    entry = _encoder(args.encoder)
    norms = [n.strip() for n in args.norms.split(",") if n.strip()]
    bad = [n for n in norms if n not in NORMS]
    if bad or not norms:
        raise UserError(f"--norms: choose among {', '.join(NORMS)}, got {bad}")
    _weights(args.weights)
    if args.source is not None:
        existing_file(args.source, "--source")
    if args.images:
        existing_dir(args.images, "--images")
    try:
        if args.images:
            images, labels, classes = images_from_folder(args.images, args.size)
        else:
            images, labels, classes = images_from_env(
                _env(args.env, "--env"), args.frames, args.label_key, args.seed
            )
        taps = [t.strip() for t in args.taps.split(",") if t.strip()]
        rows = probe(
            entry.name,
            images,
            labels,
            weights=args.weights,
            taps=taps,
            norms=norms,
            folds=args.folds,
            seed=args.seed,
            device=args.device,
            encoder_kwargs=_kwargs(args.encoder_kwargs),
            source=args.source,
        )
    except (ValueError, WeightsError, FileNotFoundError) as e:
        raise UserError(f"probe: {e}") from None
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    chance = float(np.bincount(labels).max() / len(labels))
    print(
        f"{len(labels)} images, {len(classes)} classes, {args.folds}-fold CV, "
        f"majority class {chance:.3f}"
    )
    print(f"{'layer':24s} {'norm':12s} {'dim':>6s}  accuracy")
    for r in rows:
        print(f"{r['tap']:24s} {r['norm']:12s} {r['dim']:6d}  {r['accuracy']:.3f} ± {r['std']:.3f}")
    return 0


COMMANDS = {"encoders": cmd_encoders, "pretrain": cmd_pretrain, "probe": cmd_probe}
