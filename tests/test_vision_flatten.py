"""A plain vector policy's extractor is a flatten: the short path gives what the modules give."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import torch

from rltransfer.vision.sb3 import VisionExtractor


def _extractor(space: gym.Space, **config):
    base = {"encoder": "mlp", "encoder_kwargs": {}, "groups": {}, "features": {}}
    return VisionExtractor(space, {**base, **config})


def test_a_plain_mlp_extractor_takes_the_short_path_with_the_same_values_and_gradients():
    space = gym.spaces.Box(-1, 1, (3, 2), np.float32)
    ex = _extractor(space)
    assert ex._flatten_only
    x = torch.randn(5, 3, 2, requires_grad=True)
    short = ex(x)
    ex._flatten_only = False  # the module path it replaces
    x2 = x.detach().clone().requires_grad_(True)
    full = ex(x2)
    assert short.dtype == full.dtype == torch.float32 and torch.equal(short, full)
    short.sum().backward()
    full.sum().backward()
    assert torch.equal(x.grad, x2.grad)


def test_anything_more_than_a_flatten_keeps_the_module_path():
    space = gym.spaces.Box(-1, 1, (4,), np.float32)
    assert not _extractor(space, encoder_kwargs={"hidden": [8]})._flatten_only
    assert not _extractor(space, features={"norm": "l2"})._flatten_only
