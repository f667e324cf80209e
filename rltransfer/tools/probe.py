"""Supervised linear probes: how well do an encoder's layers separate labelled images?

Labels come from an ImageFolder on disk (one sub-folder per class) or from environment states
(``info[label_key]`` at each step, e.g. "which cell is the agent in"). For each tap and each
normalisation, a multinomial logistic regression (torch, L-BFGS, L2 penalty) is fitted with
k-fold cross-validation; the report is the mean (and std) test accuracy over folds.
``standardize``/``discretize`` statistics are fitted on each training fold only.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
import torch.nn.functional as F

from rltransfer.config.spec import EnvSpec
from rltransfer.environments import make_env
from rltransfer.vision.encoder import image_shape
from rltransfer.vision.features import NORMS, FeatureNorm, FeatureReader
from rltransfer.vision.registry import create_encoder


def images_from_folder(root: str | Path, size: int = 64) -> tuple[np.ndarray, np.ndarray, list]:
    """An ImageFolder (``root/<class>/<image>``) as (N, 3, size, size) uint8, labels, classes."""
    from torchvision.datasets import ImageFolder
    from torchvision.transforms import v2

    tf = v2.Compose([v2.PILToTensor(), v2.Resize((size, size), antialias=True)])
    ds = ImageFolder(str(root), transform=tf)
    if len(ds) == 0:
        raise ValueError(f"{root}: no images found")
    if len(ds.classes) < 2:
        raise ValueError(
            f"{root}: one class folder ({ds.classes[0]}); the probe needs at least two classes, "
            "one sub-folder of images each"
        )
    images = []
    for i, (file, _) in enumerate(ds.samples):
        try:
            images.append(ds[i][0][:3])
        except OSError as e:  # PIL's UnidentifiedImageError too
            raise ValueError(f"{file}: not a readable image ({e})") from None
    return torch.stack(images).numpy().astype(np.uint8), np.asarray(ds.targets), ds.classes


def images_from_env(
    spec: EnvSpec, frames: int, label_key: str, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, list]:
    """``frames`` observations of a random policy, labelled by ``info[label_key]`` (or the
    attribute ``env.unwrapped.<label_key>``). Returns (N, C, H, W) uint8, labels, classes."""
    env = make_env(spec)
    transpose = image_shape(env.observation_space) != tuple(env.observation_space.shape)
    env.action_space.seed(seed)
    obs, info = env.reset(seed=seed)
    xs, ys = [], []
    for _ in range(frames):
        label = info.get(label_key, getattr(env.unwrapped, label_key, None))
        if label is None:
            raise ValueError(f"{spec.id} gives no '{label_key}' in info nor as an attribute")
        xs.append(obs.transpose(2, 0, 1) if transpose else obs)
        ys.append(label)
        obs, _, terminated, truncated, info = env.step(env.action_space.sample())
        if terminated or truncated:
            obs, info = env.reset()
    env.close()
    classes = sorted(set(ys))
    index = {c: i for i, c in enumerate(classes)}
    return np.stack(xs).astype(np.uint8), np.asarray([index[y] for y in ys]), classes


def fit_logistic(
    x: torch.Tensor, y: torch.Tensor, classes: int, l2: float = 1e-3, iters: int = 50
) -> torch.nn.Linear:
    """Multinomial logistic regression on (N, D) features, fitted with L-BFGS."""
    model = torch.nn.Linear(x.shape[1], classes)
    torch.nn.init.zeros_(model.weight)
    torch.nn.init.zeros_(model.bias)
    opt = torch.optim.LBFGS(model.parameters(), max_iter=iters, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = F.cross_entropy(model(x), y) + l2 * model.weight.pow(2).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return model


def kfold(n: int, folds: int, seed: int) -> list[np.ndarray]:
    order = np.random.default_rng(seed).permutation(n)
    return [order[i::folds] for i in range(folds)]


def cross_validate(
    parts: Sequence[torch.Tensor],
    y: np.ndarray,
    norm: str,
    folds: int = 5,
    seed: int = 0,
    l2: float = 1e-3,
) -> tuple[float, float]:
    """Mean and std of the test accuracy over ``folds`` folds. Each part (N, D_i) — one tap —
    is normalised on its own with ``norm`` (statistics from the training fold), then the parts
    are concatenated."""
    labels = torch.as_tensor(y, dtype=torch.long)
    classes = int(labels.max()) + 1
    accs = []
    for test in kfold(len(y), folds, seed):
        train = np.setdiff1d(np.arange(len(y)), test)
        fns = [FeatureNorm(p.shape[1], norm) for p in parts]
        for fn, p in zip(fns, parts, strict=True):
            fn.fit(p[train])
        x = torch.cat([fn(p) for fn, p in zip(fns, parts, strict=True)], dim=1)
        # rescale continuous features for the optimiser's sake (a linear model is invariant)
        scale = x[train].std(0).clamp_min(1e-6) if norm in ("none", "l2") else 1.0
        with torch.enable_grad():
            model = fit_logistic(x[train] / scale, labels[train], classes, l2)
        with torch.no_grad():
            accs.append(float((model(x[test] / scale).argmax(1) == labels[test]).float().mean()))
    return float(np.mean(accs)), float(np.std(accs))


@torch.no_grad()
def layer_features(
    reader: FeatureReader, images: np.ndarray, batch: int = 64, device: str = "cpu"
) -> list[torch.Tensor]:
    """Pooled features of each tap of ``reader`` for (N, C, H, W) uint8 images."""
    reader.to(device).eval()
    parts: list[list[torch.Tensor]] = []
    for i in range(0, len(images), batch):
        x = torch.as_tensor(images[i : i + batch], device=device).float() / 255
        parts.append([t.cpu() for t in reader.raw(x)])
    return [torch.cat(p) for p in zip(*parts, strict=True)]


def probe(
    encoder_name: str,
    images: np.ndarray,
    labels: np.ndarray,
    *,
    weights: str = "none",
    taps: Sequence[str] = (),
    norms: Sequence[str] = NORMS,
    folds: int = 5,
    seed: int = 0,
    device: str = "cpu",
    encoder_kwargs: dict[str, Any] | None = None,
    source: str | None = None,
) -> list[dict[str, Any]]:
    """Accuracy per layer and per normalisation: ``[{tap, norm, dim, accuracy, std}]``.

    ``taps`` default to every layer group; a row with tap ``all`` concatenates them."""
    if len(set(labels.tolist())) < 2:
        raise ValueError("the probe needs at least two classes")
    if folds < 2 or folds > len(labels):
        raise ValueError(f"folds must be in [2, {len(labels)}], got {folds}")
    torch.manual_seed(seed)
    space = gym.spaces.Box(0, 255, images.shape[1:], np.uint8)
    enc = create_encoder(encoder_name, space, weights, source=source, **(encoder_kwargs or {}))
    taps = list(taps) or list(enc.groups)
    reader = FeatureReader(enc, taps)
    per_tap = layer_features(reader, images, device=device)
    rows = []
    named = [(t, [f]) for t, f in zip(taps, per_tap, strict=True)]
    if len(named) > 1:
        named.append(("all", per_tap))
    for tap, parts in named:
        dim = sum(p.shape[1] for p in parts)
        for norm in norms:
            acc, std = cross_validate(parts, labels, norm, folds, seed)
            rows.append({"tap": tap, "norm": norm, "dim": dim, "accuracy": acc, "std": std})
    return rows
