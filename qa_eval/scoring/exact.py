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
95 % intervals: 1000 seeded bootstrap resamples of samples.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from qa_eval.errors import ConfigError
from qa_eval.records import Prediction
from qa_eval.scoring.base import (
    Scorer,
    bootstrap_sums,
    check_options,
    ratio_ci,
    require_str_references,
)

_OPTIONS = {"label_normalization": "none"}
MODES = ("none", "lower-strip")


def _pairs(name: str, preds: Sequence[Prediction], options: dict[str, Any]):
    opts = check_options(name, options, _OPTIONS)
    mode = opts["label_normalization"]
    if mode not in MODES:
        raise ConfigError(f"scorer {name!r}: label_normalization must be one of {MODES}, got {mode!r}")
    refs = require_str_references(name, preds)
    hyps = [(p.prediction or "").strip() for p in preds]
    if mode == "lower-strip":
        refs = [r.strip().lower() for r in refs]
        hyps = [h.lower() for h in hyps]
    return refs, hyps, mode


def _correct(refs: list[str], hyps: list[str]) -> np.ndarray:
    return np.array([r == h for r, h in zip(refs, hyps)], dtype=np.float64)


def _acc_compute(preds: Sequence[Prediction], **options: Any):
    refs, hyps, mode = _pairs("accuracy", preds, options)
    ok = _correct(refs, hyps)
    return {"acc": float(ok.mean())}, {"correct": int(ok.sum()), "label_normalization": mode}


def _acc_intervals(preds: Sequence[Prediction], seed: int = 0, **options: Any):
    refs, hyps, _ = _pairs("accuracy", preds, options)
    ok = _correct(refs, hyps)
    ci = ratio_ci(bootstrap_sums(np.stack([ok, np.ones_like(ok)], axis=1), seed))
    return {"acc": ci} if ci else {}


def _binary_mask(preds: Sequence[Prediction]) -> np.ndarray:
    return np.array([str(p.reference).lower() in ("yes", "no") for p in preds], dtype=np.float64)


def _aqa_compute(preds: Sequence[Prediction], **options: Any):
    refs, hyps, mode = _pairs("aqa-accuracy", preds, options)
    ok, yn = _correct(refs, hyps), _binary_mask(preds)
    details: dict[str, Any] = {
        "correct": int(ok.sum()),
        "n_binary": int(yn.sum()),
        "correct_binary": int((ok * yn).sum()),
        "label_normalization": mode,
    }
    values: dict[str, float | None] = {"acc": float(ok.mean()), "acc_binary": None}
    if yn.sum() > 0:
        values["acc_binary"] = float((ok * yn).sum() / yn.sum())
    else:
        details["note"] = "no yes/no references in this source; acc_binary undefined"
    return values, details


def _aqa_intervals(preds: Sequence[Prediction], seed: int = 0, **options: Any):
    refs, hyps, _ = _pairs("aqa-accuracy", preds, options)
    ok, yn = _correct(refs, hyps), _binary_mask(preds)
    sums = bootstrap_sums(np.stack([ok, np.ones_like(ok), ok * yn, yn], axis=1), seed)
    out = {}
    for metric, cols in (("acc", [0, 1]), ("acc_binary", [2, 3])):
        ci = ratio_ci(sums[:, cols])
        if ci:
            out[metric] = ci
    return out


def _info() -> dict[str, Any]:
    return {"rule": "exact case-sensitive match after stripping the prediction"}


ACCURACY = Scorer(
    name="accuracy",
    version="1",
    higher_is_better={"acc": True},
    compute=_acc_compute,
    intervals=_acc_intervals,
    info=_info,
)

AQA_ACCURACY = Scorer(
    name="aqa-accuracy",
    version="1",
    higher_is_better={"acc": True, "acc_binary": True},
    compute=_aqa_compute,
    intervals=_aqa_intervals,
    info=_info,
)
