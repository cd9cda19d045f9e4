"""`qa-eval compare BASELINE CANDIDATE`: per-metric differences and a regression verdict.

A metric regresses when the candidate is worse than the baseline by more than its tolerance
(direction-aware), when a number became null, when a (task, source, metric) disappeared, or
when more samples failed. This is what CI regression tracking calls; exit code 1 = regression.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qa_eval.errors import ConfigError, ManifestError
from qa_eval.report import fmt, higher_is_better

# Default absolute tolerances per metric family (units as in metrics.json).
DEFAULT_TOLERANCES: dict[str, float] = {
    "wer": 0.005,  # 0.5 WER points
    "bleu": 0.5,
    "acc": 0.01,
    "acc_binary": 0.01,
    "cider": 0.02,
    "spice": 0.01,
    "spider": 0.015,
    "map": 0.01,
    "instrument_acc": 0.01,
    "pitch_acc": 0.01,
    "velocity_acc": 0.01,
    "aas_ms": 5.0,
}
FALLBACK_TOLERANCE = 0.01


@dataclass(frozen=True)
class Comparison:
    task: str
    source: str
    metric: str
    baseline: float | None
    candidate: float | None
    tolerance: float
    regressed: bool
    reason: str = ""

    @property
    def diff(self) -> float | None:
        return None if self.baseline is None or self.candidate is None else self.candidate - self.baseline


def parse_tolerances(items: list[str]) -> dict[str, float]:
    out = dict(DEFAULT_TOLERANCES)
    for item in items:
        name, sep, value = item.partition("=")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ConfigError(f"--tolerance expects METRIC=NUMBER, got {item!r}") from None
        if not sep:
            raise ConfigError(f"--tolerance expects METRIC=NUMBER, got {item!r}")
    return out


def _load(path: Path) -> dict[str, dict[str, Any]]:
    """task -> metrics document, from one metrics.json or every one under a folder."""
    files = sorted(path.rglob("metrics.json")) if path.is_dir() else [path]
    if not files or not files[0].is_file():
        raise ConfigError(f"{path}: no metrics.json found")
    docs: dict[str, dict[str, Any]] = {}
    for f in files:
        try:
            doc = json.loads(f.read_text(encoding="utf-8"))
            docs[doc["task"]] = doc
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ManifestError(f"{f}: not a qa-eval metrics.json ({exc})") from None
    return docs


def compare_docs(base: dict[str, Any], cand: dict[str, Any], tolerances: dict[str, float]) -> list[Comparison]:
    rows = []
    scorer = base.get("scorer", {}).get("name")
    for source, b_entry in base["per_source"].items():
        c_entry = cand["per_source"].get(source)
        for metric, b_val in b_entry.items():
            if metric in ("n", "n_failed", "ci95", "details"):
                continue
            tol = tolerances.get(metric, FALLBACK_TOLERANCE)
            if c_entry is None or metric not in c_entry:
                rows.append(Comparison(base["task"], source, metric, b_val, None, tol, True, "missing in candidate"))
                continue
            c_val = c_entry[metric]
            if b_val is not None and c_val is None:
                rows.append(Comparison(base["task"], source, metric, b_val, None, tol, True, "became null"))
                continue
            if b_val is None or c_val is None:
                rows.append(Comparison(base["task"], source, metric, b_val, c_val, tol, False, "not comparable"))
                continue
            worse = (b_val - c_val) if higher_is_better(metric, scorer) else (c_val - b_val)
            rows.append(Comparison(base["task"], source, metric, b_val, c_val, tol, worse > tol + 1e-12,
                                   "worse beyond tolerance" if worse > tol + 1e-12 else ""))
        if c_entry is not None and c_entry.get("n_failed", 0) > b_entry.get("n_failed", 0):
            rows.append(Comparison(base["task"], source, "n_failed", b_entry.get("n_failed", 0),
                                   c_entry["n_failed"], 0, True, "more failed samples"))
    return rows


def compare_paths(baseline: Path, candidate: Path, tolerances: dict[str, float]) -> list[Comparison]:
    base_docs, cand_docs = _load(baseline), _load(candidate)
    rows: list[Comparison] = []
    for task, base in sorted(base_docs.items()):
        if task not in cand_docs:
            rows.append(Comparison(task, "*", "*", None, None, 0, True, "task missing in candidate"))
            continue
        rows += compare_docs(base, cand_docs[task], tolerances)
    return rows


def print_comparison(rows: list[Comparison]) -> None:
    for r in rows:
        flag = "REGRESSION" if r.regressed else "ok"
        diff = "" if r.diff is None else f"{r.diff:+.4f}"
        print(f"{flag:10s} {r.task}/{r.source} {r.metric}: {fmt(r.baseline, r.metric)} -> "
              f"{fmt(r.candidate, r.metric)} {diff} (tolerance {r.tolerance:g}) {r.reason}".rstrip())
    n_bad = sum(r.regressed for r in rows)
    print(f"{n_bad} regression(s) in {len(rows)} comparison(s)")
