"""The study specification: typed dataclasses read from a study YAML file.

Every field documents its unit. ``rltransfer.config.load`` builds these from YAML and reports any
mistake with the file and the dotted field name.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class WrapperSpec:
    """A Gymnasium wrapper: ``entry`` is ``module:Class`` or a name in ``gymnasium.wrappers``."""

    entry: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def coerce(data: Any, path: str) -> Any:
        return {"entry": data} if isinstance(data, str) else data


@dataclass
class EnvSpec:
    """A task: a registered Gymnasium id, ``module:Id`` or a ``module:Class`` entry point."""

    id: str
    kwargs: dict[str, Any] = field(default_factory=dict)
    wrappers: list[WrapperSpec] = field(default_factory=list)

    @staticmethod
    def coerce(data: Any, path: str) -> Any:
        return {"id": data} if isinstance(data, str) else data


@dataclass
class PolicySpec:
    """Policy architecture: the encoder (features extractor) and the head sizes.

    ``net_arch`` is a list of hidden sizes shared by the heads, or ``{pi: [...], vf: [...]}``
    (``{pi, qf}`` for SAC); ``None`` keeps the algorithm's default.
    """

    encoder: str = "mlp"
    net_arch: list[int] | dict[str, list[int]] | None = None


@dataclass
class SourceSpec:
    """Where the source knowledge comes from: train on ``env`` for ``timesteps`` env steps, or load
    an SB3 ``.zip`` from ``checkpoint``. ``seed`` seeds the source run."""

    env: EnvSpec | None = None
    timesteps: int | None = None
    checkpoint: str | None = None
    seed: int = 1000


@dataclass
class TargetSpec:
    """The task every method and the scratch baseline train on, for ``timesteps`` env steps."""

    env: EnvSpec
    timesteps: int


@dataclass
class MethodSpec:
    """One transfer method in the study: ``name`` labels its results, ``method`` is its kind."""

    name: str
    method: str
    options: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def coerce(data: Any, path: str) -> Any:
        """``finetune`` or ``{name: LABEL, method: KIND, ...options}`` → name, method, options."""
        if isinstance(data, str):
            return {"name": data, "method": data}
        if isinstance(data, dict) and "options" not in data:
            data = dict(data)
            name = data.pop("name", None)
            kind = data.pop("method", name)
            return {"name": name if name is not None else kind, "method": kind, "options": data}
        return data


@dataclass
class EvalSpec:
    """Evaluation at t = 0 and every ``every`` target env steps, over ``episodes`` episodes."""

    every: int = 5000
    episodes: int = 10
    deterministic: bool = True


@dataclass
class WandbSpec:
    mode: str = "offline"
    project: str = "rltransfer"
    entity: str | None = None


@dataclass
class TrackingSpec:
    wandb: WandbSpec = field(default_factory=WandbSpec)


@dataclass
class ExecutorSpec:
    kind: str = "local"
    workers: int = 1


@dataclass
class StudySpec:
    """A transfer-vs-scratch study. ``seeds`` holds the seed ids; seed k pairs across methods."""

    name: str
    algo: str
    source: SourceSpec
    target: TargetSpec
    hyperparams: dict[str, Any] = field(default_factory=dict)
    policy: PolicySpec = field(default_factory=PolicySpec)
    methods: list[MethodSpec] = field(default_factory=list)
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2, 3, 4])
    eval: EvalSpec = field(default_factory=EvalSpec)
    threshold: float | None = None
    tracking: TrackingSpec = field(default_factory=TrackingSpec)
    executor: ExecutorSpec = field(default_factory=ExecutorSpec)
    device: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        """The resolved spec as plain data, in the study-file format."""
        d = asdict(self)
        d["methods"] = [{"name": m.name, "method": m.method, **m.options} for m in self.methods]
        return d
