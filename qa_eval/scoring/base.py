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
