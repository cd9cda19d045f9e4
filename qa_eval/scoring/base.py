"""The scorer contract shared by every metric family.

A scorer is a `Scorer` object registered in the `qa_eval.scorers` entry-point group. Its
`compute` function is pure (no I/O, no torch): it gets the successful predictions of ONE source
and returns metric values. `Scorer.score` does the part that is the same for every family,
once: group by source, count `n` and `n_failed` (failed samples are never scored as empty
strings; they are left out of the metric and counted), attach bootstrap intervals.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from qa_eval.records import Prediction, SourceMetrics

# compute(preds_of_one_source, **options) -> (values, details)
ComputeFn = Callable[..., tuple[dict[str, float | None], dict[str, Any]]]
# bootstrap(preds_of_one_source, seed, **options) -> {metric: (lo, hi)}
IntervalFn = Callable[..., dict[str, tuple[float, float]]]


@dataclass(frozen=True)
class Scorer:
    """A named, versioned metric family.

    name / version:    written into metrics.json["scorer"]; bump version when output may change.
    higher_is_better:  metric name -> direction (used by `qa-eval compare` and the leaderboard).
    compute:           pure function of one source's successful predictions.
    intervals:         optional seeded bootstrap of 95 % confidence intervals.
    info:              versions of the libraries behind the numbers (sacrebleu signature, ...).
    """

    name: str
    version: str
    higher_is_better: Mapping[str, bool]
    compute: ComputeFn
    intervals: IntervalFn | None = None
    info: Callable[[], dict[str, Any]] = field(default=lambda: {})

    def score(
        self, predictions: Sequence[Prediction], seed: int = 0, bootstrap: bool = True, **options: Any
    ) -> dict[str, SourceMetrics]:
        """Metrics per source, sources in first-seen order."""
        by_source: dict[str, list[Prediction]] = {}
        for p in predictions:
            by_source.setdefault(p.source, []).append(p)
        out: dict[str, SourceMetrics] = {}
        for source, preds in by_source.items():
            ok = [p for p in preds if not p.failed]
            n_failed = len(preds) - len(ok)
            if ok:
                values, details = self.compute(ok, **options)
                ci = self.intervals(ok, seed=seed, **options) if (bootstrap and self.intervals) else {}
            else:
                values = {m: None for m in self.higher_is_better}
                details, ci = {"note": "every sample of this source failed"}, {}
            out[source] = SourceMetrics(values, len(preds), n_failed, ci, details)
        return out


# ---------------------------------------------------------------------------------------------
# Shared helpers for the metric families (pure; numpy only).
# ---------------------------------------------------------------------------------------------

N_RESAMPLES = 1000  # bootstrap resamples behind every `ci95`
_CHUNK_CELLS = 4_000_000  # resample-by-sample cells drawn at once (bounds memory to ~32 MB)


def where(p: Prediction) -> str:
    """'file:line' when the prediction came through `qa_eval.store.read_predictions`, else its id."""
    loc = p.extra.get("_where") if p.extra else None
    return str(loc) if loc else f"prediction id={p.id!r}"


def check_options(scorer: str, options: Mapping[str, Any], allowed: Mapping[str, Any]) -> dict[str, Any]:
    """`allowed` maps option -> default; unknown options are a ConfigError naming the valid ones."""
    from qa_eval.errors import ConfigError

    unknown = sorted(set(options) - set(allowed))
    if unknown:
        raise ConfigError(
            f"scorer {scorer!r}: unknown option(s) {', '.join(unknown)}; "
            f"valid: {', '.join(sorted(allowed)) or 'none'}"
        )
    return {**allowed, **options}


def require_str_references(scorer: str, preds: Sequence[Prediction]) -> list[str]:
    """The references as strings; a list reference is a ScorerError naming file:line."""
    from qa_eval.errors import ScorerError

    refs = []
    for p in preds:
        if not isinstance(p.reference, str):
            raise ScorerError(
                f"{where(p)}: scorer {scorer!r} expects 'reference' to be a string, got a list"
            )
        refs.append(p.reference)
    return refs


def bootstrap_sums(stats: Any, seed: int, n_resamples: int = N_RESAMPLES) -> Any:
    """Column sums of `n_resamples` bootstrap resamples of the rows of `stats`.

    stats: (n, k) per-sample sufficient statistics (edits and reference tokens, BLEU n-gram
    counts, ...). Returns (n_resamples, k). Deterministic for a given seed.

    Every statistic built on these sums depends on a resample only through how many times
    each distinct row was drawn, so when rows repeat a lot (WER: a few hundred distinct
    (edits, reference tokens) pairs among 100k utterances) the draw is done exactly as one
    multinomial over the distinct rows (cost ~ resamples x distinct rows). Otherwise indices
    are drawn and counted in chunks (cost ~ resamples x n).
    """
    import numpy as np

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
    import numpy as np

    v = np.asarray(values, dtype=np.float64)
    v = v[~np.isnan(v)]
    if v.size == 0:
        return None
    lo, hi = np.percentile(v, [2.5, 97.5])
    return float(lo), float(hi)


def ratio_ci(num_den_sums: Any, scale: float = 1.0) -> tuple[float, float] | None:
    """CI of sum(num) / sum(den) from `bootstrap_sums` output with columns (num, den)."""
    import numpy as np

    num, den = num_den_sums[:, 0], num_den_sums[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(den > 0, num / np.where(den > 0, den, 1.0), np.nan) * scale
    return percentile_ci(r)


def library_versions(*dists: str) -> dict[str, str | None]:
    """Installed versions of the named distributions (None when one is missing)."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for d in dists:
        try:
            out[d] = version(d)
        except PackageNotFoundError:
            out[d] = None
    return out
