"""Progressive-network columns (Rusu et al. 2016) for vector observations.

``ProgressiveColumns`` maps observations x (B, d_0) to features for the policy's heads. It holds

* the **source column**: L linear layers with the source agent's weights (its encoder's hidden
  layers, then its actor path ``mlp_extractor.policy_net``), h^s_i = f_i(A_i h^s_{i-1} + c_i),
  h^s_0 = x. Frozen: ``requires_grad`` False, always in eval mode, run under ``no_grad``;
* the **new column**, with the same sizes d_1 … d_L, and **lateral adapters** U_2 … U_L
  (linear, no bias; U_i: d_{i-1} → d_i)::

      h_1 = f_1(W_1 x + b_1)
      h_i = f_i(W_i h_{i-1} + b_i + U_i h^s_{i-1})        i = 2 … L

* the features: [h_L ; h^s_L] (B, 2·d_L) with ``output_lateral`` (the heads, SB3's
  ``action_net``/``value_net``, are then the output layer's W_{L+1} h_L + U_{L+1} h^s_L, as in
  Rusu et al.), else h_L (B, d_L).

Config (plain data, saved with the model inside the extractor config under ``"progressive"``)::

    {"sizes": [4, 64, 64], "activations": ["tanh", "tanh"], "output_lateral": true,
     "names": ["mlp_extractor.policy_net.0", "mlp_extractor.policy_net.2"]}

``names``: the source layer of each source-column layer (for the records).

The columns are the ``columns`` extractor stage (``rltransfer.vision.stages``, place
``features``): importing this module registers it, and ``VisionExtractor`` then runs them on its
reader's features when its config has a ``"progressive"`` entry.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import torch
from torch import nn

from rltransfer.vision.stages import FEATURES, register_stage

ACTIVATIONS = {
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "elu": nn.ELU,
    "leaky_relu": nn.LeakyReLU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}


def _linears(sizes: list[int], bias: bool = True) -> nn.ModuleList:
    return nn.ModuleList(nn.Linear(a, b, bias=bias) for a, b in zip(sizes, sizes[1:], strict=False))


class ProgressiveColumns(nn.Module):
    """(B, d_0) observations → (B, features_dim) features; see the module docstring."""

    def __init__(self, config: dict[str, Any]):
        super().__init__()
        sizes = [int(s) for s in config["sizes"]]
        acts = list(config["activations"])
        if len(sizes) < 2 or len(acts) != len(sizes) - 1:
            raise ValueError(f"a column needs sizes [d_0, …, d_L] and L activations: {config}")
        unknown = [a for a in acts if a not in ACTIVATIONS]
        if unknown:
            raise ValueError(f"unknown activations {unknown}; available: {', '.join(ACTIVATIONS)}")
        self.config = dict(config)
        self.sizes = sizes
        self.output_lateral = bool(config.get("output_lateral", True))
        self.source = _linears(sizes)
        self.column = _linears(sizes)
        self.laterals = _linears(sizes[1:], bias=False)  # U_i: d_{i-1} → d_i, i = 2 … L
        self.acts = nn.ModuleList(ACTIVATIONS[a]() for a in acts)
        self.features_dim = sizes[-1] * (2 if self.output_lateral else 1)
        for p in self.source.parameters():
            p.requires_grad_(False)
        self.source.eval()

    def train(self, mode: bool = True) -> ProgressiveColumns:
        super().train(mode)
        self.source.eval()  # frozen: never in training mode
        return self

    def source_forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The source column's activations [h^s_1, …, h^s_L], each (B, d_i), without grad."""
        hs = []
        with torch.no_grad():
            h = x
            for layer, act in zip(self.source, self.acts, strict=True):
                h = act(layer(h))
                hs.append(h)
        return hs

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, d_0) → (B, features_dim)."""
        hs = self.source_forward(x)
        h = self.acts[0](self.column[0](x))
        for i in range(1, len(self.column)):
            h = self.acts[i](self.column[i](h) + self.laterals[i - 1](hs[i - 1]))
        return torch.cat([h, hs[-1]], dim=1) if self.output_lateral else h

    @torch.no_grad()
    def load_source(self, weights: list[tuple[torch.Tensor, torch.Tensor]]) -> None:
        """Copy the source's (weight (d_i, d_{i-1}), bias (d_i,)) of every layer, in order."""
        if len(weights) != len(self.source):
            raise ValueError(f"{len(weights)} source layers for a column of {len(self.source)}")
        for layer, (w, b) in zip(self.source, weights, strict=True):
            if layer.weight.shape != w.shape or layer.bias.shape != b.shape:
                raise ValueError(
                    f"source layer {tuple(w.shape)} does not fit the column's "
                    f"{tuple(layer.weight.shape)}"
                )
            layer.weight.copy_(w)
            layer.bias.copy_(b)

    def counts(self) -> dict[str, int]:
        """Scalars per part: the frozen source column, the new column, the laterals."""

        def n(m: nn.Module) -> int:
            return int(sum(p.numel() for p in m.parameters()))

        return {
            "source_column": n(self.source),
            "new_column": n(self.column),
            "laterals": n(self.laterals),
        }


@register_stage("columns", place=FEATURES, key="progressive")
def columns_stage(config: dict[str, Any], space: gym.Space) -> ProgressiveColumns | None:
    """The columns of an extractor config with a ``"progressive"`` entry (they read the flat
    observations the ``mlp`` encoder passes through)."""
    settings = config.get("progressive")
    return None if settings is None else ProgressiveColumns(settings)
