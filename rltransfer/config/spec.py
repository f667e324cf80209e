"""The study specification: typed dataclasses read from a study YAML file.

Every field documents its unit. ``rltransfer.config.load`` builds these from YAML and reports any
mistake with the file and the dotted field name.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

from rltransfer.config.parse import FieldError, join
from rltransfer.config.seeds import SequentialSpec


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


GROUP_MODES = ("freeze", "finetune", "reinit")
DEFAULT_CACHE_MEMORY_MB = 512.0
"""``policy.cache_memory_mb``'s default: the frozen-feature cache's store of distinct frames."""
BASELINE = "scratch"
"""The method every other one is compared with, always in a study."""
PAIRED = "paired"
"""``source.replicas``: one source agent per seed pair."""
WANDB_MODES = ("offline", "online", "disabled")
DEVICES = ("auto", "cpu", "cuda")
MAX_RETURN = 1e12
"""The largest return magnitude accepted for ``threshold`` and ``score_range``: the normalised
score divides by (high - low), and returns far beyond this lose their precision in float64."""


def return_problem(value: float) -> str | None:
    """Why ``value`` cannot be a return (a threshold, a score bound), or None."""
    if not math.isfinite(value) or abs(value) > MAX_RETURN:
        return (
            f"must be a return in [-{MAX_RETURN:g}, {MAX_RETURN:g}] (larger values overflow "
            f"the normalised scores), got {value:g}"
        )
    return None


def margin_problem(value: float) -> str | None:
    """Why ``value`` cannot be an ``equivalence_margin`` (normalised-area units), or None."""
    if isinstance(value, bool) or not (math.isfinite(value) and value > 0):
        return f"must be a finite number > 0 (in normalised-area units), got {value:g}"
    return None


@dataclass
class GroupSpec:
    """What training does to one layer group of the encoder.

    ``mode``: ``freeze`` (no gradient; BatchNorm kept in eval mode), ``finetune`` (train from the
    loaded weights) or ``reinit`` (fresh initialisation, then train). ``lr`` multiplies the
    policy's learning rate for this group (discriminative learning rates). ``unfreeze_at``: a
    frozen group starts training at this many env steps (progressive unfreezing).
    Shorthands: ``freeze``, ``finetune``, ``reinit``, ``{finetune: 0.1}``, ``{reinit: 0.5}``,
    ``{unfreeze_at: 20000, lr: 0.1}``.
    """

    mode: str = "finetune"
    lr: float = 1.0
    unfreeze_at: int | None = None

    @staticmethod
    def coerce(data: Any, path: str) -> Any:
        if isinstance(data, str):
            return {"mode": data}
        if isinstance(data, dict) and "mode" not in data:
            data = dict(data)
            for mode in ("finetune", "reinit"):
                if mode in data:
                    return {"mode": mode, "lr": data.pop(mode), **data}
            if "unfreeze_at" in data:
                return {"mode": "freeze", **data}
        return data

    def check(self, path: str) -> None:
        """Mode, LR multiplier and unfreezing step, wherever a group is set (``policy.groups``,
        a method's ``groups``); the budget bound is checked where the budget is known."""
        if self.mode not in GROUP_MODES:
            raise FieldError(
                join(path, "mode"), f"must be one of {', '.join(GROUP_MODES)}, got '{self.mode}'"
            )
        if self.lr <= 0:
            raise FieldError(join(path, "lr"), f"the LR multiplier must be > 0, got {self.lr}")
        if self.unfreeze_at is not None:
            if self.mode != "freeze":
                raise FieldError(
                    join(path, "unfreeze_at"),
                    f"only a frozen group can unfreeze, not '{self.mode}'",
                )
            if self.unfreeze_at < 0:
                raise FieldError(
                    join(path, "unfreeze_at"), f"must be >= 0 env steps, got {self.unfreeze_at}"
                )


@dataclass
class FeatureSpec:
    """Which encoder layers become the features, and how each is normalised.

    ``taps``: layer groups (``stage3``) or graph nodes (``net.layer3.1.relu_1``) whose outputs are
    globally pooled (``pool``: ``avg`` | ``max``), normalised one by one and concatenated; empty
    means the encoder's own output. ``norm``: ``none`` | ``l2`` | ``standardize`` (running
    mean/std on the run's own observations) | ``discretize`` (standardise, then > 0.25 → 1,
    < −0.25 → −1, else 0).
    """

    taps: list[str] = field(default_factory=list)
    norm: str = "none"
    pool: str = "avg"


@dataclass
class PreprocessSpec:
    """Overrides of the preprocessing recorded with the weights (a differing value warns).

    ``size``: resize observations to this (H, W) or square size; ``channels``: ``rgb`` | ``bgr``
    (the order the network expects; observations are RGB); ``scale``: the network's input value
    of a white pixel (1.0 → [0, 1], 255.0 → [0, 255]); ``mean``/``std``: per channel, applied
    after scaling."""

    size: int | list[int] | None = None
    channels: str | None = None
    scale: float | None = None
    mean: list[float] | None = None
    std: list[float] | None = None


@dataclass
class PolicySpec:
    """Policy architecture: the encoder (features extractor), its training, and the head sizes.

    ``encoder`` names an entry of the vision registry (``rltransfer encoders``), built with
    ``encoder_kwargs``; ``weights`` is ``none`` | ``torchvision:<ENUM>`` | a ``.pt`` /
    ``.safetensors`` file | ``source`` (the source agent's encoder, for transfer runs).
    ``groups`` maps layer-group names (or ``all``) to a ``GroupSpec``. ``cache``: encode each
    observation once, outside the policy, when every group is frozen (``None`` = automatically
    when possible). ``cache_memory_mb``: the memory (MB, 2**20 bytes) of the cache's
    content-addressed store, where each distinct frame's features are kept so a frame seen
    again is not encoded again (least recently used entries are evicted); 0 = no store, every
    frame is encoded. ``share_features_extractor``: one encoder for actor and critic (``None`` =
    the algorithm's default, written into the resolved study).
    ``net_arch`` is a list of hidden sizes shared by the heads, or ``{pi: [...], vf: [...]}``
    (``{pi, qf}`` for SAC); ``None`` keeps the algorithm's default.
    """

    encoder: str = "mlp"
    encoder_kwargs: dict[str, Any] = field(default_factory=dict)
    weights: str = "none"
    groups: dict[str, GroupSpec] = field(default_factory=dict)
    features: FeatureSpec = field(default_factory=FeatureSpec)
    preprocess: PreprocessSpec = field(default_factory=PreprocessSpec)
    cache: bool | None = None
    cache_memory_mb: float = DEFAULT_CACHE_MEMORY_MB
    share_features_extractor: bool | None = None
    net_arch: list[int] | dict[str, list[int]] | None = None


@dataclass
class SourceSpec:
    """Where the source knowledge comes from: train on ``env`` for ``timesteps`` env steps, or load
    an SB3 ``.zip`` from ``checkpoint``. ``seed`` seeds the source run. ``policy``: the source
    agent's architecture when it differs from the study's (e.g. a state source for a pixel
    target); ``None`` = the study's ``policy``. Teachers are rebuilt with it.

    ``envs`` (instead of ``env``): a multi-task source, one agent trained over these K ≥ 2 tasks
    (same observation and action spaces), ``timesteps`` env steps in total, split evenly over
    the tasks (``hyperparams.n_envs`` copies of each). It shares the encoder and hidden layers
    and keeps per-task output layers: ``heads`` = ``multi`` (one output layer per task, the
    default) or ``conditioned`` (one output layer reading [latent, one-hot task]). PPO or A2C."""

    env: EnvSpec | None = None
    timesteps: int | None = None
    checkpoint: str | list[str] | None = None
    seed: int = 1000
    policy: PolicySpec | None = None
    envs: list[EnvSpec] | None = None
    heads: str | None = None
    replicas: str | int = PAIRED
    """How many source agents: ``paired`` (the default: seed pair k transfers from its own
    source, trained with seed ``seed + k``), an integer N (N sources, ``seed + k`` for the first
    N seed ids k, shared round-robin by the pairs) or 1 (one shared source, trained with
    ``seed``: the verdict is then conditional on that one agent). A ``checkpoint`` list gives
    one replica per file (shared round-robin); a single checkpoint is one shared source."""

    def check(self, path: str) -> None:
        if isinstance(self.replicas, str) and self.replicas != PAIRED:
            raise FieldError(
                join(path, "replicas"), f"must be '{PAIRED}' or a count >= 1, got '{self.replicas}'"
            )
        if isinstance(self.replicas, int) and self.replicas < 1:
            raise FieldError(join(path, "replicas"), f"a count must be >= 1, got {self.replicas}")
        if isinstance(self.checkpoint, list):
            if not self.checkpoint:
                raise FieldError(join(path, "checkpoint"), "a list must hold at least one file")
            if self.replicas not in (PAIRED, len(self.checkpoint)):
                raise FieldError(
                    join(path, "replicas"),
                    f"{self.replicas} replicas, but 'checkpoint' lists {len(self.checkpoint)} "
                    "files (one replica each); leave 'replicas' out",
                )

    @property
    def checkpoints(self) -> list[str]:
        """The checkpoint files (one per replica); empty for a trained source."""
        if self.checkpoint is None:
            return []
        return [self.checkpoint] if isinstance(self.checkpoint, str) else list(self.checkpoint)

    def replica_count(self, n_seeds: int) -> int:
        """How many source agents serve ``n_seeds`` seed pairs (see ``replicas``)."""
        if self.checkpoint is not None:
            return len(self.checkpoints)
        return n_seeds if self.replicas == PAIRED else min(int(self.replicas), n_seeds)


@dataclass
class TargetSpec:
    """The task every method and the scratch baseline train on, for ``timesteps`` env steps."""

    env: EnvSpec
    timesteps: int


@dataclass
class MethodSpec:
    """One transfer method in the study: ``name`` labels its results, ``method`` is its kind.
    ``source``: this method's own source agent (same keys as the study's ``source``), e.g. a
    single-task source beside the study's multi-task one; ``None`` = the study's source."""

    name: str
    method: str
    options: dict[str, Any] = field(default_factory=dict)
    source: SourceSpec | None = None

    @staticmethod
    def coerce(data: Any, path: str) -> Any:
        """``finetune`` or ``{name: LABEL, method: KIND, ...options}`` → name, method, options."""
        if isinstance(data, str):
            return {"name": data, "method": data}
        if isinstance(data, dict) and "options" not in data:
            data = dict(data)
            name = data.pop("name", None)
            kind = data.pop("method", name)
            source = data.pop("source", None)
            own = {"source": source} if source is not None else {}
            name = name if name is not None else kind
            return {"name": name, "method": kind, "options": data, **own}
        return data


@dataclass
class EvalSpec:
    """Evaluation at t = 0 and every ``every`` target env steps, over ``episodes`` episodes."""

    every: int = 5000
    episodes: int = 10
    deterministic: bool = True
    on_source: bool = False
    """Also evaluate every target run (scratch too) on the source env, at the same grid points,
    with the same episodes and evaluation seed: the return on the source task over target
    training, which measures forgetting. Needs ``source.env`` (a checkpoint has no env)."""


@dataclass
class WandbSpec:
    """Weights & Biases settings. ``None`` means unset: the ``WANDB_*`` environment variable
    (``WANDB_MODE``, ``WANDB_PROJECT``, ``WANDB_ENTITY``, ``WANDB_DIR``) applies, else the
    default (``offline``, ``rltransfer``, no entity, the study folder). ``mode``: ``offline`` |
    ``online`` | ``disabled``. ``dir``: the folder W&B writes its ``wandb/`` folder under.
    Resolved by ``rltransfer.tracking.resolve.resolve_wandb``; never part of a run's id."""

    mode: str | None = None
    project: str | None = None
    entity: str | None = None
    dir: str | None = None


@dataclass
class TrackingSpec:
    wandb: WandbSpec = field(default_factory=WandbSpec)


@dataclass
class ExecutorSpec:
    """Where runs execute. ``workers``: runs at once (local), or the CPUs of a local Ray.

    Ray only: ``address`` (``auto`` or ``HOST:PORT`` joins a cluster; unset starts a local Ray),
    ``cpus_per_run`` and ``gpus_per_run`` (a fraction lets small runs share a GPU)."""

    kind: str = "local"
    workers: int = 1
    address: str | None = None
    cpus_per_run: float = 1.0
    gpus_per_run: float = 0.0


@dataclass
class ScoreRange:
    """Returns mapped to 0 and 1 by the normalised score (P − low) / (high − low).

    ``None`` keeps the default: ``low`` = scratch at t = 0 (an untrained policy), ``high`` = the
    threshold (else the highest return observed)."""

    low: float | None = None
    high: float | None = None


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
    score_range: ScoreRange = field(default_factory=ScoreRange)
    stop_on_negative: bool = False
    """Stop a transfer run when the negative-transfer alarm fires (it always warns)."""
    compare: list[list[str]] = field(default_factory=list)
    """Pairs ``[A, B]`` of method names to compare with each other in the report, by the verdict
    test with B in scratch's place (e.g. a multi-task source against a single one)."""
    tracking: TrackingSpec = field(default_factory=TrackingSpec)
    executor: ExecutorSpec = field(default_factory=ExecutorSpec)
    device: str = "auto"
    sequential: SequentialSpec | None = None
    """Set by ``seeds: {min, max, step}`` (``seeds`` then holds all ``max`` ids); None: fixed."""
    equivalence_margin: float | None = None
    """Normalised-area units (the verdict's per-seed area: the average normalised score over the
    compared budget, 0 untrained, 1 the target level). When set, an inconclusive verdict also
    says whether the method is equivalent to scratch within ± this margin (two one-sided Welch
    tests, each at alpha = 0.05) or how many seed pairs would show it. Never part of a run id."""

    def check(self, path: str) -> None:
        """The study's own range checks, run when parsed (``equivalence_margin`` > 0)."""
        if self.equivalence_margin is not None:
            problem = margin_problem(self.equivalence_margin)
            if problem:
                raise FieldError(join(path, "equivalence_margin"), problem)

    def to_dict(self) -> dict[str, Any]:
        """The resolved spec as plain data, in the study-file format."""
        d = asdict(self)
        d["methods"] = [
            {
                "name": m.name,
                "method": m.method,
                **m.options,
                **({"source": asdict(m.source)} if m.source is not None else {}),
            }
            for m in self.methods
        ]
        seq = d.pop("sequential")
        if seq is not None:  # written back as the study file gives it
            d["seeds"] = {**seq, "start": self.seeds[0]}
        return d
