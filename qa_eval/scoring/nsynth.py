"""NSynth note analysis: instrument accuracy, qualities MAP, pitch and velocity accuracy.

Official facts (QwenLM/Qwen-Audio `evaluate_note_analysis.py`), applied to the reference and
the prediction alike:
* pitch: the first `<|pitch|><|midi_pitch_N|>`; N must parse as an int, otherwise, or when
  absent, the pitch is 128 (a "missing" class that matches another missing pitch);
* velocity: the first `<|velocity|><|midi_velocity_N|>`, same rule (128 when absent/bad);
* instrument: the text after the first `<|instrument|>` up to the end of that line, cut at the
  first "<" (so `<|instrument|>keyboard<|sonic|>...` gives "keyboard"); "" when absent;
* qualities: the text after `<|sonic|>` (same cut), split on ", " exactly, keeping only the
  ten NSynth quality names (unknown words are dropped).
Metrics per source: `instrument_acc` and `velocity_acc` = exact-match accuracy;
`pitch_acc` = top-1 accuracy of one-hot pitch classes (= exact match of the parsed pitch);
`map` = sklearn `average_precision_score(average="macro")` over the labels seen in the
reference or the prediction (a MultiLabelBinarizer fitted on both), with the prediction's hard
0/1 indicators as scores. A label seen only in predictions has no positive and scores AP 0
(sklearn warns; the official script inherits the same behaviour). `map` is None when no
quality label appears at all.

95 % intervals: 1000 seeded bootstrap resamples of samples. For `map` each resample's value is
computed exactly from counts: with 0/1 scores, AP of a label = R1*P1 + (1-R1)*pos/n, where
P1/R1 are precision/recall of the samples predicted positive (the two-threshold precision-
recall curve sklearn builds), and a label enters a resample's macro mean only when it occurs
in that resample (as the binarizer would have it).
"""

from __future__ import annotations

import re
import warnings
from typing import Any, Sequence

import numpy as np

from qa_eval.records import Prediction
from qa_eval.scoring.base import (
    Scorer,
    bootstrap_sums,
    check_options,
    library_versions,
    percentile_ci,
    require_str_references,
)

QUALITIES = frozenset({
    "bright", "dark", "distortion", "fast_decay", "long_release",
    "multiphonic", "nonlinear_env", "percussive", "reverb", "tempo-synced",
})
MISSING_NOTE = 128
_PITCH = re.compile(r"<\|pitch\|><\|midi_pitch_(.*?)\|>")
_VELOCITY = re.compile(r"<\|velocity\|><\|midi_velocity_(.*?)\|>")
_INSTRUMENT = re.compile(r"<\|instrument\|>(.*)")
_SONIC = re.compile(r"<\|sonic\|>(.*)")


def _int_field(pattern: re.Pattern[str], text: str) -> int:
    m = pattern.search(text)
    if m is None:
        return MISSING_NOTE
    try:
        return int(m.group(1))
    except ValueError:
        return MISSING_NOTE


def _text_field(pattern: re.Pattern[str], text: str) -> str:
    m = pattern.search(text)
    return m.group(1).split("<")[0] if m else ""


def parse_note(text: str) -> dict[str, Any]:
    """{'pitch': int, 'velocity': int, 'instrument': str, 'qualities': list[str]}."""
    sonic = _text_field(_SONIC, text)
    return {
        "pitch": _int_field(_PITCH, text),
        "velocity": _int_field(_VELOCITY, text),
        "instrument": _text_field(_INSTRUMENT, text),
        "qualities": [q for q in sonic.split(", ") if q in QUALITIES] if sonic else [],
    }


def _parsed(preds: Sequence[Prediction], options: dict[str, Any]):
    check_options("nsynth", options, {})
    refs = require_str_references("nsynth", preds)
    return [parse_note(r) for r in refs], [parse_note(p.prediction or "") for p in preds]


def _indicators(refs, hyps) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Labels (sorted union) and (n, L) 0/1 matrices for reference and prediction."""
    labels = sorted({q for d in refs + hyps for q in d["qualities"]})
    col = {q: i for i, q in enumerate(labels)}
    y = np.zeros((len(refs), len(labels)))
    s = np.zeros((len(refs), len(labels)))
    for i, (r, h) in enumerate(zip(refs, hyps)):
        for q in r["qualities"]:
            y[i, col[q]] = 1
        for q in h["qualities"]:
            s[i, col[q]] = 1
    return labels, y, s


def _matches(refs, hyps) -> np.ndarray:
    """(n, 3) 0/1: instrument, pitch, velocity exact match."""
    return np.array(
        [[r["instrument"] == h["instrument"], r["pitch"] == h["pitch"], r["velocity"] == h["velocity"]]
         for r, h in zip(refs, hyps)],
        dtype=np.float64,
    ).reshape(len(refs), 3)


def compute(preds: Sequence[Prediction], **options: Any):
    from sklearn.metrics import average_precision_score

    refs, hyps = _parsed(preds, options)
    m = _matches(refs, hyps)
    labels, y, s = _indicators(refs, hyps)
    values: dict[str, float | None] = {
        "instrument_acc": float(m[:, 0].mean()),
        "map": None,
        "pitch_acc": float(m[:, 1].mean()),
        "velocity_acc": float(m[:, 2].mean()),
    }
    details: dict[str, Any] = {
        "labels": labels,
        "n_missing_pitch_ref": sum(r["pitch"] == MISSING_NOTE for r in refs),
        "n_missing_pitch_pred": sum(h["pitch"] == MISSING_NOTE for h in hyps),
    }
    if labels:
        with warnings.catch_warnings():
            # "No positive class found in y_true": a label only predicted scores AP 0, as
            # in the official run; recorded below instead of printed.
            warnings.simplefilter("ignore", UserWarning)
            per_label = average_precision_score(y, s, average=None)
        per_label = np.atleast_1d(per_label)
        values["map"] = float(np.mean(per_label))
        details["ap_per_label"] = {q: float(v) for q, v in zip(labels, per_label)}
        details["labels_without_reference_positive"] = [
            q for q, k in zip(labels, y.sum(axis=0)) if k == 0
        ]
    else:
        details["note"] = "no quality label in references or predictions; map undefined"
    return values, details


def binary_ap_from_counts(tp: np.ndarray, pred_pos: np.ndarray, pos: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Average precision of hard 0/1 scores from counts (elementwise; see module docstring)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        recall1 = np.where(pos > 0, tp / np.where(pos > 0, pos, 1), 0.0)
        prec1 = np.where(pred_pos > 0, tp / np.where(pred_pos > 0, pred_pos, 1), 0.0)
        base = np.where(n > 0, pos / np.where(n > 0, n, 1), 0.0)
    ap = recall1 * prec1 + (1.0 - recall1) * base
    return np.where(pos > 0, ap, 0.0)


def intervals(preds: Sequence[Prediction], seed: int = 0, **options: Any):
    refs, hyps = _parsed(preds, options)
    m = _matches(refs, hyps)
    _, y, s = _indicators(refs, hyps)
    n_lab = y.shape[1]
    stats = np.concatenate([m, np.ones((len(refs), 1)), y * s, s, y], axis=1)
    sums = bootstrap_sums(stats, seed)
    out: dict[str, tuple[float, float]] = {}
    n = sums[:, 3]
    for k, metric in enumerate(("instrument_acc", "pitch_acc", "velocity_acc")):
        ci = percentile_ci(sums[:, k] / n)
        if ci:
            out[metric] = ci
    if n_lab:
        tp, pp, pos = (sums[:, 4 + j * n_lab : 4 + (j + 1) * n_lab] for j in range(3))
        ap = binary_ap_from_counts(tp, pp, pos, n[:, None])
        present = (pos > 0) | (pp > 0)
        with np.errstate(invalid="ignore"):
            maps = np.where(present.any(axis=1), (ap * present).sum(axis=1) / present.sum(axis=1), np.nan)
        ci = percentile_ci(maps)
        if ci:
            out["map"] = ci
    return out


def info() -> dict[str, Any]:
    return {"libraries": library_versions("scikit-learn")}


NSYNTH = Scorer(
    name="nsynth",
    version="1",
    higher_is_better={"instrument_acc": True, "map": True, "pitch_acc": True, "velocity_acc": True},
    compute=compute,
    intervals=intervals,
    info=info,
)
