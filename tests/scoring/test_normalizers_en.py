"""English normaliser of `wer-normalized` against the official Qwen2-Audio one.

Goldens: goldens/normalize_en.jsonl (official outputs, derivation in goldens/README.md).
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from qwen2_goldens import load

from qa_eval.errors import PrerequisiteError
from qa_eval.scoring.normalizers import whisper
from qa_eval.scoring.text import normalized_tokens

GOLD = load("normalize_en.jsonl")


def test_goldens_cover_enough_lines():
    assert len(GOLD) >= 60


@pytest.mark.parametrize("row", GOLD, ids=[r["input"][:40] for r in GOLD])
def test_english_normalizer_equals_official(row):
    assert whisper.english(row["input"]) == row["expected"]


@pytest.mark.parametrize("row", GOLD, ids=[r["input"][:40] for r in GOLD])
def test_scoring_units_equal_official(row):
    assert normalized_tokens(row["input"], "en") == row["tokens"]


def test_informal_words_are_kept_unlike_pypi_whisper_normalizer():
    """The official normaliser keeps kinda/sorta/dunno and does not turn 'cause'/'cause' into
    'because' (the whisper-normalizer package's own EnglishTextNormalizer does)."""
    out = whisper.english("I'm kinda sorta tired, dunno why 'cause cause")
    assert out.split() == ["i", "am", "kinda", "sorta", "tired", "dunno", "why", "cause", "cause"]


def test_numbers_symbols_then_basic_normaliser():
    """English step keeps '$' and '.', the basic normaliser after it turns them into spaces:
    '$21.05' -> tokens '21', '05' (official order: English, then basic)."""
    assert whisper.english("twenty one dollars and five cents") == "$21.05"
    assert normalized_tokens("twenty one dollars and five cents", "en") == ["21", "05"]


def test_spelling_table_is_openais():
    table = whisper.spelling_table()
    assert len(table) == 1739 and table["colour"] == "color"


def test_other_spelling_table_is_refused(tmp_path, monkeypatch):
    """A table that is not OpenAI's would change scores silently: PrerequisiteError instead."""
    (tmp_path / "normalizers").mkdir()
    (tmp_path / "normalizers" / "english.json").write_text('{"colour": "color"}')
    monkeypatch.setattr(whisper, "files", lambda package: tmp_path)
    whisper.spelling_table.cache_clear()
    try:
        with pytest.raises(PrerequisiteError, match="not OpenAI's spelling table"):
            whisper.spelling_table()
    finally:
        whisper.spelling_table.cache_clear()


def test_scoring_text_does_not_import_torch():
    code = ("import sys; from qa_eval.scoring.text import normalized_tokens; "
            "normalized_tokens('Mr. Smith', 'en'); normalized_tokens('3个', 'zh'); "
            "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", code], check=True)
