"""Scoring step: predictions -> metrics.json (the docs/DESIGN.md contract), with provenance.

No torch and no model here: `qa-eval score` runs on any machine.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Mapping, Sequence

from qa_eval import __version__, registry
from qa_eval.errors import ScorerError
from qa_eval.provenance import git_sha
from qa_eval.records import Prediction, SourceMetrics
from qa_eval.scoring.base import where
from qa_eval.task import TaskSpec


@dataclass(frozen=True)
class Scored:
    """The result of scoring: metrics per source, and which scorer with which options made them."""

    per_source: dict[str, SourceMetrics]
    scorer: Any
    options: Mapping[str, Any]


def score_predictions(
    task: TaskSpec, predictions: Sequence[Prediction], seed: int = 0, bootstrap: bool = True,
    scorer_name: str | None = None, options: Mapping[str, Any] | None = None, warn_unknown: bool = True,
) -> Scored:
    """Per-source metrics with the task's scorer (or `scorer_name`), the task's scorer options
    updated by `options`. Sources are reported as the task spells them (_check_references);
    `warn_unknown=False` when the caller has already warned about those that match none."""
    scorer = registry.load("scorer", scorer_name or task.scorer)
    used = scorer.resolve_options({**dict(task.scorer_options), **dict(options or {})})
    predictions = _check_references(task, predictions, warn_unknown)
    per_source = scorer.score(predictions, seed=seed, bootstrap=bootstrap, **used)
    return Scored(per_source, scorer, used)


def _check_references(task: TaskSpec, predictions: Sequence[Prediction], warn: bool = True) -> list[Prediction]:
    """The predictions with their sources as the task declares them (TaskSpec.source_names):
    ScorerError when the references show a file of another task (TaskSpec.check_references),
    a warning for sources that match none (scored as their own rows)."""
    task.check_references(((p.source, where(p), p.reference) for p in predictions), "predictions", ScorerError)
    names = task.source_names((p.source for p in predictions), "predictions", warn=warn)
    return [p if names[p.source] == p.source else replace(p, source=names[p.source]) for p in predictions]


def metrics_document(task: TaskSpec, model: str, scored: Scored, meta: dict[str, Any]) -> dict[str, Any]:
    """The metrics.json object. `meta.libraries` lists the versions of the libraries that shaped
    the predictions (the run's) and the scores (the scorer's)."""
    libraries = {**dict(meta.get("libraries") or {}), **dict(scored.scorer.info().get("libraries") or {})}
    return {
        "task": task.name,
        "model": model,
        "scorer": {"name": scored.scorer.name, "version": scored.scorer.version,
                   "options": dict(scored.options), **scored.scorer.info()},
        "per_source": {src: m.to_dict() for src, m in scored.per_source.items()},
        "meta": {
            "task_version": task.version,
            **({"task_file": task.origin, "task_paper": {s: dict(v) for s, v in task.paper.items()}}
               if task.origin else {}),
            "qa_eval_version": __version__,
            "git_sha": git_sha(),
            **meta,
            "libraries": libraries,
        },
    }


def failed_fraction(per_source: dict[str, SourceMetrics]) -> float:
    n = sum(m.n for m in per_source.values())
    return sum(m.n_failed for m in per_source.values()) / n if n else 0.0
