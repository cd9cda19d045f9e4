"""RunResult: one metrics.json as a typed record, and the rule that picks one run per row.

This module alone reads and writes the metrics.json document (docs/DESIGN.md): the scoring step
builds a RunResult and writes `to_dict()`; `qa-eval report`, `compare`, `leaderboard` and
`paper-table` read files with `RunResult.read` (every malformed part is a ManifestError naming
the file) and `read_results`. When several runs fill the same row of a table, `preferred` picks
one: a run over more samples wins (a `--limit` run never replaces a full one), then the newest.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Mapping, TypeVar

from qa_eval.errors import ConfigError, ManifestError
from qa_eval.records import SampleStatistics, SourceMetrics

NOT_METRICS = ("n", "n_failed", "ci95", "details")
T = TypeVar("T")


@dataclass(frozen=True)
class ScorerInfo:
    """Which scorer made the numbers: name, version, options (and its library versions, rules)."""

    name: str | None
    version: str | None = None
    options: Mapping[str, Any] | None = None  # None: not recorded (files of older qa-eval versions)
    extra: Mapping[str, Any] = field(default_factory=dict)  # libraries, rules, ...

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "version": self.version, "options": dict(self.options or {}), **dict(self.extra)}

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> "ScorerInfo":
        extra = {k: v for k, v in row.items() if k not in ("name", "version", "options")}
        options = row.get("options")
        return cls(row.get("name"), None if row.get("version") is None else str(row["version"]),
                   dict(options) if isinstance(options, dict) else None, extra)


@dataclass(frozen=True)
class RunResult:
    """One metrics.json (docs/DESIGN.md)."""

    task: str
    model: str
    scorer: ScorerInfo
    per_source: Mapping[str, SourceMetrics]
    meta: Mapping[str, Any] = field(default_factory=dict)
    path: Path | None = None  # where it was read from
    mtime: float = 0.0  # the file's modification time (newer wins a tie)

    # -- reading and writing -----------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        out = {"task": self.task, "model": self.model, "scorer": self.scorer.to_dict(),
               "per_source": {s: m.to_dict() for s, m in self.per_source.items()}, "meta": dict(self.meta)}
        samples = {s: m.samples.to_dict() for s, m in self.per_source.items() if m.samples is not None}
        if samples:
            out["samples"] = samples  # per-sample statistics: what compare's paired intervals resample
        return out

    @classmethod
    def from_dict(cls, doc: Any, where: str = "metrics document") -> "RunResult":
        """The record of a metrics document; ManifestError naming `where` for anything malformed."""
        if not isinstance(doc, dict):
            raise ManifestError(f"{where}: not a qa-eval metrics.json (top level is not an object)")
        for key, kind in (("task", str), ("model", str), ("per_source", dict)):
            if not isinstance(doc.get(key), kind):
                raise ManifestError(f"{where}: not a qa-eval metrics.json ('{key}' missing or not a "
                                    f"{kind.__name__}; see docs/DESIGN.md, metrics.json)")
        for key in ("meta", "scorer", "samples"):
            if not isinstance(doc.get(key, {}), dict):
                raise ManifestError(f"{where}: '{key}' must be an object")
        try:
            samples = {s: SampleStatistics.from_dict(v) for s, v in (doc.get("samples") or {}).items()}
        except (KeyError, TypeError, ValueError) as exc:
            raise ManifestError(f"{where}: malformed 'samples' ({exc})") from None
        per_source = {src: replace(_source_metrics(f"{where}: per_source[{src!r}]", entry), samples=samples.get(src))
                      for src, entry in doc["per_source"].items()}
        revision = (doc.get("meta") or {}).get("revision")
        if revision is not None and not isinstance(revision, str):
            raise ManifestError(f"{where}: meta.revision must be a string or null")
        return cls(doc["task"], doc["model"], ScorerInfo.from_dict(doc.get("scorer") or {}), per_source,
                   doc.get("meta") or {})

    @classmethod
    def read(cls, path: Path) -> "RunResult":
        """One metrics.json file; ManifestError naming the file when it is not one."""
        try:
            doc = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ManifestError(f"{path}: unreadable metrics file ({exc})") from None
        found = cls.from_dict(doc, str(path))
        return replace(found, path=Path(path), mtime=Path(path).stat().st_mtime)

    # -- what it says ------------------------------------------------------------------------

    @property
    def checkpoint(self) -> str | None:
        return self.meta.get("model_id")

    @property
    def revision(self) -> str | None:
        return self.meta.get("revision")

    @property
    def where(self) -> str:
        return str(self.path) if self.path else f"{self.task}/{self.model}"


def _source_metrics(where: str, entry: Any) -> SourceMetrics:
    """One per_source entry, checked: numbers or null, integer counts, [low, high] intervals."""
    if not isinstance(entry, dict):
        raise ManifestError(f"{where} must be an object of metrics")
    counts = [entry.get(k, 0) for k in ("n", "n_failed")]
    if not all(isinstance(c, int) and not isinstance(c, bool) for c in counts):
        raise ManifestError(f"{where}: 'n' and 'n_failed' must be integers")
    ci = entry.get("ci95", {})
    if not isinstance(ci, dict):
        raise ManifestError(f"{where}: 'ci95' must be an object")
    values: dict[str, float | None] = {}
    for metric, value in entry.items():
        if metric in NOT_METRICS:
            continue
        if not (value is None or _is_number(value)):
            raise ManifestError(f"{where}: {metric} must be a number or null, not {value!r}")
        values[metric] = float(value) if value is not None and math.isfinite(value) else None
    intervals = {}
    for metric, interval in ci.items():
        if not (isinstance(interval, list) and len(interval) == 2 and all(_is_number(x) for x in interval)):
            raise ManifestError(f"{where}: ci95[{metric!r}] must be [low, high]")
        intervals[metric] = (float(interval[0]), float(interval[1]))
    details = entry.get("details") or {}
    return SourceMetrics(values, counts[0], counts[1], intervals, details if isinstance(details, dict) else {})


def _is_number(x: Any) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def results_folder(folder: Path) -> Path:
    """`folder`, or a ConfigError when there is no such folder."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder}: no such results folder (give the folder that holds the runs' "
                          "metrics.json files)")
    return folder


def read_results(folder: Path) -> list[RunResult]:
    """Every metrics.json under `folder` (sorted by path); ConfigError when there is no such
    folder, ManifestError for a file that is not a metrics.json."""
    return [RunResult.read(p) for p in sorted(results_folder(folder).rglob("metrics.json"))]


def preferred(candidates: Iterable[tuple[T, int, float]]) -> tuple[T, int]:
    """The one of several runs that fill the same row: (item, n samples, file time) tuples; the
    run over more samples wins (a --limit run never replaces a full one), then the newer file,
    then the later one listed. Returns (winner, how many others it set aside)."""
    found = list(candidates)
    best = max(range(len(found)), key=lambda i: (found[i][1], found[i][2], i))
    return found[best][0], len(found) - 1
