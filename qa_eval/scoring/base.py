"""The scorer contract shared by every metric family.

A scorer declares its metrics (`Metric`: direction, default regression tolerance, unit,
display) and its options, and implements two pure steps (no I/O, no torch):

* `statistics(predictions, options)` -> `SampleStats`: one row of sufficient statistics per
  successful prediction of ONE source (edits and reference tokens, BLEU n-gram counts, 0/1
  matches, per-sample CIDEr, ...), computed once;
* `reduce(sums, facts)` -> metric values from the column sums of those rows.

`Scorer.score` does the rest, the same way for every family: group by source, count `n` and
`n_failed` (a failed sample is never scored as an empty string: it is left out and counted),
reduce the column sums to the values, and reduce `N_RESAMPLES` seeded bootstrap resamples of
the same rows to 95 % intervals. No second pass over the predictions, no cache.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping, Sequence

import numpy as np

from qa_eval.errors import ConfigError, ScorerError
from qa_eval.records import Prediction, SampleStatistics, SourceMetrics

N_RESAMPLES = 1000  # bootstrap resamples behind every `ci95`
_CHUNK_CELLS = 4_000_000  # resample-by-sample cells drawn at once (bounds memory to ~32 MB)


@dataclass(frozen=True)
class Metric:
    """One number a scorer reports, and how to read it.

    higher_is_better: direction (compare, leaderboard and radar read it).
    tolerance:        default regression tolerance of `qa-eval compare`, absolute, in `unit`.
    unit:             "fraction", "BLEU 0-100", "ms", ...
    decimals:         digits shown in tables.
    """

    name: str
    higher_is_better: bool
    tolerance: float
    unit: str = "fraction"
    decimals: int = 4

    def format(self, value: float | None) -> str:
        return "n/a" if value is None else f"{value:.{self.decimals}f}"


@dataclass(frozen=True)
class SampleStats:
    """Per-sample statistics of one source: `rows` (n, k) and facts about the whole source
    (tokenizer, label set, ...) that `reduce` and `details` may need."""

    rows: np.ndarray
    facts: Mapping[str, Any] = field(default_factory=dict)


class Scorer(ABC):
    """A named, versioned metric family (see the module docstring)."""

    name: str
    version: str = "1"
    metrics: ClassVar[tuple[Metric, ...]] = ()
    option_defaults: ClassVar[Mapping[str, Any]] = {}
    location_options: ClassVar[tuple[str, ...]] = ()  # options that say where a resource is, not how to score

    def __init__(self, name: str) -> None:
        self.name = name

    # -- declaration -------------------------------------------------------------------------

    @property
    def higher_is_better(self) -> dict[str, bool]:
        return {m.name: m.higher_is_better for m in self.metrics}

    def metric(self, name: str) -> Metric | None:
        return next((m for m in self.metrics if m.name == name), None)

    def resolve_options(self, options: Mapping[str, Any]) -> dict[str, Any]:
        """The defaults updated by `options`; unknown names or bad values are a ConfigError
        (checked before any model loads)."""
        unknown = sorted(set(options) - set(self.option_defaults))
        if unknown:
            raise ConfigError(
                f"scorer {self.name!r}: unknown option(s) {', '.join(unknown)}; "
                f"valid: {', '.join(sorted(self.option_defaults)) or 'none'}"
            )
        resolved = {**self.option_defaults, **options}
        self.check_options(resolved)
        return resolved

    def check_options(self, options: Mapping[str, Any]) -> None:
        """Raise ConfigError for a bad option value (subclasses with closed choices)."""

    def info(self) -> dict[str, Any]:
        """Versions of the libraries and rules behind the numbers (written into metrics.json)."""
        return {}

    # -- the two steps -----------------------------------------------------------------------

    @abstractmethod
    def statistics(self, preds: Sequence[Prediction], options: Mapping[str, Any]) -> SampleStats:
        """Per-sample statistics of one source's successful predictions."""

    @abstractmethod
    def reduce(self, sums: np.ndarray, facts: Mapping[str, Any]) -> dict[str, float | None]:
        """Metric values from column sums of the statistic rows (one value per declared metric)."""

    def details(self, sums: np.ndarray, facts: Mapping[str, Any]) -> dict[str, Any]:
        """What to show beside the values (edit counts, tokenizer, ...); default: the facts."""
        return dict(facts)

    def metric_names(self, facts: Mapping[str, Any]) -> tuple[str, ...]:
        """The metrics `reduce` returns for a source with these facts (intervals and paired
        differences are computed for each): the declared ones, unless a scorer reports more
        per source (multiple choice: one accuracy per category)."""
        return tuple(m.name for m in self.metrics)

    def column_sums(self, rows: np.ndarray) -> np.ndarray:
        """Sums of the statistic columns, added row after row (how the official scripts add)."""
        return rows.sum(axis=0)

    # -- shared machinery --------------------------------------------------------------------

    def score(self, predictions: Sequence[Prediction], seed: int = 0, bootstrap: bool = True,
              **options: Any) -> dict[str, SourceMetrics]:
        """Metrics per source, sources in first-seen order."""
        opts = self.resolve_options(options)
        by_source: dict[str, list[Prediction]] = {}
        for p in predictions:
            by_source.setdefault(p.source, []).append(p)
        out: dict[str, SourceMetrics] = {}
        for source, preds in by_source.items():
            ok = [p for p in preds if not p.failed]
            if not ok:
                out[source] = SourceMetrics({m.name: None for m in self.metrics}, len(preds), len(preds), {},
                                            {"note": "every sample of this source failed"})
                continue
            stats = self.statistics(ok, opts)
            sums = self.column_sums(stats.rows)
            ci = self._intervals(stats, seed) if bootstrap else {}
            out[source] = SourceMetrics(self.reduce(sums, stats.facts), len(preds), len(preds) - len(ok), ci,
                                        self.details(sums, stats.facts), sample_statistics(ok, stats))
        return out

    def intervals(self, preds: Sequence[Prediction], seed: int = 0, **options: Any) -> dict[str, tuple[float, float]]:
        """95 % bootstrap intervals of one source's successful predictions."""
        return self._intervals(self.statistics(preds, self.resolve_options(options)), seed)

    def paired_differences(self, base: SampleStatistics, cand: SampleStatistics,
                           seed: int = 0) -> dict[str, tuple[float, float, float, int]]:
        """metric -> (candidate - baseline, 95 % low, 95 % high, n) over the samples both scored:
        the same seeded bootstrap resamples of the paired rows reduced for each side, the
        interval from the percentiles of the differences (compare's significance test)."""
        at = {sample_id: k for k, sample_id in enumerate(cand.ids)}
        pairs = [(k, at[sample_id]) for k, sample_id in enumerate(base.ids) if sample_id in at]
        if not pairs:
            return {}
        b = np.asarray(base.rows, dtype=np.float64)[[k for k, _ in pairs]]
        c = np.asarray(cand.rows, dtype=np.float64)[[j for _, j in pairs]]
        point_b, point_c = self.reduce(self.column_sums(b), base.facts), self.reduce(self.column_sums(c), cand.facts)
        sums = bootstrap_sums(np.concatenate([b, c], axis=1), seed)
        resampled = [(self.reduce(s[:b.shape[1]], base.facts), self.reduce(s[b.shape[1]:], cand.facts)) for s in sums]
        out = {}
        for name in dict.fromkeys(self.metric_names(base.facts) + self.metric_names(cand.facts)):
            if point_b.get(name) is None or point_c.get(name) is None:
                continue
            diffs = [np.nan if x.get(name) is None or y.get(name) is None else y[name] - x[name]
                     for x, y in resampled]
            ci = percentile_ci(diffs)
            if ci is not None:
                out[name] = (float(point_c[name] - point_b[name]), ci[0], ci[1], len(pairs))
        return out

    def _intervals(self, stats: SampleStats, seed: int) -> dict[str, tuple[float, float]]:
        resampled = [self.reduce(row, stats.facts) for row in bootstrap_sums(stats.rows, seed)]
        out = {}
        for name in self.metric_names(stats.facts):
            values = [np.nan if r.get(name) is None else r[name] for r in resampled]
            ci = percentile_ci(values)
            if ci is not None:
                out[name] = ci
        return out


# ---------------------------------------------------------------------------------------------
# Helpers for the metric families (pure; numpy only).
# ---------------------------------------------------------------------------------------------


def sample_statistics(preds: Sequence[Prediction], stats: SampleStats) -> SampleStatistics:
    """The statistics rows with their sample ids and JSON-safe facts (kept in metrics.json)."""
    rows = np.asarray(stats.rows, dtype=np.float64)
    rows = rows[:, None] if rows.ndim == 1 else rows
    facts = json.loads(json.dumps(dict(stats.facts), default=str))
    return SampleStatistics(tuple(p.id for p in preds), tuple(tuple(float(x) for x in r) for r in rows), facts)


def where(p: Prediction) -> str:
    """'file:line' when the prediction came through `qa_eval.store.read_predictions`, else its id."""
    loc = p.extra.get("_where") if p.extra else None
    return str(loc) if loc else f"prediction id={p.id!r}"


def require_str_references(scorer: str, preds: Sequence[Prediction]) -> list[str]:
    """The references as strings; a list reference is a ScorerError naming file:line."""
    refs = []
    for p in preds:
        if not isinstance(p.reference, str):
            raise ScorerError(f"{where(p)}: scorer {scorer!r} expects 'reference' to be a string, got a list")
        refs.append(p.reference)
    return refs


def ratio(num: float, den: float, scale: float = 1.0) -> float | None:
    """num / den x scale, None when den is 0."""
    return float(num / den * scale) if den > 0 else None


def bootstrap_sums(stats: Any, seed: int, n_resamples: int = N_RESAMPLES) -> np.ndarray:
    """Column sums of `n_resamples` bootstrap resamples of the rows of `stats`.

    stats: (n, k) per-sample sufficient statistics. Returns (n_resamples, k). Deterministic
    for a given seed.

    Every statistic built on these sums depends on a resample only through how many times
    each distinct row was drawn, so when rows repeat a lot (WER: a few hundred distinct
    (edits, reference tokens) pairs among 100k utterances) the draw is done exactly as one
    multinomial over the distinct rows (cost ~ resamples x distinct rows). Otherwise indices
    are drawn and counted in chunks (cost ~ resamples x n).
    """
    stats = np.asarray(stats, dtype=np.float64)
    if stats.ndim == 1:
        stats = stats[:, None]
    n = stats.shape[0]
    rng = np.random.default_rng(seed)
    if n == 0:
        return np.zeros((n_resamples, stats.shape[1]))
    uniq, counts = np.unique(stats, axis=0, return_counts=True)
    if len(uniq) * 4 <= n:
        draws = rng.multinomial(n, counts / n, size=n_resamples)
        return draws @ uniq
    out = np.empty((n_resamples, stats.shape[1]))
    chunk = max(1, min(n_resamples, _CHUNK_CELLS // n))
    for start in range(0, n_resamples, chunk):
        c = min(chunk, n_resamples - start)
        idx = rng.integers(0, n, size=(c, n))
        idx += (np.arange(c) * n)[:, None]
        mult = np.bincount(idx.ravel(), minlength=c * n).reshape(c, n)
        out[start : start + c] = mult @ stats
    return out


def percentile_ci(values: Any) -> tuple[float, float] | None:
    """The 2.5th and 97.5th percentiles, ignoring NaN resamples; None when all are NaN."""
    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return None
    lo, hi = np.percentile(v, [2.5, 97.5])
    return float(lo), float(hi)


def ratio_ci(num_den_sums: Any, scale: float = 1.0) -> tuple[float, float] | None:
    """CI of sum(num) / sum(den) from `bootstrap_sums` output with columns (num, den)."""
    num, den = num_den_sums[:, 0], num_den_sums[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan) * scale
    return percentile_ci(r)
