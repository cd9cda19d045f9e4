"""Measured values for Table 3: every metrics.json under a results folder, one column per model.

A column is a model name, plus a short revision when runs of that model name carry different
revisions. Where several files fill the same (column, row), the newest file (modification time)
wins. Unknown tasks are ignored; a file that is not a qa-eval metrics.json raises ManifestError.
"""

from __future__ import annotations

import math
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa_eval.errors import ConfigError, ManifestError
from qa_eval.paper.data import Measure
from qa_eval.report import read_metrics

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
    superseded: int                                  # cells where an older file was set aside


@dataclass(frozen=True)
class _Entry:
    model: str
    revision: str | None
    measure: Measure
    mtime: float
    cell: Measured


def short_revision(revision: str | None) -> str:
    """Hex runs of 12+ characters cut to 7 ("0.1.0+27e6cbbc0313" -> "0.1.0+27e6cbb")."""
    if not revision:
        return "no revision"
    return _LONG_HEX.sub(lambda m: m.group(0)[:7], revision)


def collect_measured(results_dir: Path, wanted: Collection[Measure]) -> MeasuredRuns:
    """Read every metrics.json under `results_dir`; keep the values of the `wanted` measures."""
    if not results_dir.is_dir():
        raise ConfigError(f"{results_dir}: no such results folder (give the folder that holds "
                          "the runs' metrics.json files)")
    entries = [e for path in sorted(results_dir.rglob("metrics.json"))
               for e in _entries(path, set(wanted))]
    revisions: dict[str, set[str | None]] = {}
    for e in entries:
        revisions.setdefault(e.model, set()).add(e.revision)
    cells: dict[tuple[str, Measure], tuple[float, Measured]] = {}
    superseded = 0
    for e in entries:  # sorted by path: on equal mtimes the later path wins, deterministically
        heading = e.model if len(revisions[e.model]) == 1 else f"{e.model}@{short_revision(e.revision)}"
        key = (heading, e.measure)
        if key in cells:
            superseded += 1
            if e.mtime < cells[key][0]:
                continue
        cells[key] = (e.mtime, e.cell)
    columns = tuple(sorted({h for h, _ in cells}))
    return MeasuredRuns(columns, {k: c for k, (_, c) in cells.items()}, superseded)


def _entries(path: Path, wanted: set[Measure]) -> list[_Entry]:
    doc = read_metrics(path)
    meta = doc.get("meta", {})
    revision = meta.get("revision")
    if revision is not None and not isinstance(revision, str):
        raise ManifestError(f"{path}: meta.revision must be a string or null")
    mtime = path.stat().st_mtime
    out = []
    for source, entry in doc["per_source"].items():
        if not isinstance(entry, dict):
            raise ManifestError(f"{path}: per_source[{source!r}] must be an object of metrics")
        for metric in entry:
            measure = (doc["task"], source, metric)
            if measure in wanted:
                out.append(_Entry(doc["model"], revision, measure, mtime, _cell(path, source, metric, entry)))
    return out


def _cell(path: Path, source: str, metric: str, entry: Mapping[str, Any]) -> Measured:
    where = f"{path}: per_source[{source!r}]"
    value = entry[metric]
    if not (value is None or _is_number(value)):
        raise ManifestError(f"{where}: {metric} must be a number or null, not {value!r}")
    counts = [entry.get(k, 0) for k in ("n", "n_failed")]
    if not all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
        raise ManifestError(f"{where}: 'n' and 'n_failed' must be integers")
    ci = entry.get("ci95", {})
    if not isinstance(ci, dict):
        raise ManifestError(f"{where}: 'ci95' must be an object")
    interval = ci.get(metric)
    if interval is not None and not (isinstance(interval, list) and len(interval) == 2
                                     and all(_is_number(x) for x in interval)):
        raise ManifestError(f"{where}: ci95[{metric!r}] must be [low, high]")
    finite = value is not None and math.isfinite(value)  # NaN / Infinity: shown as missing
    return Measured(float(value) if finite else None,
                    None if interval is None else (float(interval[0]), float(interval[1])),
                    counts[0], counts[1], path)


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)
