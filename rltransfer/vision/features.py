"""Reading features from an encoder: taps, global pooling, per-layer normalisation, concatenation.

Taps are layer groups (``stage3``), module paths (``trunk.layer3``) or graph nodes of
``torchvision.models.feature_extraction``; empty taps read the encoder's output. Each tap is
globally pooled to (B, C), normalised on its own, and the taps are concatenated in order.

Normalisations: ``none``; ``l2`` (unit length per tap); ``standardize`` (running mean/std of the
features on the run's own observations — the target's in a target run); ``discretize``
(standardise, then > 0.25 → 1, < −0.25 → −1, else 0: the full-network embedding of
Garcia-Gasulla et al. 2018).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from rltransfer.vision.encoder import Encoder

NORMS = ("none", "l2", "standardize", "discretize")
POOLS = ("avg", "max")
DISCRETE_THRESHOLD = 0.25


class FeatureNorm(nn.Module):
    """Normalises (B, D) features. ``standardize``/``discretize`` keep running statistics
    (buffers ``mean``, ``var``, ``count``) over at most ``max_count`` recent observations, so a
    run's statistics soon reflect its own observations even when loaded from another run."""

    def __init__(self, dim: int, mode: str, max_count: float = 10_000.0, eps: float = 1e-5):
        super().__init__()
        if mode not in NORMS:
            raise ValueError(f"norm must be one of {', '.join(NORMS)}, got {mode!r}")
        self.mode, self.max_count, self.eps = mode, max_count, eps
        if mode in ("standardize", "discretize"):
            self.register_buffer("mean", torch.zeros(dim))
            self.register_buffer("var", torch.ones(dim))
            self.register_buffer("count", torch.zeros(()))

    @property
    def stateful(self) -> bool:
        return self.mode in ("standardize", "discretize")

    @torch.no_grad()
    def update(self, x: torch.Tensor) -> None:
        """Merge the statistics of a batch (B, D) into the running ones (Chan et al.)."""
        if not self.stateful or x.shape[0] == 0:
            return
        x = x.detach().float()
        n = float(x.shape[0])
        mean, var = x.mean(0), x.var(0, unbiased=False)
        total = self.count + n
        delta = mean - self.mean
        self.mean += delta * n / total
        m2 = self.var * self.count + var * n + delta.pow(2) * self.count * n / total
        self.var.copy_(m2 / total)
        self.count.fill_(min(float(total), self.max_count))

    @torch.no_grad()
    def fit(self, x: torch.Tensor) -> None:
        """Set the statistics to those of ``x`` (B, D) exactly (supervised probes)."""
        if self.stateful:
            self.count.zero_()
            self.update(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, D) → (B, D)."""
        if self.mode == "l2":
            return x / x.norm(dim=1, keepdim=True).clamp_min(self.eps)
        if self.stateful:
            x = (x - self.mean) / (self.var + self.eps).sqrt()
        if self.mode == "discretize":
            return (x > DISCRETE_THRESHOLD).float() - (x < -DISCRETE_THRESHOLD).float()
        return x


class _Body(nn.Module):
    """The encoder without its autocast wrapper, for FX tracing; shares its modules."""

    def __init__(self, encoder: Encoder):
        super().__init__()
        self.prep, self.trunk, self.head = encoder.prep, encoder.trunk, encoder.head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.trunk(self.prep(x)))


def tap_names(encoder: Encoder) -> list[str]:
    """Every valid tap: group names, module paths and graph nodes."""
    from torchvision.models.feature_extraction import get_graph_node_names  # ~1 s: on use

    _, nodes = get_graph_node_names(_Body(encoder))
    modules = [n for n, _ in encoder.named_modules() if n.startswith(("trunk.", "head"))]
    return list(dict.fromkeys([*encoder.groups, *modules, *nodes]))


def pool(x: torch.Tensor, how: str = "avg") -> torch.Tensor:
    """Global pooling to (B, C): (B, C, H, W) over H, W; (B, N, C) tokens over N."""
    if x.dim() == 4:
        return x.amax(dim=(2, 3)) if how == "max" else x.mean(dim=(2, 3))
    if x.dim() == 3:
        return x.amax(dim=1) if how == "max" else x.mean(dim=1)
    return x.flatten(1)


class FeatureReader(nn.Module):
    """``forward(x)``: observations (B, *in_shape) → features (B, features_dim), the
    concatenation of the normalised, pooled taps. ``dims`` holds each tap's size."""

    def __init__(
        self, encoder: Encoder, taps: Sequence[str] = (), norm: str = "none", pool: str = "avg"
    ):
        super().__init__()
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {', '.join(POOLS)}, got {pool!r}")
        self.encoder = encoder
        self.taps = list(taps)
        self.pool_how = pool
        self.nodes = [encoder.outputs.get(t, t) for t in self.taps]
        extractor = None
        if self.taps:
            unknown = [t for t in self.taps if t not in tap_names(encoder)]
            if unknown:
                raise ValueError(f"unknown taps of {encoder.name}: {', '.join(unknown)}")
            from torchvision.models.feature_extraction import create_feature_extractor

            extractor = create_feature_extractor(
                _Body(encoder), return_nodes={n: str(i) for i, n in enumerate(self.nodes)}
            )
        # Not a registered submodule: it calls the encoder's own modules (no tensor of its own),
        # so the state dict holds each parameter once, under ``encoder.``.
        object.__setattr__(self, "extractor", extractor)
        self.dims = self._dry_run()
        self.norms = nn.ModuleList(FeatureNorm(d, norm) for d in self.dims)
        self.features_dim = sum(self.dims)

    def _dry_run(self) -> list[int]:
        modes = {m: m.training for m in self.encoder.modules()}  # e.g. frozen BatchNorm
        self.encoder.eval()
        with torch.no_grad():
            x = torch.zeros(2, *self.encoder.in_shape, device=_device(self.encoder))
            dims = [t.shape[1] for t in self.raw(x)]
        for m, training in modes.items():
            m.training = training
        return dims

    def raw(self, x: torch.Tensor) -> list[torch.Tensor]:
        """The pooled taps before normalisation, each (B, C_i), float32."""
        if self.extractor is None:
            return [self.encoder(x)]
        with self.encoder.amp(x.device):
            out = self.extractor(x)
        return [pool(out[str(i)], self.pool_how).float() for i in range(len(self.nodes))]

    def forward(self, x: torch.Tensor, update_stats: bool = False) -> torch.Tensor:
        """(B, *in_shape) → (B, features_dim); ``update_stats`` merges the batch into the
        running statistics of ``standardize``/``discretize`` first."""
        return self.normalise(self.raw(x), update_stats)

    def normalise(self, parts: list[torch.Tensor], update_stats: bool = False) -> torch.Tensor:
        """The raw taps (``raw``: each (B, C_i)) → (B, features_dim): each merged into its
        running statistics first when ``update_stats``, normalised, concatenated."""
        if len(parts) == 1 and self.norms[0].mode == "none":
            return parts[0]  # the common case (e.g. a plain MLP policy): no copy
        if update_stats:
            for norm, p in zip(self.norms, parts, strict=True):
                norm.update(p)
        return torch.cat([n(p) for n, p in zip(self.norms, parts, strict=True)], dim=1)


def _device(module: nn.Module) -> torch.device:
    p = next(module.parameters(), None)
    return p.device if p is not None else torch.device("cpu")
