"""`qa-eval compare BASELINE CANDIDATE`: per-metric differences and a regression verdict.

A metric regresses when the candidate is worse than the baseline by more than its tolerance
(direction and default tolerance as the scorer declares them), when a number became null, when
a (task, source, metric) disappeared, or when more samples failed. Two runs are compared only
when they scored the same data (same sample counts per source, same manifest digest), unless
the caller allows different data. This is what CI regression tracking calls; exit 1 = regression.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from qa_eval import registry
from qa_eval.errors import ConfigError
from qa_eval.report import metric_values, read_metrics
from qa_eval.scoring import declared_metric

DATA_DIGESTS = ("manifest_sha256", "data_sha256")


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
    scorer: str | None = None

    @property
    def diff(self) -> float | None:
        return None if self.baseline is None or self.candidate is None else self.candidate - self.baseline


def known_metric_names() -> set[str]:
    """Every metric an installed scorer declares."""
    return {m.name for name in registry.names("scorer") for m in registry.load("scorer", name).metrics}


def parse_tolerances(items: Iterable[str], extra_names: Iterable[str] = ()) -> dict[str, float]:
    """METRIC=NUMBER overrides; a metric no scorer declares (and not in `extra_names`) is an error."""
    known = known_metric_names() | set(extra_names)
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = (part.strip() for part in item.partition("="))
        try:
            tol = float(value)
        except ValueError:
            tol = math.nan
        if not sep or not name or not (math.isfinite(tol) and tol >= 0):
            raise ConfigError(f"--tolerance expects METRIC=NUMBER (a number >= 0), got {item!r}")
        if name not in known:
            raise ConfigError(f"--tolerance {item!r}: no scorer reports a metric {name!r}; "
                              f"known: {', '.join(sorted(known))}")
        out[name] = tol
    return out


def load_docs(path: Path) -> dict[str, dict[str, Any]]:
    """task -> metrics document, from one metrics.json or every one under a folder."""
    files = sorted(path.rglob("metrics.json")) if path.is_dir() else [path]
    if not files or not files[0].is_file():
        raise ConfigError(f"{path}: no metrics.json found")
    return {doc["task"]: doc for doc in map(read_metrics, files)}


def data_differences(base: Mapping[str, Any], cand: Mapping[str, Any]) -> list[str]:
    """Why two metrics documents did not score the same data (empty when they did)."""
    out = []
    bm, cm = base.get("meta") or {}, cand.get("meta") or {}
    for key in DATA_DIGESTS:
        if bm.get(key) and cm.get(key) and bm[key] != cm[key]:
            out.append(f"{key} {bm[key][:12]} vs {cm[key][:12]}")
    for source, entry in base["per_source"].items():
        other = cand["per_source"].get(source)
        if other is not None and entry.get("n") != other.get("n"):
            out.append(f"{source}: {entry.get('n')} vs {other.get('n')} samples")
    return out


def compare_docs(base: dict[str, Any], cand: dict[str, Any], tolerances: Mapping[str, float]) -> list[Comparison]:
    rows = []
    task = base["task"]
    scorer = (base.get("scorer") or {}).get("name")
    for source, b_entry in base["per_source"].items():
        c_entry = cand["per_source"].get(source)
        for metric, b_val in metric_values(b_entry).items():
            declared = declared_metric(scorer, metric)
            tol = tolerances.get(metric, declared.tolerance)

            def row(c_val: float | None, regressed: bool, reason: str) -> Comparison:
                return Comparison(task, source, metric, b_val, c_val, tol, regressed, reason, scorer)

            if c_entry is None or metric not in c_entry:
                rows.append(row(None, True, "missing in candidate"))
                continue
            c_val = c_entry[metric]
            if b_val is not None and c_val is None:
                rows.append(row(None, True, "became null"))
            elif b_val is None or c_val is None:
                rows.append(row(c_val, False, "not comparable"))
            else:
                worse = (b_val - c_val) if declared.higher_is_better else (c_val - b_val)
                regressed = worse > tol + 1e-12
                rows.append(row(c_val, regressed, "worse beyond tolerance" if regressed else ""))
        if c_entry is not None and c_entry.get("n_failed", 0) > b_entry.get("n_failed", 0):
            rows.append(Comparison(task, source, "n_failed", b_entry.get("n_failed", 0), c_entry["n_failed"],
                                   0, True, "more failed samples"))
    return rows


def compare_paths(baseline: Path, candidate: Path, tolerance_items: Iterable[str] = (),
                  allow_different_data: bool = False) -> list[Comparison]:
    """Compare every task of the baseline with the candidate's (ConfigError on different data)."""
    base_docs, cand_docs = load_docs(baseline), load_docs(candidate)
    present = {m for d in base_docs.values() for e in d["per_source"].values() for m in metric_values(e)}
    tolerances = parse_tolerances(tolerance_items, present)
    rows: list[Comparison] = []
    for task, base in sorted(base_docs.items()):
        if task not in cand_docs:
            rows.append(Comparison(task, "*", "*", None, None, 0, True, "task missing in candidate"))
            continue
        differences = data_differences(base, cand_docs[task])
        if differences and not allow_different_data:
            raise ConfigError(f"{task}: baseline and candidate scored different data ({'; '.join(differences)}); "
                              "compare runs on the same data, or pass --allow-different-data")
        rows += compare_docs(base, cand_docs[task], tolerances)
    return rows


def print_comparison(rows: list[Comparison]) -> None:
    for r in rows:
        flag = "REGRESSION" if r.regressed else "ok"
        diff = "" if r.diff is None else f"{r.diff:+.4f}"
        fmt = str if r.metric == "n_failed" else declared_metric(r.scorer, r.metric).format
        print(f"{flag:10s} {r.task}/{r.source} {r.metric}: {fmt(r.baseline)} -> "
              f"{fmt(r.candidate)} {diff} (tolerance {r.tolerance:g}) {r.reason}".rstrip())
    n_bad = sum(r.regressed for r in rows)
    print(f"{n_bad} regression(s) in {len(rows)} comparison(s)")
