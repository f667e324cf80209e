"""The extractor-stage registry: a package registers a stage, and the one extractor runs it."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
import torch
from torch import nn

from rltransfer.vision import stages
from rltransfer.vision.sb3 import VisionExtractor


class Doubled(nn.Module):
    """A FEATURES stage: features × ``factor``, with one more feature (their sum)."""

    def __init__(self, dim: int, factor: float):
        super().__init__()
        self.factor = factor
        self.features_dim = dim + 1

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = x * self.factor
        return torch.cat([y, y.sum(dim=1, keepdim=True)], dim=1)


@pytest.fixture
def doubled_stage():
    @stages.register_stage("doubled", place=stages.FEATURES, key="double")
    def build(config, space):
        factor = config.get("double")
        return None if factor is None else Doubled(int(space.shape[0]), float(factor))

    yield build
    del stages.STAGES["doubled"]


SPACE = gym.spaces.Box(-1.0, 1.0, (4,), np.float32)
CONFIG = {"encoder": "mlp", "encoder_kwargs": {"hidden": [8]}}


def test_a_registered_stage_runs_after_the_reader_only_when_its_config_asks(doubled_stage):
    torch.manual_seed(0)
    plain = VisionExtractor(SPACE, dict(CONFIG))
    torch.manual_seed(0)
    staged = VisionExtractor(SPACE, {**CONFIG, "double": 2.0})
    assert plain.doubled is None and isinstance(staged.doubled, Doubled)
    assert (plain.features_dim, staged.features_dim) == (8, 9)
    x = torch.rand(3, 4)
    base = plain(x)
    out = staged(x)
    torch.testing.assert_close(out[:, :8], 2 * base)
    torch.testing.assert_close(out[:, 8], 2 * base.sum(dim=1))


def test_a_config_entry_no_stage_reads_is_refused():
    with pytest.raises(ValueError, match="'double' that no registered stage reads"):
        VisionExtractor(SPACE, {**CONFIG, "double": 2.0})


@pytest.mark.parametrize(
    ("name", "place", "key", "message"),
    [
        ("reader", stages.FEATURES, None, "cannot name an extractor stage"),
        ("forward", stages.FEATURES, None, "cannot name an extractor stage"),
        ("later", "somewhere", None, "place must be one of"),
        ("mine", stages.INPUT, "encoder", "belongs to the encoder"),
        ("adapter", stages.INPUT, None, "already registered"),  # methods.adapt's
        ("other", stages.INPUT, "adapter", "already read by another stage"),
    ],
)
def test_bad_registrations_raise(name, place, key, message):
    import rltransfer.methods.adapt  # noqa: F401  (registers the 'adapter' stage)

    with pytest.raises(ValueError, match=message):
        stages.register_stage(name, place=place, key=key)(lambda config, space: None)
    assert name not in stages.STAGES or name == "adapter"
