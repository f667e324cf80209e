"""The encoder module every registry entry builds: preprocessing → trunk → optional head.

An ``Encoder`` maps observations (B, C, H, W) — floats in [0, 1], channel-first — or vectors
(B, D) to features (B, features_dim). It names its layer groups from input to output; each group
is a list of module paths (``trunk.layer1``) and together they cover every parameter.
"""

from __future__ import annotations

from contextlib import nullcontext
from typing import Any

import torch
from torch import nn

from rltransfer.vision.preprocess import Preprocess, PreprocessModule


class Encoder(nn.Module):
    """``forward(x)``: (B, *in_shape) → (B, features_dim).

    ``groups``: ordered ``{group: [module path, ...]}``; ``outputs``: ``{group: graph node}``
    whose output is the group's output (for feature taps). ``first_conv``: path of the
    convolution that reads the input channels (adapted when weights have another count).
    ``autocast``: bf16 on CUDA; ``channels_last``: NHWC weights (see ``optimize_layout``).
    """

    def __init__(
        self,
        name: str,
        trunk: nn.Module,
        head: nn.Module | None,
        *,
        in_shape: tuple[int, ...],
        groups: dict[str, list[str]],
        features_dim: int,
        image: bool,
        outputs: dict[str, str] | None = None,
        first_conv: str | None = None,
        autocast: bool = False,
        channels_last: bool = False,
        preprocess: Preprocess | None = None,
        kwargs: dict[str, Any] | None = None,
    ):
        super().__init__()
        self.name = name
        self.in_shape = tuple(in_shape)
        self.image = image
        self.trunk = trunk
        self.head = head if head is not None else nn.Identity()
        self.groups = {g: list(paths) for g, paths in groups.items()}
        self.outputs = dict(outputs or {g: paths[-1] for g, paths in groups.items()})
        self.features_dim = int(features_dim)
        self.first_conv = first_conv
        self.autocast = autocast
        self.channels_last = channels_last  # NHWC convolutions: faster on CPU and with bf16
        self.kwargs = dict(kwargs or {})
        self.preprocess = preprocess or Preprocess()
        self.prep: nn.Module = nn.Identity()
        self.set_preprocess(self.preprocess)

    def set_preprocess(self, p: Preprocess) -> None:
        """Apply ``p`` to inputs from now on (images only)."""
        self.preprocess = p
        if self.image:
            self.prep = PreprocessModule(p, self.in_shape[0])
            device = next(self.parameters(), torch.empty(0)).device
            self.prep.to(device)

    def optimize_layout(self) -> None:
        """Store the trunk's convolution weights channels-last (NHWC) when the encoder asks for
        it: faster on CPU and with bf16. Call after any initialisation that views the weights
        as plain contiguous tensors (SB3's orthogonal init)."""
        if self.channels_last:
            self.trunk.to(memory_format=torch.channels_last)

    def group_of(self, param_name: str) -> str | None:
        """The group holding parameter ``param_name`` (a name in ``named_parameters()``)."""
        for g, paths in self.groups.items():
            if any(param_name == p or param_name.startswith(p + ".") for p in paths):
                return g
        return None

    def group_modules(self, group: str) -> list[nn.Module]:
        return [self.get_submodule(p) for p in self.groups[group]]

    def group_parameters(self, group: str) -> list[nn.Parameter]:
        return [p for m in self.group_modules(group) for p in m.parameters()]

    def amp(self, device: torch.device) -> Any:
        """bf16 autocast on CUDA for encoders that allow it; a no-op elsewhere."""
        if self.autocast and device.type == "cuda":
            return torch.autocast("cuda", dtype=torch.bfloat16)
        return nullcontext()

    @property
    def flattens_only(self) -> bool:
        """Whether this encoder only flattens its input (``mlp`` without hidden layers): no
        tensor, no preprocessing, no head."""
        return (
            not self.image
            and not self.autocast
            and isinstance(self.prep, nn.Identity)
            and isinstance(self.head, nn.Identity)
            and all(
                isinstance(m, nn.Flatten) and (m.start_dim, m.end_dim) == (1, -1)
                for m in self.trunk.children()
            )
            and next(self.parameters(), None) is None
            and next(self.buffers(), None) is None
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, *in_shape) → (B, features_dim), float32."""
        with self.amp(x.device):
            y = self.head(self.trunk(self.prep(x)))
        return y.float()


def image_shape(space: Any) -> tuple[int, ...]:
    """The (C, H, W) an image encoder sees for ``space`` (channel-last spaces are transposed,
    as stable-baselines3 does), or the vector shape (D,) for 1-D spaces."""
    from stable_baselines3.common.preprocessing import is_image_space_channels_first

    shape = tuple(int(s) for s in space.shape)
    if len(shape) == 3 and not is_image_space_channels_first(space):
        return (shape[2], shape[0], shape[1])
    return shape


def reinit_module(module: nn.Module) -> None:
    """Fresh initialisation of every submodule that defines ``reset_parameters``."""
    for m in module.modules():
        if hasattr(m, "reset_parameters") and callable(m.reset_parameters):
            m.reset_parameters()
        if hasattr(m, "reset_running_stats"):
            m.reset_running_stats()
