"""Exact-match accuracy (scene, emotion, vocal sound) and ClothoAQA accuracy.

Official facts (QwenLM/Qwen-Audio `evaluate_scene.py`, `evaluate_emotion.py`,
`evaluate_vocal_sound.py`, `evaluate_aqa.py`): the decoded response is `.strip()`ed, the
reference `gt` is used unchanged, and the score is sklearn's `accuracy_score`, i.e. the
fraction of exact, case-sensitive string matches. ClothoAQA additionally reports the accuracy
on the subset whose reference, lowercased, is "yes" or "no" (`acc_binary`).

Option `label_normalization`:
  "none" (default)  - the official rule above;
  "lower-strip"     - both strings stripped and lowercased before comparing (not the paper's
                      rule; reported under the same metric names, so say so when using it).
Statistics: per sample, correct (0/1), one, and for ClothoAQA correct-and-yes/no and yes/no.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from qa_eval.errors import ConfigError
from qa_eval.records import Prediction
from qa_eval.scoring.base import Metric, SampleStats, Scorer, ratio, require_str_references

MODES = ("none", "lower-strip")
ACC = Metric("acc", higher_is_better=True, tolerance=0.01)
ACC_BINARY = Metric("acc_binary", higher_is_better=True, tolerance=0.01)


class AccuracyScorer(Scorer):
    """Exact-match accuracy; with `yes_no=True` also the accuracy on yes/no references."""

    option_defaults = {"label_normalization": "none"}

    def __init__(self, name: str, yes_no: bool = False) -> None:
        super().__init__(name)
        self.yes_no = yes_no
        self.metrics = (ACC, ACC_BINARY) if yes_no else (ACC,)

    def check_options(self, options: Mapping[str, Any]) -> None:
        mode = options["label_normalization"]
        if mode not in MODES:
            raise ConfigError(f"scorer {self.name!r}: label_normalization must be one of {MODES}, got {mode!r}")

    def statistics(self, preds: Sequence[Prediction], options: Mapping[str, Any]) -> SampleStats:
        mode = options["label_normalization"]
        refs = require_str_references(self.name, preds)
        hyps = [(p.prediction or "").strip() for p in preds]
        if mode == "lower-strip":
            refs = [r.strip().lower() for r in refs]
            hyps = [h.lower() for h in hyps]
        ok = np.array([r == h for r, h in zip(refs, hyps)], dtype=np.float64)
        cols = [ok, np.ones_like(ok)]
        if self.yes_no:
            yn = np.array([str(p.reference).lower() in ("yes", "no") for p in preds], dtype=np.float64)
            cols += [ok * yn, yn]
        return SampleStats(np.stack(cols, axis=1), {"label_normalization": mode})

    def reduce(self, sums: np.ndarray, facts: Mapping[str, Any]) -> dict[str, float | None]:
        values = {"acc": ratio(sums[0], sums[1])}
        if self.yes_no:
            values["acc_binary"] = ratio(sums[2], sums[3])
        return values

    def details(self, sums: np.ndarray, facts: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"correct": int(sums[0])}
        if self.yes_no:
            out.update(n_binary=int(sums[3]), correct_binary=int(sums[2]))
            if sums[3] == 0:
                out["note"] = "no yes/no references in this source; acc_binary undefined"
        return {**out, **facts}

    def info(self) -> dict[str, Any]:
        return {"rule": "exact case-sensitive match after stripping the prediction"}


ACCURACY = AccuracyScorer("accuracy")
AQA_ACCURACY = AccuracyScorer("aqa-accuracy", yes_no=True)
