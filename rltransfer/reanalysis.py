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
from rltransfer.analysis.source_tasks import source_tasks
from rltransfer.config.parse import FieldError, parse_value
from rltransfer.config.spec import StudySpec, margin_problem, return_problem
from rltransfer.errors import UserError
from rltransfer.run_meta import UNFINISHED, read_meta


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

    @classmethod
    def from_spec(cls, spec: StudySpec) -> AnalysisOptions:
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
        )

    @classmethod
    def from_folder(cls, root: Path) -> AnalysisOptions:
        """Read what ``root/study.yaml`` says, if it exists; the folder name names the study."""
        path = root / "study.yaml"
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
                seeds=_seed_ids(get("seeds", list[int] | int | None)),
                equivalence_margin=margin,
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


def _seed_ids(seeds: list[int] | int | None) -> list[int] | None:
    """A ``study.yaml``'s ``seeds``: a list of ids or a count N (ids 0..N-1)."""
    if isinstance(seeds, int):
        return list(range(seeds)) if 0 < seeds <= 100_000 else None
    return seeds or None


def trained_source_steps(root: Path, nominal: int | None) -> tuple[int | None, str | None]:
    """The source steps ``N_s`` to charge under total cost, and where the number came from.

    ``env_steps_trained`` of ``root/source/meta.json`` when that run finished and records it
    (what the source really trained: PPO rounds ``source.timesteps`` up to whole rollouts, e.g.
    50,176 for 50,000); otherwise ``nominal`` (``source.timesteps``), or ``(None, None)``.
    """
    meta = read_meta(root / "source")
    if meta is not None and meta.get("status") not in UNFINISHED:
        steps = meta.get("env_steps_trained")
        if isinstance(steps, int) and not isinstance(steps, bool) and steps >= 0:
            return steps, "env_steps_trained in the source run's meta.json"
    if nominal is None:
        return None, None
    return nominal, "source.timesteps (nominal: no finished source run records its steps)"


def analyse_study_dir(
    root: Path, options: AnalysisOptions, extra: dict[str, Any] | None = None
) -> tuple[dict[str, Any], dict[str, dict[int, Curve]], dict[str, Path]]:
    """Compute and write ``summary.json``, ``report.md`` and the plots from the curves alone.

    ``extra`` keys (e.g. ``failed_runs``) are added to the summary before it is written.
    """
    from rltransfer.analysis.summary import analyze
    from rltransfer.analysis.transfer_summary import add_transfer_summaries
    from rltransfer.report import write_report

    curves = load_study_curves(root, options.methods, options.seeds)
    source_steps, source_steps_from = trained_source_steps(root, options.source_steps)
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
    )
    add_transfer_summaries(summary, root)
    tasks = source_tasks(root)  # a multi-task source's per-task final returns
    if tasks is not None:
        summary["source_tasks"] = tasks
    summary.update(extra or {})
    try:
        paths = write_report(root, summary, curves)
    except OSError as e:  # e.g. report.md is a folder, or the folder is read-only
        where = e.filename2 or e.filename or root
        raise UserError(f"{where}: cannot write the report ({e.strerror})") from None
    return summary, curves, paths
