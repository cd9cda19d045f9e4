"""Text normalisation and tokenisation for WER-style scoring.

Two families, kept apart on purpose:

* the Qwen-Audio paper rules (`paper_clean`, `paper_tokens`), as in the official
  `eval_audio/evaluate_asr.py` / `evaluate_srwt.py`: every `<|...|>` becomes a space,
  whitespace runs collapse to one space, a space before one of `!,.?;:` is deleted, leading
  spaces go; for Chinese all whitespace is deleted. Scoring then lowercases, splits on
  whitespace (the official `EvaluationTokenizer` is built with sacrebleu's "none" tokenizer,
  i.e. identity, and no punctuation removal) and, for Chinese, scores per character.
* the Qwen2-Audio rules (`normalized_tokens`), as in Qwen2-Audio's `evaluate_asr.py`: the same
  cleaning, then per language: `en` -> Whisper English normaliser followed by the Whisper basic
  normaliser (the official script applies both, because its `zh` test is an if/else after the
  `en` test); `zh` -> Chinese text normalisation (numbers verbalised, punctuation to spaces);
  `yue` -> traditional -> simplified (zhconv, "zh-cn") then the basic normaliser; anything else
  -> the basic normaliser. Then tokens made only of punctuation are dropped, text is
  lowercased, and `zh`/`yue` are scored per character.

The official Chinese normaliser is SpeechIO's `cn_tn.TextNorm` (with every optional step off:
only number/"NSW" verbalisation and punctuation removal run). It is not on PyPI, so here number
verbalisation uses `cn2an.transform(text, "an2cn")`. The two agree on plain cardinals, dates,
fractions and percentages; they differ on e.g. phone numbers (cn_tn reads digits one by one)
and signed decimals. Numbers in the Chinese test sets are rare; the difference is documented,
not hidden.
"""

from __future__ import annotations

import re
import string
import unicodedata
from functools import lru_cache

SPECIAL_TOKEN = re.compile(r"<\|.*?\|>")
_WS = re.compile(r"\s+")
_PUNCS = "!,.?;:"  # a space before one of these is deleted
_SPACE_BEFORE_PUNCT = re.compile(r" ?([!,.?;:])")

CHAR_LEVEL_LANGS = frozenset({"zh"})  # paper scorer: per-character scoring
NORMALIZED_CHAR_LEVEL_LANGS = frozenset({"zh", "yue"})  # Qwen2-Audio scorer


def base_lang(lang: str | None) -> str | None:
    """'zh-CN' -> 'zh'; None stays None."""
    if lang is None:
        return None
    return str(lang).strip().lower().replace("_", "-").split("-")[0] or None


def paper_clean(text: str, lang: str | None) -> str:
    """The official `remove_sp`: special tokens -> space, collapse, no space before punctuation."""
    text = SPECIAL_TOKEN.sub(" ", text)
    text = _WS.sub(" ", text)
    text = _SPACE_BEFORE_PUNCT.sub(r"\1", text)
    text = text.lstrip(" ")
    if lang == "zh":
        text = _WS.sub("", text)
    return text


def paper_tokens(text: str, lang: str | None) -> list[str]:
    """Scoring units of the paper scorer: lowercased words, or characters for Chinese.

    Same result as `paper_clean(text, lang).lower().split()` (then per character for
    Chinese), computed with str methods: after whitespace runs collapse to one space,
    deleting " ?" before each of `!,.?;:` equals replacing " c" by "c" for each c.
    """
    lang = base_lang(lang)
    if "<|" in text:
        text = SPECIAL_TOKEN.sub(" ", text)
    text = " ".join(text.split())
    for c in _PUNCS:
        if c in text:
            text = text.replace(" " + c, c)
    text = text.lower()
    if lang in CHAR_LEVEL_LANGS:
        return list("".join(text.split()))
    return text.split()


# --- Qwen2-Audio style normalisation ---------------------------------------------------------

# ASCII punctuation and symbols, their full-width forms (U+FF01..U+FF5E), plus every Unicode
# punctuation character: all become spaces in the Chinese normaliser.
_ASCII_PUNCT = set(string.punctuation)
_FULLWIDTH_PUNCT = {chr(ord(c) + 0xFEE0) for c in _ASCII_PUNCT}


def _is_zh_punct(ch: str) -> bool:
    return ch in _ASCII_PUNCT or ch in _FULLWIDTH_PUNCT or unicodedata.category(ch).startswith("P")


@lru_cache(maxsize=1)
def _normalizers():
    from whisper_normalizer.basic import BasicTextNormalizer
    from whisper_normalizer.english import EnglishTextNormalizer

    return EnglishTextNormalizer(), BasicTextNormalizer()


def chinese_normalize(text: str) -> str:
    """Numbers verbalised in Chinese (cn2an), punctuation replaced by spaces."""
    import cn2an

    try:
        text = cn2an.transform(text, "an2cn")
    except (ValueError, KeyError, IndexError):  # cn2an rejects some digit strings; keep them
        pass
    return "".join(" " if _is_zh_punct(c) else c for c in text)


def _drop_punct_tokens(text: str) -> str:
    """Drop space-separated tokens made only of Unicode punctuation (category P*)."""
    return " ".join(
        t for t in text.split(" ") if not all(unicodedata.category(c).startswith("P") for c in t)
    )


def normalized_tokens(text: str, lang: str | None) -> list[str]:
    """Scoring units of the Qwen2-Audio style normalising scorer."""
    lang = base_lang(lang)
    english, basic = _normalizers()
    text = paper_clean(text, lang)
    if lang == "yue":
        import zhconv

        text = zhconv.convert(text, "zh-cn")
    if lang == "en":
        text = english(text)
    if lang == "zh":
        text = chinese_normalize(text)
    else:
        text = basic(text)
    text = _drop_punct_tokens(text).lower()
    items = text.split()
    if lang in NORMALIZED_CHAR_LEVEL_LANGS:
        return list("".join(items))
    return items
