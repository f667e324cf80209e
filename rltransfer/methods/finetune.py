"""Fine-tuning: load every source parameter whose name and shape match, then train everything."""

from __future__ import annotations

from typing import Any

import numpy as np
from stable_baselines3.common.vec_env import VecNormalize

from rltransfer.checkpoints import CheckpointInfo
from rltransfer.config.parse import FieldError
from rltransfer.methods.base import TransferContext, TransferMethod, register_method


def load_matching(model: Any, source_state: dict[str, Any]) -> tuple[list[str], dict[str, str]]:
    """Copy tensors of ``source_state`` into ``model.policy`` where name and shape match.

    Returns the loaded names and ``{name: reason}`` for the source tensors that were skipped.
    """
    target = model.policy.state_dict()
    loaded, skipped = [], {}
    for name, tensor in source_state.items():
        if name not in target:
            skipped[name] = "not in the target model"
        elif tuple(target[name].shape) != tuple(tensor.shape):
            skipped[name] = f"shape {tuple(tensor.shape)} != target {tuple(target[name].shape)}"
        else:
            target[name] = tensor
            loaded.append(name)
    model.policy.load_state_dict(target)
    return loaded, skipped


def reuse_obs_stats(env: Any, stats: dict[str, Any] | None) -> str:
    """Start the target's VecNormalize from the source's observation statistics, if both exist."""
    if not isinstance(env, VecNormalize):
        return "not used"
    if stats is None:
        return "re-estimated on the target (the source has no statistics)"
    env.obs_rms.mean = np.asarray(stats["mean"], dtype=np.float64)
    env.obs_rms.var = np.asarray(stats["var"], dtype=np.float64)
    env.obs_rms.count = float(stats["count"])
    return "source statistics reused, then updated on the target"


@register_method
class Finetune(TransferMethod):
    kind = "finetune"
    description = "load every source parameter whose name and shape match, then train everything"
    transfers = "parameters"

    @classmethod
    def check_compatible(cls, source: CheckpointInfo, target: CheckpointInfo, path: str) -> None:
        for what in ("observation_space", "action_space"):
            s, t = getattr(source, what), getattr(target, what)
            if s != t:
                raise FieldError(
                    path,
                    f"finetune needs the same {what.replace('_', ' ')} in source and target; "
                    f"source has {s}, target has {t}",
                )
        if source.algo != target.algo:
            raise FieldError(
                path,
                f"finetune needs the same algorithm; the source is {source.algo}, "
                f"the study uses {target.algo}",
            )

    def apply(self, ctx: TransferContext) -> dict[str, Any]:
        loaded, skipped = load_matching(ctx.model, ctx.source.policy_state())
        if not loaded:
            raise RuntimeError("finetune loaded no tensor: the source and target models share none")
        return {
            "transferred": "parameters",
            "loaded": loaded,
            "skipped": skipped,
            "trainable": "all",
            "reset": ["optimizer state", "learning-rate and exploration schedules"],
            "normalization": reuse_obs_stats(ctx.env, ctx.source.obs_stats()),
        }
