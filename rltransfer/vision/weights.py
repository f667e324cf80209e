"""Encoder weights: where they come from, what preprocessing they expect, and loading by name.

Sources (``weights=``):

* ``none``: the encoder's random initialisation;
* ``torchvision:<ENUM>`` (``torchvision:ResNet18_Weights.IMAGENET1K_V1``): read only from the
  local torch hub cache, ``torch.hub.get_dir()/checkpoints/<file>``; nothing is downloaded;
* a ``.pt``/``.pth`` file (``torch.load(weights_only=True)``) or ``.safetensors`` file (needs the
  optional ``safetensors`` package), e.g. written by ``rltransfer pretrain``;
* ``source``: the encoder inside a stable-baselines3 checkpoint (its ``policy.pth`` only).

A weight file carries its preprocessing and provenance: inside the ``.pt`` (key ``rltransfer``),
in the safetensors metadata, or in a JSON sidecar ``<file>.json``.
"""

from __future__ import annotations

import json
import pickle
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch

from rltransfer.checkpoints import read_policy_state
from rltransfer.io import file_sha256
from rltransfer.vision.encoder import Encoder
from rltransfer.vision.preprocess import Preprocess, warn_mismatch

WEIGHT_SUFFIXES = (".pt", ".pth", ".safetensors")
_SB3_PREFIXES = tuple(f"{m}features_extractor.reader." for m in ("", "pi_", "actor.", "q_net."))


class WeightsError(Exception):
    """The weights cannot be read or do not fit the encoder; the message says why."""


@dataclass
class Weights:
    """Tensors keyed as in ``Encoder.state_dict()``, the preprocessing they expect (None when
    unrecorded), and where they come from."""

    state: dict[str, torch.Tensor]
    preprocess: Preprocess | None
    provenance: dict[str, Any] = field(default_factory=dict)


def torchvision_weight(spec: str, model_name: str | None) -> tuple[Any, Path]:
    """The weights enum named in ``torchvision:<ENUM>`` and its file in the hub cache."""
    from torchvision.models import get_model_weights, get_weight

    name = spec.partition(":")[2]
    if model_name is None:
        raise WeightsError("torchvision weights need a torchvision encoder") from None
    try:
        w = get_weight(name)
    except (ValueError, KeyError, AttributeError, TypeError):
        options = ", ".join(str(x) for x in get_model_weights(model_name))
        msg = f"unknown torchvision weights '{name}'; for {model_name}: {options}"
        raise WeightsError(msg) from None
    if not isinstance(w, get_model_weights(model_name)):
        options = ", ".join(str(x) for x in get_model_weights(model_name))
        raise WeightsError(f"'{name}' are not weights of {model_name}; use one of: {options}")
    filename = Path(urlparse(w.url).path).name
    return w, Path(torch.hub.get_dir()) / "checkpoints" / filename


def _torchvision(spec: str, model_name: str | None) -> Weights:
    w, path = torchvision_weight(spec, model_name)
    if not path.is_file():
        raise WeightsError(
            f"{spec} needs the file {path.name} in {path.parent} (the local torch hub cache); "
            "nothing is downloaded: copy the file there"
        )
    m = re.search(r"-([a-f0-9]+)\.", path.name)
    if m and not file_sha256(path).startswith(m.group(1)):
        warnings.warn(f"{path} does not match the hash in its name", UserWarning, stacklevel=2)
    state = _torch_load(path)
    t = w.transforms()
    pre = Preprocess(None, "rgb", 1.0, tuple(t.mean), tuple(t.std))
    meta = w.meta
    provenance = {
        "source": spec,
        "file": str(path),
        "url": w.url,
        "trained_size": list(getattr(t, "crop_size", [])),
        "dataset": "ImageNet-1K" if "IMAGENET1K" in spec else meta.get("_docs", "")[:80],
        "recipe": meta.get("recipe"),
    }
    return Weights({f"trunk.{k}": v for k, v in state.items()}, pre, provenance)


def _torch_load(path: Path) -> Any:
    """Tensors only (``weights_only=True``): a file that pickles other objects is refused, with
    our own advice (torch's own would be to unpickle it, which runs the file's code)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # any unreadable file is a user error here
        if isinstance(e, pickle.UnpicklingError) and "Unsupported global" in str(e):
            raise WeightsError(
                f"{path}: holds Python objects besides tensors; rltransfer reads tensors only "
                "(torch.load with weights_only=True), since unpickling objects would run code "
                "from the file. Convert it to a .safetensors "
                "file, or to a state dict of tensors saved with torch.save(model.state_dict(), "
                "path)"
            ) from None
        msg = f"{path}: not a file of tensors written by torch.save, or a damaged one"
        raise WeightsError(msg) from None


def read_weight_file(path: str | Path) -> Weights:
    """A ``.pt``/``.pth``/``.safetensors`` file with its metadata (inside or sidecar)."""
    path = Path(path).expanduser()
    if path.suffix not in WEIGHT_SUFFIXES:
        raise WeightsError(f"{path}: weight files end in {', '.join(WEIGHT_SUFFIXES)}") from None
    if not path.is_file():
        raise WeightsError(f"{path}: no such file") from None
    meta: dict[str, Any] | None = None
    if path.suffix == ".safetensors":
        try:
            from safetensors import safe_open
        except ImportError:
            msg = f"{path}: reading .safetensors needs `pip install safetensors`"
            raise WeightsError(msg) from None
        with safe_open(str(path), framework="pt") as f:
            state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118
            raw = (f.metadata() or {}).get("rltransfer")
        meta = json.loads(raw) if raw else None
    else:
        data = _torch_load(path)
        if isinstance(data, dict) and "state_dict" in data:
            state, meta = data["state_dict"], data.get("rltransfer")
        else:
            state = data
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(f"{path}: not a state dict of tensors") from None
    sidecar = path.with_name(path.name + ".json")
    if meta is None and sidecar.is_file():
        meta = json.loads(sidecar.read_text())
    meta = meta or {}
    provenance = {**meta.get("provenance", {}), "file": str(path)}
    return Weights(state, Preprocess.from_dict(meta.get("preprocess")), provenance)


def source_state(checkpoint: str | Path) -> Weights:
    """The encoder tensors inside a stable-baselines3 checkpoint (``policy.pth`` only)."""
    try:
        policy = read_policy_state(checkpoint)
    except Exception as e:
        raise WeightsError(f"{checkpoint}: cannot read the policy tensors ({e})") from None
    for prefix in _SB3_PREFIXES:
        p = prefix + "encoder."
        state = {k[len(p) :]: v for k, v in policy.items() if k.startswith(p)}
        if state:
            return Weights(
                state, None, {"source": "source", "checkpoint": str(checkpoint), "prefix": p}
            )
    raise WeightsError(
        f"{checkpoint}: the source agent's policy holds no encoder tensors (its encoder was "
        "cached outside the policy, or it has no vision encoder)"
    )


def load_weights(spec: str, entry: Any, source: str | Path | None = None) -> Weights | None:
    """Resolve a weights spec for registry ``entry``; None for ``none``."""
    if spec == "none":
        return None
    if spec.startswith("torchvision:"):
        return _torchvision(spec, entry.torchvision)
    if spec == "source":
        if source is None:
            raise WeightsError("'source' weights need the source agent's checkpoint") from None
        return source_state(source)
    return read_weight_file(spec)


def _adapt_channels(t: torch.Tensor, channels: int) -> torch.Tensor:
    """(O, C', k, k) → (O, channels, k, k): the mean filter repeated, rescaled to keep sums."""
    return t.mean(1, keepdim=True).repeat(1, channels, 1, 1) * (t.shape[1] / channels)


def effective_preprocess(
    default: Preprocess, weights: Weights | None, overrides: dict[str, Any], what: str
) -> Preprocess:
    """The recorded preprocessing (else ``default``) with ``overrides`` (``PreprocessSpec``
    fields) applied; a difference from the recorded one, or none recorded, warns."""
    overrides = {k: v for k, v in overrides.items() if v is not None}
    recorded = weights.preprocess if weights is not None else None
    used = (recorded or default).overridden(overrides)
    # an SB3 checkpoint records no preprocessing: the study's own applies, without a warning
    from_agent = weights is not None and weights.provenance.get("source") == "source"
    if weights is not None and not from_agent and (recorded is None or recorded != used):
        warn_mismatch(recorded, used, what)
    return used


def load_state(encoder: Encoder, weights: Weights) -> dict[str, Any]:
    """Load ``weights`` into ``encoder`` by name and shape (the input convolution is adapted to
    another channel count). Returns the loaded, adapted, skipped and missing tensor names."""
    report: dict[str, Any] = {"loaded": [], "adapted": [], "skipped": {}}
    own = encoder.state_dict()
    state = weights.state
    if not any(k in own for k in state) and any(f"trunk.{k}" in own for k in state):
        state = {f"trunk.{k}": v for k, v in state.items()}  # a bare backbone state dict
    new = dict(own)
    for k, v in state.items():
        if k not in own:
            report["skipped"][k] = "not in the encoder"
        elif own[k].shape == v.shape:
            new[k] = v
            report["loaded"].append(k)
        elif k == f"{encoder.first_conv}.weight" and own[k].shape[2:] == v.shape[2:]:
            new[k] = _adapt_channels(v, own[k].shape[1])
            report["adapted"].append(k)
        else:
            report["skipped"][k] = f"shape {tuple(v.shape)} != {tuple(own[k].shape)}"
    if not report["loaded"]:
        raise WeightsError(f"no tensor of the weights fits encoder '{encoder.name}'") from None
    encoder.load_state_dict(new)
    report["missing"] = sorted(set(own) - set(report["loaded"]) - set(report["adapted"]))
    report["provenance"] = weights.provenance
    return report


def apply_weights(
    encoder: Encoder, weights: Weights | None, overrides: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Set ``encoder``'s preprocessing (recorded + ``overrides``) and load ``weights``.

    Returns (and stores as ``encoder.weights_report``) what was loaded and the preprocessing.
    """
    report: dict[str, Any] = {"source": "none"}
    if encoder.image:
        pre = effective_preprocess(
            encoder.preprocess, weights, overrides or {}, f"encoder '{encoder.name}'"
        )
        encoder.set_preprocess(pre)
        report["preprocess"] = pre.to_dict()
    if weights is not None:
        report.update(load_state(encoder, weights))
        report["source"] = weights.provenance.get("source", "file")
    encoder.weights_report = report
    return report


def save_weights(
    path: str | Path, encoder: Encoder, provenance: dict[str, Any] | None = None
) -> Path:
    """Write ``encoder``'s tensors with its preprocessing and provenance (``.pt`` with the
    metadata inside, or ``.safetensors`` with it in the header) plus a JSON sidecar."""
    path = Path(path)
    meta = {
        "encoder": encoder.name,
        "encoder_kwargs": encoder.kwargs,
        "preprocess": encoder.preprocess.to_dict(),
        "provenance": provenance or {},
    }
    state = {k: v.detach().cpu().contiguous() for k, v in encoder.state_dict().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file(state, str(path), metadata={"rltransfer": json.dumps(meta)})
    elif path.suffix in (".pt", ".pth"):
        torch.save({"state_dict": state, "rltransfer": meta}, path)
    else:
        raise WeightsError(f"{path}: weight files end in {', '.join(WEIGHT_SUFFIXES)}") from None
    path.with_name(path.name + ".json").write_text(json.dumps(meta, indent=2) + "\n")
    return path
