"""Analyse a study folder from its curves alone: after a study, or for curves from other tools.

A folder needs ``target/<method>/seed_<k>/curve.csv`` files (one method being ``scratch``). An
optional ``study.yaml`` supplies ``name``, ``threshold``, ``score_range: {low, high}`` and
``source.timesteps`` (the source's cost, for the total-cost accounting) and
``equivalence_margin`` (TOST for inconclusive verdicts); any other key is ignored.
The cost charged is what the source really trained, ``env_steps_trained`` in
``source/meta.json``, when a finished source run records it (:func:`trained_source_steps`).
Curves with the source columns (``eval.on_source``) add forgetting; runs' ``meta.json`` files, when
present, add what each method transferred.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rltransfer.analysis.curves import Curve, load_study_curves
from rltransfer.analysis.looks import LookPlan, method_looks
from rltransfer.analysis.sequential import DEFAULT_SPENDING, nominal_alphas
from rltransfer.analysis.source_summary import source_summary
from rltransfer.analysis.source_tasks import source_tasks
from rltransfer.analysis.summary import analyze
from rltransfer.analysis.transfer_summary import add_transfer_summaries
from rltransfer.analysis.verdict import ALPHA
from rltransfer.config.parse import FieldError, parse_dataclass, parse_value
from rltransfer.config.replicas import pair_replicas, replicas
from rltransfer.config.seeds import SeedsSpec, SequentialSpec
from rltransfer.config.spec import (
    PAIRED,
    SourceSpec,
    StudySpec,
    margin_problem,
    return_problem,
)
from rltransfer.errors import UserError
from rltransfer.layout import (
    META_FILE,
    SOURCE_DIR,
    UNFINISHED,
    read_meta,
    source_dir,
    source_folder,
    study_file,
)
from rltransfer.methods.catalog import CATALOG
from rltransfer.report import write_report

BASELINE = "scratch"


@dataclass(frozen=True)
class AnalysisOptions:
    study: str
    threshold: float | None = None
    low: float | None = None
    high: float | None = None
    source_steps: int | None = None
    compare: list[list[str]] = field(default_factory=list)
    methods: list[str] | None = None
    """The study's method names; None: every method folder (curves from another tool)."""
    seeds: list[int] | None = None
    """The study's seed ids; None: every seed folder."""
    equivalence_margin: float | None = None
    """Normalised-area margin of the equivalence test (TOST) of inconclusive verdicts; None: no
    equivalence test."""
    groups: dict[str, dict[int, str]] | None = None
    """``{method: {seed: source key}}``: the source agent each pair transferred from
    (``rltransfer.config.replicas``); None: unknown (every pair independent)."""
    source_keys: list[str] = field(default_factory=lambda: [SOURCE_DIR])
    """The study source's replica folders, whose trained steps the total cost charges."""
    sequential: SequentialSpec | None = None
    """Sequential seeding (``seeds: {min, max, step}``): the looks are replayed."""

    @classmethod
    def from_spec(cls, spec: StudySpec) -> AnalysisOptions:
        entries = [(m.name, m.method, m.source) for m in spec.methods]
        return cls(
            spec.name,
            spec.threshold,
            spec.score_range.low,
            spec.score_range.high,
            spec.source.timesteps,
            [list(p) for p in spec.compare],
            [m.name for m in spec.methods],
            list(spec.seeds),
            equivalence_margin=spec.equivalence_margin,
            groups=_groups(spec.source, entries, list(spec.seeds)),
            source_keys=[r.key for r in replicas(spec.source, source_folder(), list(spec.seeds))],
            sequential=spec.sequential,
        )

    def look_plan(self) -> LookPlan | None:
        """The sequential design with each look's boundary, or None for a fixed design."""
        if self.sequential is None or self.seeds is None:
            return None
        looks = self.sequential.looks
        bounds = nominal_alphas(looks, ALPHA, DEFAULT_SPENDING)
        return LookPlan(list(self.seeds), looks, tuple(bounds), DEFAULT_SPENDING, ALPHA)

    @classmethod
    def from_folder(cls, root: Path) -> AnalysisOptions:
        """Read what ``root/study.yaml`` says, if it exists; the folder name names the study."""
        path = study_file(root)
        if not path.exists():
            return cls(root.resolve().name)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except yaml.YAMLError as e:
            raise UserError(f"{path}: not valid YAML: {e}") from None
        except UnicodeDecodeError:
            raise UserError(f"{path}: not a text YAML file (binary content)") from None
        except OSError as e:
            raise UserError(f"{path}: cannot read ({e.strerror})") from None
        if not isinstance(data, dict):
            raise UserError(f"{path}: must be a mapping")

        def get(dotted: str, tp: Any) -> Any:
            node: Any = data
            for key in dotted.split("."):
                node = node.get(key) if isinstance(node, dict) else None
            return parse_value(tp, node, dotted)

        try:
            seeds, sequential = _seeds(data.get("seeds"))
            source = _source_of(data.get("source"), "source") or SourceSpec()
            # No source.replicas: written before replicated sources (one shared source run in
            # source/), or curves from another tool, whose sources are unknown
            legacy = not isinstance(data.get("source"), dict) or "replicas" not in data["source"]
            unknown = False
            if legacy and source.checkpoint is None:
                if (source_dir(root) / META_FILE).is_file():
                    source.replicas = 1
                else:
                    unknown = True
            entries = [
                (name, kind, _source_of(e.get("source"), f"methods[{i}].source"))
                if isinstance(e, dict)
                else (name, kind, None)
                for i, (e, name, kind) in enumerate(_method_entries(data.get("methods")))
            ]
            for key in ("threshold", "score_range.low", "score_range.high"):
                value = get(key, float | None)
                if value is not None and return_problem(value):
                    raise FieldError(key, return_problem(value) or "")
            margin = get("equivalence_margin", float | None)
            if margin is not None and margin_problem(margin):
                raise FieldError("equivalence_margin", margin_problem(margin) or "")
            return cls(
                study=get("name", str | None) or root.resolve().name,
                threshold=get("threshold", float | None),
                low=get("score_range.low", float | None),
                high=get("score_range.high", float | None),
                source_steps=get("source.timesteps", int | None),
                compare=get("compare", list[list[str]] | None) or [],
                methods=_method_names(data.get("methods")),
                seeds=seeds,
                equivalence_margin=margin,
                groups=_groups(source, entries, seeds) if seeds and not unknown else None,
                source_keys=[r.key for r in replicas(source, source_folder(), seeds or [0])],
                sequential=sequential,
            )
        except FieldError as e:
            raise UserError(f"{path}: {e}") from None


def _method_names(entries: Any) -> list[str] | None:
    """Method names of a ``study.yaml``'s ``methods`` (names or ``{name, method}`` mappings,
    with ``scratch`` always in); None when it lists none."""
    if not isinstance(entries, list) or not entries:
        return None
    names = [
        e if isinstance(e, str) else e.get("name") or e.get("method")
        for e in entries
        if isinstance(e, str | dict)
    ]
    return list(dict.fromkeys(["scratch", *(n for n in names if isinstance(n, str))]))


def _method_entries(entries: Any) -> list[tuple[Any, str, str]]:
    """``(entry, name, kind)`` of each named entry of a ``study.yaml``'s ``methods``."""
    out = []
    for e in entries if isinstance(entries, list) else []:
        if isinstance(e, str):
            out.append((e, e, e))
        elif isinstance(e, dict) and isinstance(e.get("name") or e.get("method"), str):
            name = e.get("name") or e.get("method")
            out.append((e, name, e.get("method") or name))
    return out


def _seeds(seeds: Any) -> tuple[list[int] | None, SequentialSpec | None]:
    """A ``study.yaml``'s ``seeds`` (a list of ids, a count N for ids 0..N-1, or a mapping
    ``{min, max, step, start}`` / ``{count, start}``): the ids, and sequential seeding's looks."""
    if isinstance(seeds, dict):
        spec = parse_dataclass(SeedsSpec, seeds, "seeds")
        return spec.ids, spec.sequential
    seeds = parse_value(list[int] | int | None, seeds, "seeds")
    if isinstance(seeds, int):
        return (list(range(seeds)) if 0 < seeds <= 100_000 else None), None
    return seeds or None, None


def _source_of(data: Any, path: str) -> SourceSpec | None:
    """The keys of a ``source`` mapping that say which agent each pair used (None: no mapping,
    e.g. a method without its own source)."""
    if not isinstance(data, dict):
        return None
    return SourceSpec(
        checkpoint=parse_value(
            str | list[str] | None, data.get("checkpoint"), f"{path}.checkpoint"
        ),
        replicas=parse_value(str | int | None, data.get("replicas"), f"{path}.replicas") or PAIRED,
    )


def _groups(
    source: SourceSpec, entries: list[tuple[str, str, SourceSpec | None]], seeds: list[int]
) -> dict[str, dict[int, str]]:
    """``{method: {seed: source key}}`` for the methods that transfer from a source agent."""
    out = {}
    for name, kind, own in entries:
        entry = CATALOG.get(kind)
        if entry is not None and not entry.needs_source:  # scratch
            continue
        folder = source_folder(None if own is None else name)
        by_seed = pair_replicas(own or source, folder, seeds)
        out[name] = {s: r.key for s, r in by_seed.items()}
    return out


def trained_source_steps(
    root: Path, nominal: int | None, keys: list[str] | None = None
) -> tuple[int | None, str | None]:
    """The source steps ``N_s`` to charge under total cost, and where the number came from.

    ``env_steps_trained`` of each replica's ``meta.json`` (``keys``: folders under ``root``,
    default ``source``) when its run finished and records it (what the source really trained:
    PPO rounds ``source.timesteps`` up to whole rollouts, e.g. 50,176 for 50,000); replicas
    train alike, and when they differ the largest is charged (and said). Otherwise ``nominal``
    (``source.timesteps``), or ``(None, None)``.
    """
    found = []
    for key in keys or [SOURCE_DIR]:
        meta = read_meta(source_dir(root, key))
        if meta is not None and meta.get("status") not in UNFINISHED:
            steps = meta.get("env_steps_trained")
            if isinstance(steps, int) and not isinstance(steps, bool) and steps >= 0:
                found.append(steps)
    if found:
        where = f"the source run's {META_FILE}"
        if len(found) > 1:
            where = f"{len(found)} source runs' {META_FILE}"
        if min(found) != max(found):
            return max(found), (
                f"env_steps_trained in {where}; they range from {min(found):,} to {max(found):,}, "
                "and the largest is charged to every pair"
            )
        return found[0], f"env_steps_trained in {where}"
    if nominal is None:
        return None, None
    return nominal, "source.timesteps (nominal: no finished source run records its steps)"


def decided_methods(
    root: Path, options: AnalysisOptions, methods: list[str]
) -> dict[str, dict[str, Any]]:
    """``{method: its deciding look}`` for the ``methods`` whose sequential looks, replayed from
    the curves in ``root`` now, reached a positive or negative verdict (the same replay as the
    report's, :func:`rltransfer.analysis.looks.method_looks`)."""
    plan = options.look_plan()
    if plan is None:
        return {}
    curves = load_study_curves(root, options.methods, options.seeds)
    if BASELINE not in curves:
        return {}
    out = {}
    for m in methods:
        if m not in curves:
            continue
        looks = method_looks(curves, m, BASELINE, plan, (options.groups or {}).get(m))
        if looks and looks[-1]["decision"] != "inconclusive":
            out[m] = looks[-1]
    return out


def analyse_study_dir(
    root: Path, options: AnalysisOptions, extra: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, dict[int, Curve]], dict[str, Path]]:
    """Compute and write ``summary.json``, ``report.md`` and the plots from the curves alone.

    ``extra`` keys (e.g. ``failed_runs``) are added to the summary before it is written.
    """
    curves = load_study_curves(root, options.methods, options.seeds)
    source_steps, source_steps_from = trained_source_steps(
        root, options.source_steps, options.source_keys
    )
    summary = analyze(
        curves,
        study=options.study,
        threshold=options.threshold,
        low=options.low,
        high=options.high,
        source_steps=source_steps,
        source_steps_from=source_steps_from,
        compare=options.compare,
        equivalence_margin=options.equivalence_margin,
        groups=options.groups,
        look_plan=options.look_plan(),
    )
    add_transfer_summaries(summary, root)
    tasks = source_tasks(root)  # a multi-task source's per-task final returns
    if tasks is not None:
        summary["source_tasks"] = tasks
    summary.update(extra or {})
    summary["sources"] = source_summary(root, summary)  # per source: zero-shot and area gains
    try:
        paths = write_report(root, summary, curves)
    except OSError as e:  # e.g. report.md is a folder, or the folder is read-only
        where = e.filename2 or e.filename or root
        raise UserError(f"{where}: cannot write the report ({e.strerror})") from None
    return summary, curves, paths
