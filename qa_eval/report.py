"""Result rows beside the paper's numbers, and the terminal table.

Shared by `qa-eval run`, `qa-eval score` and the leaderboard, so every view shows the same
numbers in the same units (fractions for WER/accuracy, BLEU 0-100, AAS in ms), formatted as the
producing scorer declares (`qa_eval.scoring.declared_metric`). A paper number stands beside a
value only when the value was computed with the scorer the paper's number was (the task's own
scorer): a `wer-normalized` WER is never set against the paper's unnormalised one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable, Mapping

from qa_eval import registry
from qa_eval.errors import QaEvalError
from qa_eval.results import RunResult
from qa_eval.scoring import declared_metric


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
    revision: str | None = None  # its revision (checkpoint hash or hub commit)

    @property
    def diff(self) -> float | None:
        return None if self.value is None or self.paper is None else self.value - self.paper

    def fmt(self, value: float | None) -> str:
        return declared_metric(self.scorer, self.metric).format(value)

    def fmt_diff(self) -> str:
        """The difference to the paper, with the metric's own decimals ("" when there is none)."""
        if self.diff is None:
            return ""
        return f"{self.diff:+.{declared_metric(self.scorer, self.metric).decimals}f}"


def paper_numbers(result: RunResult) -> Mapping[str, Mapping[str, float]]:
    """The reference numbers of a result's task, when the result was scored as they were (with
    the task's own scorer): the installed task's, else those its task file declared."""
    try:
        task = registry.load("task", result.task)
        paper, paper_scorer = task.paper, task.scorer
    except QaEvalError:
        paper, paper_scorer = result.meta.get("task_paper") or {}, result.meta.get("task_scorer")
    same_scorer = paper_scorer is None or result.scorer.name in (None, paper_scorer)
    return paper if same_scorer else {}


def result_rows(result: RunResult) -> list[ResultRow]:
    """One row per (source, metric) of a result."""
    paper = paper_numbers(result)
    rows = []
    for source, m in result.per_source.items():
        for metric, value in m.values.items():
            rows.append(ResultRow(
                result.model, result.task, source, metric, value, m.ci95.get(metric),
                paper.get(source, {}).get(metric), m.n, m.n_failed, result.scorer.name,
                result.checkpoint, result.revision,
            ))
    return rows


def print_table(results: Iterable[RunResult | Mapping[str, Any]]) -> None:
    """The terminal table of results (records, or metrics documents)."""
    results = [r if isinstance(r, RunResult) else RunResult.from_dict(r) for r in results]
    header = ("model", "task", "source", "metric", "value", "95% CI", "paper", "diff", "n", "failed")
    lines = [header]
    for result in results:
        for r in result_rows(result):
            ci = f"[{r.fmt(r.ci95[0])}, {r.fmt(r.ci95[1])}]" if r.ci95 else ""
            lines.append((r.model, r.task, r.source, r.metric, r.fmt(r.value), ci,
                          r.fmt(r.paper) if r.paper is not None else "", r.fmt_diff(), str(r.n), str(r.n_failed)))
    widths = [max(len(str(line[i])) for line in lines) for i in range(len(header))]
    for i, line in enumerate(lines):
        print("  ".join(str(c).ljust(w) for c, w in zip(line, widths)).rstrip())
        if i == 0:
            print("  ".join("-" * w for w in widths))
    for result in results:
        for source, m in result.per_source.items():
            if "spice" in m.values and m.values["spice"] is None and m.details.get("spice_status"):
                print(f"warning: {result.task}/{source}: SPICE and SPIDEr not computed: {m.details['spice_status']}")
