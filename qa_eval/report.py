"""Result rows beside the paper's numbers, and the terminal table.

Shared by `qa-eval run`, `qa-eval score`, `compare` and the leaderboard, so every view shows the
same numbers in the same units (fractions for WER/accuracy, BLEU 0-100, AAS in ms), formatted
as the producing scorer declares (`qa_eval.scoring.declared_metric`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from qa_eval import registry
from qa_eval.errors import ManifestError, QaEvalError
from qa_eval.scoring import declared_metric

NOT_METRICS = ("n", "n_failed", "ci95", "details")


@dataclass(frozen=True)
class ResultRow:
    model: str
    task: str
    source: str
    metric: str
    value: float | None
    ci95: tuple[float, float] | None
    paper: float | None
    n: int
    n_failed: int
    scorer: str | None = None
    checkpoint: str | None = None  # the model id the run loaded (folder or hub id)
    revision: str | None = None  # its revision (weights hash or hub commit)

    @property
    def diff(self) -> float | None:
        return None if self.value is None or self.paper is None else self.value - self.paper

    def fmt(self, value: float | None) -> str:
        return declared_metric(self.scorer, self.metric).format(value)


def read_metrics(path: Path) -> dict[str, Any]:
    """One metrics.json, checked as a document (task, model, per_source, meta); ManifestError
    naming the file when it is not one."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ManifestError(f"{path}: unreadable metrics file ({exc})") from None
    if not isinstance(doc, dict):
        raise ManifestError(f"{path}: not a qa-eval metrics.json (top level is not an object)")
    for key, kind in (("task", str), ("model", str), ("per_source", dict)):
        if not isinstance(doc.get(key), kind):
            raise ManifestError(f"{path}: not a qa-eval metrics.json ('{key}' missing or not a "
                                f"{kind.__name__}; see docs/DESIGN.md, metrics.json)")
    if not isinstance(doc.get("meta", {}), dict):
        raise ManifestError(f"{path}: 'meta' must be an object")
    return doc


def paper_numbers(doc: Mapping[str, Any]) -> Mapping[str, Mapping[str, float]]:
    """The reference numbers of a metrics document's task: the installed task's, else those
    its task file declared (recorded in meta.task_paper), else none."""
    try:
        return registry.load("task", doc["task"]).paper
    except QaEvalError:
        return (doc.get("meta") or {}).get("task_paper") or {}


def metric_values(entry: Mapping[str, Any]) -> dict[str, float | None]:
    """The metric values of one per_source entry of metrics.json."""
    return {k: v for k, v in entry.items()
            if k not in NOT_METRICS and (v is None or isinstance(v, (int, float)))}


def result_rows(doc: Mapping[str, Any]) -> list[ResultRow]:
    """One row per (source, metric) of a metrics.json document."""
    paper = paper_numbers(doc)
    meta = doc.get("meta") or {}
    scorer = (doc.get("scorer") or {}).get("name")
    rows = []
    for source, entry in doc["per_source"].items():
        ci = entry.get("ci95", {})
        for metric, value in metric_values(entry).items():
            rows.append(ResultRow(
                doc.get("model", "?"), doc["task"], source, metric, value,
                tuple(ci[metric]) if metric in ci else None,
                paper.get(source, {}).get(metric), entry.get("n", 0), entry.get("n_failed", 0),
                scorer, meta.get("model_id"), meta.get("revision"),
            ))
    return rows


def print_table(docs: Iterable[Mapping[str, Any]]) -> None:
    docs = list(docs)
    header = ("model", "task", "source", "metric", "value", "95% CI", "paper", "diff", "n", "failed")
    lines = [header]
    for doc in docs:
        for r in result_rows(doc):
            ci = f"[{r.fmt(r.ci95[0])}, {r.fmt(r.ci95[1])}]" if r.ci95 else ""
            diff = "" if r.diff is None else f"{r.diff:+.4f}"
            lines.append((r.model, r.task, r.source, r.metric, r.fmt(r.value), ci,
                          r.fmt(r.paper) if r.paper is not None else "", diff, str(r.n), str(r.n_failed)))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    for i, line in enumerate(lines):
        print("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for doc in docs:
        for source, entry in doc["per_source"].items():
            details = entry.get("details") or {}
            if "spice" in entry and entry["spice"] is None and details.get("spice_status"):
                print(f"warning: {doc['task']}/{source}: SPICE and SPIDEr not computed: {details['spice_status']}")
