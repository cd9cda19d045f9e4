"""Scoring step: predictions -> metrics.json (the docs/DESIGN.md contract), with provenance.

No torch and no model here: `qa-eval score` runs on any machine. The document is a
`qa_eval.results.RunResult`; `references_sha256` (a digest of the scored samples' ids, sources
and references) lets `compare` refuse two results, made by `run` or by `score`, over other data.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from qa_eval import __version__, registry
from qa_eval.errors import ScorerError
from qa_eval.provenance import git_sha
from qa_eval.records import Prediction, SourceMetrics
from qa_eval.results import RunResult, ScorerInfo
from qa_eval.scoring.base import where
from qa_eval.task import TaskSpec


@dataclass(frozen=True)
class Scored:
    """The result of scoring: metrics per source, and which scorer with which options made them."""

    per_source: dict[str, SourceMetrics]
    scorer: Any
    options: Mapping[str, Any]
    references_sha256: str


def score_predictions(
    task: TaskSpec, predictions: Sequence[Prediction], seed: int = 0, bootstrap: bool = True,
    scorer_name: str | None = None, options: Mapping[str, Any] | None = None, warn_unknown: bool = True,
) -> Scored:
    """Per-source metrics with the task's scorer (or `scorer_name`), the task's scorer options
    updated by `options`. Sources are reported as the task spells them (_check_references);
    `warn_unknown=False` when the caller has already warned about those that match none."""
    scorer = registry.load("scorer", scorer_name or task.scorer)
    task.check_scorer(scorer.name)
    used = scorer.resolve_options({**dict(task.scorer_options), **dict(options or {})})
    predictions = _check_references(task, predictions, warn_unknown)
    per_source = scorer.score(predictions, seed=seed, bootstrap=bootstrap, **used)
    return Scored(per_source, scorer, used, references_digest(predictions))


def references_digest(predictions: Sequence[Prediction]) -> str:
    """sha256 over the (id, source, reference) of the scored samples, in id order."""
    h = hashlib.sha256()
    for p in sorted(predictions, key=lambda p: p.id):
        h.update(json.dumps([p.id, p.source, p.reference], ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()


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
    info = scored.scorer.info()
    libraries = {**dict(meta.get("libraries") or {}), **dict(info.get("libraries") or {})}
    task_meta: dict[str, Any] = {"task_version": task.version, "task_scorer": task.scorer}
    if task.origin:
        task_meta.update(task_file=str(Path(task.origin).resolve()),
                         task_paper={s: dict(v) for s, v in task.paper.items()})
    result = RunResult(
        task.name, model, ScorerInfo(scored.scorer.name, scored.scorer.version, dict(scored.options), info),
        scored.per_source,
        {**task_meta, "qa_eval_version": __version__, "git_sha": git_sha(), **meta,
         "references_sha256": scored.references_sha256, "libraries": libraries},
    )
    return result.to_dict()


def failed_fraction(per_source: dict[str, SourceMetrics]) -> float:
    n = sum(m.n for m in per_source.values())
    return sum(m.n_failed for m in per_source.values()) / n if n else 0.0
