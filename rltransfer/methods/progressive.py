"""Progressive networks (Rusu et al. 2016): a frozen source column, a new column with lateral
adapters from it, fresh heads on the new column. Nothing of the source is forgotten by
construction: the source column's weights never change.

The source column is the source policy's actor path: its encoder's hidden layers
(``features_extractor.reader.encoder.trunk.layer<i>.0``, the ``mlp`` encoders) then its actor
hidden layers (``mlp_extractor.policy_net.<j>``), each followed by its activation. The critic
path of the source is not used. The new column has the same sizes; layer i ≥ 2 also reads the
source column's layer i−1 through a linear lateral adapter U_i (``rltransfer.methods.columns``
gives the exact form). The target's ``action_net``/``value_net`` read [h_L ; h^s_L]
(``output_lateral: true``, Rusu's lateral into the output layer) or h_L alone.

The target is built with ``net_arch: []`` (SB3's ``mlp_extractor`` is then the identity) and a
plain-flatten ``mlp`` encoder; the columns live in the features extractor, configured through
``BuildPlan.extractor["progressive"]`` so that a saved model rebuilds them. PPO and A2C on
vector observations (an honest subset: no image encoders, no DQN/SAC).
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass
from typing import Any

import torch

from rltransfer.agents import scaled_schedule
from rltransfer.checkpoints import CheckpointInfo
from rltransfer.config.parse import FieldError
from rltransfer.config.spec import PolicySpec
from rltransfer.methods.base import (
    BuildPlan,
    SourceArtifact,
    TransferContext,
    TransferMethod,
)
from rltransfer.methods.columns import ACTIVATIONS, ProgressiveColumns
from rltransfer.methods.normalization import transfer_obs_stats
from rltransfer.transfer_record import Normalization, ParameterCounts, TransferRecord

LATERAL_FORM = "h_1 = f(W_1 x + b_1); h_i = f(W_i h_{i-1} + b_i + U_i h^s_{i-1}), i = 2..L"
VECTOR_ENCODERS = {"mlp": None, "tiny_mlp": "relu"}
"""Encoders whose layers a column can hold → their fixed activation (None: ``activation``)."""
_ENCODER_LAYER = re.compile(r"^(?:pi_)?features_extractor\.reader\.encoder\.trunk\.layer(\d+)\.0\.")
_ACTOR_LAYER = re.compile(r"^mlp_extractor\.policy_net\.(\d+)\.")


@dataclass
class SourceLayer:
    name: str
    """The source's module path, e.g. ``mlp_extractor.policy_net.0``."""
    weight: torch.Tensor
    bias: torch.Tensor
    activation: str


def source_layers(
    state: dict[str, torch.Tensor], policy: PolicySpec, hyperparams: dict[str, Any]
) -> list[SourceLayer]:
    """The source's actor path, input → last hidden layer, from its policy state dict.
    ``ValueError`` when the source's encoder is not a plain ``mlp``/``tiny_mlp`` stack."""
    if (
        policy.encoder not in VECTOR_ENCODERS
        or policy.features.taps
        or policy.features.norm != "none"
    ):
        raise ValueError(
            f"progressive makes columns of the {', '.join(VECTOR_ENCODERS)} encoders without "
            f"feature taps or normalisation; the source uses '{policy.encoder}' "
            f"(features: {policy.features})"
        )
    encoder_act = VECTOR_ENCODERS.get(policy.encoder) or policy.encoder_kwargs.get(
        "activation", "tanh"
    )
    head_act = (hyperparams.get("policy_kwargs") or {}).get("activation_fn", "tanh")
    layers: list[SourceLayer] = []
    for pattern, act, fmt in (
        (_ENCODER_LAYER, encoder_act, "features_extractor.reader.encoder.trunk.layer{}.0"),
        (_ACTOR_LAYER, head_act, "mlp_extractor.policy_net.{}"),
    ):
        found = sorted({int(m.group(1)) for k in state if (m := pattern.match(k))})
        for i in found:
            name = fmt.format(i)
            if f"{name}.weight" not in state:
                name = "pi_" + name  # an actor-only extractor (share_features_extractor: false)
            layers.append(SourceLayer(name, state[f"{name}.weight"], state[f"{name}.bias"], act))
    return layers


def column_config(layers: list[SourceLayer], obs_dim: int, output_lateral: bool) -> dict:
    """The ``ProgressiveColumns`` config for ``layers``; ``ValueError`` when they do not chain
    from ``obs_dim`` inputs."""
    if not layers:
        raise ValueError("the source policy has no hidden layer to make a column of")
    sizes = [obs_dim]
    for layer in layers:
        d_out, d_in = layer.weight.shape
        if d_in != sizes[-1]:
            raise ValueError(
                f"source layer {layer.name} reads {d_in} inputs, the column gives it {sizes[-1]} "
                "(the target's observations must have the source's size)"
            )
        if layer.activation not in ACTIVATIONS:
            raise ValueError(f"activation {layer.activation!r} of {layer.name} is not supported")
        sizes.append(int(d_out))
    return {
        "sizes": sizes,
        "activations": [layer.activation for layer in layers],
        "output_lateral": output_lateral,
        "names": [layer.name for layer in layers],
    }


def columns_of(policy: torch.nn.Module) -> list[ProgressiveColumns]:
    """Every distinct ``ProgressiveColumns`` of ``policy`` (one per features extractor)."""
    seen: dict[int, ProgressiveColumns] = {}
    for m in policy.modules():
        if isinstance(m, ProgressiveColumns):
            seen.setdefault(id(m), m)
    return list(seen.values())


class Progressive(TransferMethod):
    """A frozen source column and a new column with lateral adapters (``ProgressiveOptions``)."""

    def check_compatible(self, source: CheckpointInfo, target: CheckpointInfo, path: str) -> None:
        s = source.observation_space
        if s.kind != "Dict" and s != target.observation_space:
            raise FieldError(
                path,
                f"progressive needs the source's observation space in the target; the source "
                f"has {s}, the target {target.observation_space}",
            )

    def configure(self, plan: BuildPlan, source: SourceArtifact | None) -> None:
        """Columns from the source's layers into the extractor config; flatten-only encoder,
        ``net_arch: []`` so the heads read the columns' features directly."""
        if self.options.lr is not None:
            plan.hyperparams["learning_rate"] = self.options.lr
        if self.options.lr_mult != 1.0:
            lr = plan.hyperparams.get("learning_rate")
            plan.hyperparams["learning_rate"] = scaled_schedule(lr, self.options.lr_mult, plan.algo)
        state = source.policy_state()
        layers = source_layers(state, source.policy or plan.policy, plan.hyperparams)
        shape = getattr(plan.observation_space, "shape", None)
        if shape is None or len(shape) != 1:
            raise ValueError(f"progressive supports vector observations, not {shape}")
        self._layers = layers
        plan.extractor["progressive"] = column_config(
            layers, int(shape[0]), self.options.output_lateral
        )
        plan.policy = dataclasses.replace(
            plan.policy,
            encoder="mlp",
            encoder_kwargs={},
            weights="none",
            groups={},
            cache=False,
            net_arch=[],
        )

    def apply(self, ctx: TransferContext) -> TransferRecord:
        policy = ctx.model.policy
        columns = columns_of(policy)
        if not columns:
            raise RuntimeError("the target model has no progressive columns (configure not run)")
        for c in columns:
            c.load_source([(layer.weight, layer.bias) for layer in self._layers])
        frozen = [n for n, p in policy.named_parameters() if not p.requires_grad]
        self._frozen = {n: p.detach().clone() for n, p in policy.named_parameters() if n in frozen}
        obs = transfer_obs_stats(
            ctx.env, ctx.source.obs_stats(), self.options.normalization, self.options.blend_count
        )
        c = columns[0]
        total = sum(p.numel() for p in policy.parameters())
        n_frozen = sum(p.numel() for p in policy.parameters() if not p.requires_grad)
        return TransferRecord(
            "parameters (frozen source column)",
            loaded=frozen,
            skipped={},
            frozen=frozen,
            reinitialised=[],
            parameters=ParameterCounts(
                total=int(total),
                loaded=int(n_frozen),
                frozen=int(n_frozen),
                reinitialised=0,
                more={"trained": int(total - n_frozen), **c.counts()},
            ),
            normalization=Normalization(self.options.normalization, vecnormalize=obs),
            details={
                "columns": {
                    "source": {"layers": c.config["names"], "sizes": c.sizes, "frozen": True},
                    "new": {"sizes": c.sizes, "activations": c.config["activations"]},
                    "copies": len(columns),
                },
                "laterals": [
                    {
                        "into": f"column.{i + 1}",
                        "from": f"source.{i}",
                        "shape": list(u.weight.shape),
                    }
                    for i, u in enumerate(c.laterals)
                ],
                "lateral_form": LATERAL_FORM,
                "output_lateral": c.output_lateral,
                "features_dim": c.features_dim,
                "lr": {"lr": self.options.lr, "lr_mult": self.options.lr_mult},
            },
        )

    def after_training(self, model: Any) -> dict[str, Any]:
        """Check that the source column is bitwise unchanged (raises otherwise)."""
        params = dict(model.policy.named_parameters())
        frozen = getattr(self, "_frozen", {})
        changed = [
            n for n, t in frozen.items() if not torch.equal(params[n].detach().cpu(), t.cpu())
        ]
        if changed:
            raise RuntimeError(f"the frozen source column changed: {', '.join(changed)}")
        return {"source_column_unchanged": len(frozen)}
