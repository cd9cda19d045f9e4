"""Result rows beside the paper's numbers, and the terminal table.

Shared by `qa-eval run`, `qa-eval score` and the leaderboard, so every view shows the same
numbers in the same units (fractions for WER/accuracy, BLEU 0-100, AAS in ms).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from qa_eval import registry
from qa_eval.errors import QaEvalError


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

    @property
    def diff(self) -> float | None:
        return None if self.value is None or self.paper is None else self.value - self.paper


def paper_numbers(task_name: str) -> Mapping[str, Mapping[str, float]]:
    """The task's paper reference numbers (empty for unknown or third-party tasks)."""
    try:
        return registry.load("task", task_name).paper
    except QaEvalError:
        return {}


def result_rows(doc: Mapping[str, Any]) -> list[ResultRow]:
    """One row per (source, metric) of a metrics.json document."""
    paper = paper_numbers(doc["task"])
    rows = []
    for source, entry in doc["per_source"].items():
        ci = entry.get("ci95", {})
        for metric, value in entry.items():
            if metric in ("n", "n_failed", "ci95", "details") or not (value is None or isinstance(value, (int, float))):
                continue
            rows.append(ResultRow(
                doc.get("model", "?"), doc["task"], source, metric, value,
                tuple(ci[metric]) if metric in ci else None,
                paper.get(source, {}).get(metric), entry.get("n", 0), entry.get("n_failed", 0),
            ))
    return rows


def fmt(value: float | None, metric: str = "") -> str:
    if value is None:
        return "n/a"
    if metric == "bleu" or metric.endswith("_ms"):
        return f"{value:.2f}"
    return f"{value:.4f}"


def higher_is_better(metric: str, scorer_name: str | None = None) -> bool:
    """Direction of a metric: from its scorer when installed, else by name (errors are lower)."""
    if scorer_name:
        try:
            return bool(registry.load("scorer", scorer_name).higher_is_better[metric])
        except (QaEvalError, KeyError):
            pass
    return not (metric.startswith("wer") or metric.endswith("_ms") or metric in ("cer", "ser"))


def print_table(docs: Iterable[Mapping[str, Any]]) -> None:
    docs = list(docs)
    header = ("model", "task", "source", "metric", "value", "95% CI", "paper", "diff", "n", "failed")
    lines = [header]
    for doc in docs:
        for r in result_rows(doc):
            ci = f"[{fmt(r.ci95[0], r.metric)}, {fmt(r.ci95[1], r.metric)}]" if r.ci95 else ""
            diff = "" if r.diff is None else f"{r.diff:+.4f}"
            lines.append((r.model, r.task, r.source, r.metric, fmt(r.value, r.metric), ci,
                          fmt(r.paper, r.metric) if r.paper is not None else "", diff, str(r.n), str(r.n_failed)))
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
