"""`wer-normalized` equals the official Qwen2-Audio `compute_wer`, per source, exactly.

Predictions files goldens/predictions_*.jsonl; expected WERs goldens/wer_official.jsonl,
recorded by running the official code (derivation in goldens/README.md). LibriSpeech and
Aishell1 go through the `qa-eval score` CLI; the Cantonese (yue) and French sources, which no
task of those two holds, through the scorer itself.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from qwen2_goldens import GOLDENS, load

from qa_eval.records import Prediction
from qa_eval.scoring.wer import NORMALIZED_WER
from qa_eval.store import read_predictions

EXPECTED = load("wer_official.jsonl")


def _expected(predictions: str) -> dict[str, float]:
    return {r["source"]: r["wer"] for r in EXPECTED if r["predictions"] == predictions}


@pytest.mark.parametrize("task, predictions", [
    ("librispeech", "predictions_librispeech.jsonl"),
    ("aishell1", "predictions_aishell1.jsonl"),
])
def test_cli_score_equals_official_per_source(task, predictions):
    proc = subprocess.run(
        [sys.executable, "-m", "qa_eval", "score", "--task", task, "--predictions",
         str(GOLDENS / predictions), "--scorer", "wer-normalized", "--json"],
        capture_output=True, text=True, check=True,
    )
    per_source = json.loads(proc.stdout)["per_source"]
    expected = _expected(predictions)
    assert len(expected) >= 2
    assert {s: m["wer"] for s, m in per_source.items()} == expected  # floats equal exactly


def test_cantonese_and_french_sources_equal_official():
    scored = NORMALIZED_WER.score(read_predictions(GOLDENS / "predictions_other.jsonl"), bootstrap=False)
    assert {s: m.values["wer"] for s, m in scored.items()} == _expected("predictions_other.jsonl")


def test_reference_without_tokens_still_counts_its_insertions():
    """Official aggregation: edits summed over the source / reference tokens summed. A
    reference that normalises to nothing ('(LAUGHS)') adds its prediction's 2 words as edits
    and 0 to the denominator; one of 2 words wrong elsewhere: (2 + 1) / 2."""
    rows = [
        Prediction("a", "s", "HELLO WORLD", "hello word", None, {"lang": "en"}),
        Prediction("b", "s", "(LAUGHS)", "ha ha", None, {"lang": "en"}),
    ]
    assert NORMALIZED_WER.score(rows, bootstrap=False)["s"].values["wer"] == 1.5
