"""What the policy-transfer methods (``reuse``, ``kickstart``) share: a base class that rebuilds
the teacher, learns the run's budget and logs; raw observations for the teacher; the space
checks; and reversible overrides of SB3 methods (``Patches``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

from rltransfer.checkpoints import CheckpointInfo
from rltransfer.config.parse import FieldError, join
from rltransfer.config.spec import PolicySpec
from rltransfer.methods.base import BuildPlan, SourceArtifact, TransferContext, TransferMethod
from rltransfer.methods.parameters import check_spaces_match
from rltransfer.methods.teacher import Teacher, load_teacher


def raw_observations(model: Any) -> np.ndarray:
    """The env's raw observations of the current step (``model._last_obs`` as the env yielded
    it): VecNormalize's ``get_original_obs()`` when the training env normalises."""
    normalize = model.get_vec_normalize_env()
    if normalize is not None:
        return np.asarray(normalize.get_original_obs())
    return np.asarray(model._last_obs)


def check_teacher_spaces(
    kind: str, source: CheckpointInfo, target: CheckpointInfo, path: str
) -> None:
    """The teacher acts in, or is queried on, the target env: same spaces, array observations."""
    why = "the teacher acts in the target env"
    check_spaces_match(kind, source, target, join(path, "method"), why)
    if source.observation_space.kind not in ("Box", "Discrete"):
        raise FieldError(
            join(path, "method"),
            f"{kind} supports Box or Discrete observations; the target has "
            f"{source.observation_space}",
        )


class Patches:
    """Instance attributes that override SB3 methods during training; ``undo`` removes them,
    so the class's own methods apply again."""

    def __init__(self) -> None:
        self._done: list[tuple[Any, str]] = []

    def set(self, obj: Any, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """Override ``obj.name`` with ``fn``; return the original (bound) method."""
        original = getattr(obj, name)
        setattr(obj, name, fn)
        self._done.append((obj, name))
        return original

    def set_on_model(self, model: Any, name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """``set`` on an SB3 model, keeping the override out of ``model.save``."""
        if "_excluded_save_params" not in vars(model):
            base = model._excluded_save_params
            self.set(
                model,
                "_excluded_save_params",
                lambda: [*base(), *(n for o, n in self._done if o is model)],
            )
        return self.set(model, name, fn)

    def undo(self) -> None:
        for obj, name in reversed(self._done):
            if name in vars(obj):
                delattr(obj, name)
        self._done.clear()


class _EndOfTraining(BaseCallback):
    def __init__(self, method: TeacherMethod):
        super().__init__()
        self.method = method

    def _on_step(self) -> bool:
        return True

    def _on_training_end(self) -> None:
        self.method.end_of_training()


class TeacherMethod(TransferMethod):
    """Base of the methods that query the source policy (the teacher) during training.

    ``configure`` remembers the study's policy (the teacher's default architecture); ``apply``
    rebuilds the teacher; ``before_learning`` learns the run's budget, which resolves the
    schedule (in a bare ``model.learn`` without it: ``learn``'s ``total_timesteps``)."""

    transfers = "policy"

    def __init__(self, options: Any):
        super().__init__(options)
        self._study_policy: PolicySpec | None = None
        self._hyperparams: dict[str, Any] = {}
        self._budget: int | None = None
        self._ctx: TransferContext | None = None
        self.patches = Patches()

    def configure(self, plan: BuildPlan, source: SourceArtifact | None) -> None:
        self._study_policy = plan.policy
        self._hyperparams = dict(plan.hyperparams)

    def before_learning(
        self, ctx: TransferContext, budget: int, advance: Callable[[int], bool]
    ) -> int:
        self._budget = int(budget)
        return 0

    def callbacks(self) -> list[BaseCallback]:
        return [_EndOfTraining(self)]

    def end_of_training(self) -> None:
        """Called when ``learn`` ends (the run's tracker still open): close the last window."""
        timeline = getattr(self, "timeline", None)
        if timeline is not None:
            timeline.flush()

    def budget(self, model: Any) -> int:
        return int(self._budget or getattr(model, "_total_timesteps", 0) or 1)

    def log(self, t: int, metrics: dict[str, float]) -> None:
        """``TransferContext.log`` as it is when called (it is connected after ``apply``)."""
        if self._ctx is not None:
            self._ctx.log(t, metrics)

    def load(self, ctx: TransferContext) -> Teacher:
        if ctx.source is None:
            raise RuntimeError(f"{self.kind} needs a source agent (the teacher)")
        self._ctx = ctx
        model = ctx.model
        return load_teacher(
            ctx.source,
            options=self.options.teacher,
            study_policy=self._study_policy or PolicySpec(),
            hyperparams=self._hyperparams,
            observation_space=model.observation_space,
            action_space=model.action_space,
            device=str(model.device),
        )

    def teacher_record(self, ctx: TransferContext, teacher: Teacher) -> dict[str, Any]:
        own = self.options.teacher.policy
        policy = own or self._study_policy or PolicySpec()
        return {
            "algo": teacher.algo,
            "checkpoint": str(ctx.source.model_path),
            "architecture": {
                "encoder": policy.encoder,
                "net_arch": policy.net_arch,
                "from": "the method's teacher.policy" if own else "the study's policy",
            },
            "observations": "raw, with the source's VecNormalize statistics (frozen)"
            if teacher.obs_stats is not None
            else "raw (no normalisation statistics with the source)",
            "temperature": teacher.temperature if teacher.algo == "dqn" else None,
        }
