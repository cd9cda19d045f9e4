"""Scorers: one module per metric family, all built on `base.Scorer`.

`declared_metric` is how every view (the run's table, `compare`, the leaderboard, the paper
table) learns a metric's direction, tolerance and format: from the scorer that produced it.
"""

from __future__ import annotations

from qa_eval.scoring.base import Metric

_LOWER_IS_BETTER_NAMES = ("wer", "cer", "ser")


def declared_metric(scorer_name: str | None, metric: str) -> Metric:
    """The declaration of `metric` by the scorer `scorer_name`; for a scorer that is not
    installed (a file from elsewhere), a conservative guess from the name (error rates and
    `*_ms` lower is better, 4 decimals, tolerance 0.01)."""
    from qa_eval import registry
    from qa_eval.errors import QaEvalError

    if scorer_name:
        try:
            found = registry.load("scorer", scorer_name).metric(metric)
        except QaEvalError:
            found = None
        if found is not None:
            return found
    lower = metric.startswith(_LOWER_IS_BETTER_NAMES) or metric.endswith("_ms")
    return Metric(metric, higher_is_better=not lower, tolerance=0.01,
                  decimals=2 if metric.endswith("_ms") or metric == "bleu" else 4)
