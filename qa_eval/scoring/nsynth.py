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

Statistics: per sample, the three matches, one, and per quality label (reference and
prediction) 1 & 1, prediction, reference. `map` comes from their sums: with 0/1 scores, AP of a
label = R1*P1 + (1-R1)*pos/n, where P1/R1 are precision/recall of the samples predicted
positive (the two-threshold precision-recall curve sklearn builds; the same floating-point
operations, so the value equals sklearn's to the last bit), and a label enters the macro mean
only when it occurs (as the binarizer would have it; in a bootstrap resample too).
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

import numpy as np

from qa_eval.records import Prediction
from qa_eval.provenance import library_versions
from qa_eval.scoring.base import Metric, SampleStats, Scorer, ratio, require_str_references

QUALITIES = frozenset({
    "bright", "dark", "distortion", "fast_decay", "long_release",
    "multiphonic", "nonlinear_env", "percussive", "reverb", "tempo-synced",
})
MISSING_NOTE = 128
_PITCH = re.compile(r"<\|pitch\|><\|midi_pitch_(.*?)\|>")
_VELOCITY = re.compile(r"<\|velocity\|><\|midi_velocity_(.*?)\|>")
_INSTRUMENT = re.compile(r"<\|instrument\|>(.*)")
_SONIC = re.compile(r"<\|sonic\|>(.*)")
# columns: instrument, pitch, velocity matches, one; then per label: tp, predicted, reference
INSTRUMENT, PITCH, VELOCITY, ONE, LABELS = range(5)


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


def binary_ap_from_counts(tp: np.ndarray, pred_pos: np.ndarray, pos: np.ndarray, n: np.ndarray) -> np.ndarray:
    """Average precision of hard 0/1 scores from counts (elementwise; see module docstring)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        recall1 = np.where(pos > 0, tp / np.where(pos > 0, pos, 1), 0.0)
        prec1 = np.where(pred_pos > 0, tp / np.where(pred_pos > 0, pred_pos, 1), 0.0)
        base = np.where(n > 0, pos / np.where(n > 0, n, 1), 0.0)
    ap = recall1 * prec1 + (1.0 - recall1) * base
    return np.where(pos > 0, ap, 0.0)


class NsynthScorer(Scorer):
    """Instrument, pitch and velocity accuracy and the qualities' macro AP."""

    metrics = (
        Metric("instrument_acc", higher_is_better=True, tolerance=0.01),
        Metric("map", higher_is_better=True, tolerance=0.01),
        Metric("pitch_acc", higher_is_better=True, tolerance=0.01),
        Metric("velocity_acc", higher_is_better=True, tolerance=0.01),
    )

    def statistics(self, preds: Sequence[Prediction], options: Mapping[str, Any]) -> SampleStats:
        refs = [parse_note(r) for r in require_str_references(self.name, preds)]
        hyps = [parse_note(p.prediction or "") for p in preds]
        labels = sorted({q for d in refs + hyps for q in d["qualities"]})
        col = {q: i for i, q in enumerate(labels)}
        y = np.zeros((len(refs), len(labels)))
        s = np.zeros((len(refs), len(labels)))
        for i, (r, h) in enumerate(zip(refs, hyps)):
            y[i, [col[q] for q in r["qualities"]]] = 1
            s[i, [col[q] for q in h["qualities"]]] = 1
        matches = np.array([[r["instrument"] == h["instrument"], r["pitch"] == h["pitch"],
                             r["velocity"] == h["velocity"], True] for r, h in zip(refs, hyps)],
                           dtype=np.float64).reshape(len(refs), 4)
        facts = {
            "labels": labels,
            "n_missing_pitch_ref": sum(r["pitch"] == MISSING_NOTE for r in refs),
            "n_missing_pitch_pred": sum(h["pitch"] == MISSING_NOTE for h in hyps),
        }
        return SampleStats(np.concatenate([matches, y * s, s, y], axis=1), facts)

    def _per_label_ap(self, sums: np.ndarray, n_labels: int) -> tuple[np.ndarray, np.ndarray]:
        """(AP per label, whether the label occurs) from the summed label columns."""
        tp, pp, pos = (sums[LABELS + j * n_labels: LABELS + (j + 1) * n_labels] for j in range(3))
        return binary_ap_from_counts(tp, pp, pos, sums[ONE]), (pos > 0) | (pp > 0)

    def reduce(self, sums: np.ndarray, facts: Mapping[str, Any]) -> dict[str, float | None]:
        n = sums[ONE]
        ap, present = self._per_label_ap(sums, len(facts["labels"]))
        return {
            "instrument_acc": ratio(sums[INSTRUMENT], n),
            "map": float(np.mean(ap[present])) if present.any() else None,
            "pitch_acc": ratio(sums[PITCH], n),
            "velocity_acc": ratio(sums[VELOCITY], n),
        }

    def details(self, sums: np.ndarray, facts: Mapping[str, Any]) -> dict[str, Any]:
        labels = facts["labels"]
        if not labels:
            return {**facts, "note": "no quality label in references or predictions; map undefined"}
        ap, _ = self._per_label_ap(sums, len(labels))
        pos = sums[LABELS + 2 * len(labels): LABELS + 3 * len(labels)]
        return {**facts, "ap_per_label": {q: float(v) for q, v in zip(labels, ap)},
                "labels_without_reference_positive": [q for q, k in zip(labels, pos) if k == 0]}

    def info(self) -> dict[str, Any]:
        return {"libraries": library_versions("numpy"), "map": "sklearn's average precision, from counts"}


NSYNTH = NsynthScorer("nsynth")
