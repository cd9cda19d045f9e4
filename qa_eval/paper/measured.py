"""Measured values for a paper's table: every metrics.json under a results folder, one column per model.

A column is a model name, plus a short revision when runs of that model name carry different
revisions. Where several files fill the same (column, row), `qa_eval.results.preferred` picks
one: the run over more samples (a --limit run never replaces a full one), then the newest.
A result fills a row only when it was scored with the scorer the row's paper numbers were
computed with (the row's `scorer`, else the task's own: `wer` for Table 3's ASR, `wer-normalized`
for the Qwen2-Audio report's): the table sets values beside the paper's only where they were
computed the same way. Unknown tasks are ignored; a file that is not a qa-eval metrics.json
raises ManifestError.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from qa_eval import registry
from qa_eval.paper.data import Measure
from qa_eval.results import RunResult, preferred, read_results

_LONG_HEX = re.compile(r"[0-9a-f]{12,}")


@dataclass(frozen=True)
class Measured:
    value: float | None                 # qa-eval units (WER fraction, BLEU 0-100, ...); None: no number
    ci95: tuple[float, float] | None
    n: int
    n_failed: int
    path: Path                          # the metrics.json it came from


@dataclass(frozen=True)
class MeasuredRuns:
    columns: tuple[str, ...]                         # headings, sorted
    cells: Mapping[tuple[str, Measure], Measured]    # (heading, measure) -> value
    superseded: int                                  # cells where another file was set aside
    other_scorer: int = 0                            # results left out: not the paper's scorer


def short_revision(revision: str | None) -> str:
    """Hex runs of 12+ characters cut to 7 ("0.1.0+27e6cbbc0313" -> "0.1.0+27e6cbb")."""
    if not revision:
        return "no revision"
    return _LONG_HEX.sub(lambda m: m.group(0)[:7], revision)


def collect_measured(results_dir: Path, wanted: Mapping[Measure, str | None]) -> MeasuredRuns:
    """Read every metrics.json under `results_dir`; keep the values of the `wanted` measures
    (measure -> the scorer its paper numbers were computed with; None: the task's own)."""
    scorers = {m: scorer or registry.load("task", m[0]).scorer for m, scorer in wanted.items()}
    results = read_results(results_dir)
    filling = [(r, fills) for r in results if (fills := _fills(r, scorers))]
    revisions: dict[str, set[str | None]] = {}
    for r, _ in filling:
        revisions.setdefault(r.model, set()).add(r.revision)
    found: dict[tuple[str, Measure], list[tuple[Measured, int, float]]] = {}
    for r, fills in filling:
        heading = r.model if len(revisions[r.model]) == 1 else f"{r.model}@{short_revision(r.revision)}"
        for source, m in r.per_source.items():
            for metric, value in m.values.items():
                if (r.task, source, metric) in fills:
                    cell = Measured(value, m.ci95.get(metric), m.n, m.n_failed, r.path or Path(r.where))
                    found.setdefault((heading, (r.task, source, metric)), []).append((cell, m.n, r.mtime))
    cells, superseded = {}, 0
    for key, candidates in found.items():
        cells[key], n_other = preferred(candidates)
        superseded += n_other
    columns = tuple(sorted({h for h, _ in cells}))
    other = sum(1 for r in results if _measures(r) & scorers.keys() and not _fills(r, scorers))
    return MeasuredRuns(columns, cells, superseded, other)


def _measures(result: RunResult) -> set[Measure]:
    return {(result.task, s, metric) for s, m in result.per_source.items() for metric in m.values}


def _fills(result: RunResult, scorers: Mapping[Measure, str]) -> set[Measure]:
    """The wanted measures `result` holds, scored as their paper numbers were (a result that does
    not name its scorer is taken as scored so)."""
    return {m for m in _measures(result) & scorers.keys() if result.scorer.name in (None, scorers[m])}
