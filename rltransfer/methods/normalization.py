"""What happens to normalisation statistics when parameters move from source to target.

Two kinds of statistics shape what a transferred network sees: the VecNormalize observation
statistics of the training env (mean, var, count) and the encoder's running feature statistics
(``FeatureNorm`` buffers, features ``norm: standardize | discretize``). Each parameter method
states one mode for both, and the run records it:

* ``reuse``: start from the source's statistics with their full weight (their ``count``), then
  keep updating them on the target. A long-trained source's statistics move slowly.
* ``reestimate``: discard the source's statistics; estimate them on the target from scratch, as
  the scratch baseline does.
* ``blend``: start from the source's statistics but weigh them as ``blend_count`` observations.
  Running updates then give mean = (c·μ_source + n·μ_target) / (c + n) after n target
  observations, so the target's own statistics take over after about ``blend_count`` of them.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from rltransfer.transfer_record import StatsOutcome
from rltransfer.vision.features import FeatureNorm


def transfer_obs_stats(
    env: VecEnv, stats: dict[str, Any] | None, mode: str, blend_count: float
) -> StatsOutcome:
    """Set the target's VecNormalize observation statistics; return what was done."""
    if not isinstance(env, VecNormalize):
        return StatsOutcome("unused", "not used (no VecNormalize)")
    if mode == "reestimate":
        return StatsOutcome("reestimated", "re-estimated on the target")
    if stats is None:
        return StatsOutcome(
            "reestimated", "re-estimated on the target (the source has no statistics)"
        )
    mean = np.asarray(stats["mean"], dtype=np.float64)
    if mean.shape != env.obs_rms.mean.shape:
        return StatsOutcome(
            "reestimated",
            f"re-estimated on the target (source statistics have shape {mean.shape})",
        )
    env.obs_rms.mean = mean
    env.obs_rms.var = np.asarray(stats["var"], dtype=np.float64)
    count = float(stats["count"])
    if mode == "blend":
        env.obs_rms.count = min(count, blend_count)
        return StatsOutcome(
            "blended",
            f"source statistics weighted as {env.obs_rms.count:g} observations, then updated",
        )
    env.obs_rms.count = count
    return StatsOutcome(
        "reused", f"source statistics reused (weight {count:g} observations), then updated"
    )


def feature_norms(policy: torch.nn.Module) -> list[tuple[str, FeatureNorm]]:
    """The stateful feature normalisers of ``policy`` (module name, module)."""
    return [(n, m) for n, m in policy.named_modules() if isinstance(m, FeatureNorm) and m.stateful]


def transfer_feature_stats(
    policy: torch.nn.Module,
    loaded: set[str],
    fresh: dict[str, torch.Tensor],
    mode: str,
    blend_count: float,
) -> StatsOutcome:
    """Apply ``mode`` to the encoder's running feature statistics after loading.

    ``loaded``: the state-dict keys copied from the source; ``fresh``: the target's state
    before loading (what ``reestimate`` returns to)."""
    norms = feature_norms(policy)
    if not norms:
        return StatsOutcome("unused", "not used (no running feature statistics)")
    touched = [n for n, _ in norms if f"{n}.count" in loaded]
    if not touched:
        return StatsOutcome(
            "reestimated", "re-estimated on the target (the source has none that fit)"
        )
    with torch.no_grad():
        for name, norm in norms:
            if name not in touched:
                continue
            if mode == "reestimate":
                for b in ("mean", "var", "count"):
                    getattr(norm, b).copy_(fresh[f"{name}.{b}"])
            elif mode == "blend":
                norm.count.fill_(min(float(norm.count), blend_count))
    return {
        "reuse": StatsOutcome("reused", "source statistics reused, then updated"),
        "reestimate": StatsOutcome("reestimated", "re-estimated on the target"),
        "blend": StatsOutcome(
            "blended", f"source statistics weighted as at most {blend_count:g} observations"
        ),
    }[mode]
