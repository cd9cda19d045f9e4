"""`qa-eval score` on a hand-written predictions file: scorer choice, options, provenance."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROWS = [
    {"id": "a", "source": "librispeech_test_clean", "reference": "MISTER QUILTER IS HERE", "lang": "en",
     "prediction": "Mr. Quilter is here.", "error": None},
    {"id": "b", "source": "librispeech_test_clean", "reference": "GOOD MORNING", "lang": "en",
     "prediction": None, "error": "audio file not found"},
]


def score(tmp_path: Path, *extra: str) -> dict:
    path = tmp_path / "p.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    proc = subprocess.run([sys.executable, "-m", "qa_eval", "score", "--task", "librispeech", "--predictions",
                           str(path), "--json", *extra], capture_output=True, text=True, check=True)
    return json.loads(proc.stdout)


def test_paper_scorer_by_default(tmp_path: Path) -> None:
    """Paper rules: lowercase, no punctuation removal -> 'mr.' and 'here.' are 2 substitutions of 4."""
    doc = score(tmp_path)
    entry = doc["per_source"]["librispeech_test_clean"]
    assert doc["scorer"]["name"] == "wer" and entry["wer"] == 0.5
    assert entry["n"] == 2 and entry["n_failed"] == 1  # the failed row is counted, not scored as ""


def test_normalizing_scorer_and_options_are_recorded(tmp_path: Path) -> None:
    """Whisper normalizer: 'Mr.' -> 'mister', punctuation removed -> 0 errors."""
    doc = score(tmp_path, "--scorer", "wer-normalized", "--scorer-option", "lang=en")
    assert doc["scorer"]["name"] == "wer-normalized" and doc["scorer"]["options"] == {"lang": "en"}
    assert doc["per_source"]["librispeech_test_clean"]["wer"] == 0.0
