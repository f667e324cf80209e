"""Attach a teacher-based method (``reuse``, ``kickstart``) to a model outside a study, as a
run does: parse its options, configure, apply, and optionally tell it the budget."""

from __future__ import annotations

from typing import Any

from rltransfer.config.spec import PolicySpec
from rltransfer.methods import METHODS, BuildPlan, SourceArtifact, TransferContext


def attach(
    kind: str,
    model: Any,
    source: SourceArtifact,
    policy: PolicySpec,
    budget: int | None = None,
    **options: Any,
) -> tuple[Any, dict[str, Any], list[tuple[int, dict[str, float]]]]:
    """Returns the method, its ``transfer`` record and the ``(t, metrics)`` it logged."""
    cls = METHODS[kind]
    method = cls(cls.parse_options(options, "options"))
    method.configure(BuildPlan("ppo", policy, {}), source)
    logged: list[tuple[int, dict[str, float]]] = []
    ctx = TransferContext(model, model.get_env(), source, log=lambda t, m: logged.append((t, m)))
    record = method.apply(ctx).to_json()
    if budget is not None:
        method.before_learning(ctx, budget, lambda t: True)
    return method, record, logged
