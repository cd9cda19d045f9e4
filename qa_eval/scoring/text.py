"""Text normalisation and tokenisation for WER-style scoring.

Two families, kept apart on purpose:

* the Qwen-Audio paper rules (`paper_clean`, `paper_tokens`), as in the official
  `eval_audio/evaluate_asr.py` / `evaluate_srwt.py`: every `<|...|>` becomes a space,
  whitespace runs collapse to one space, a space before one of `!,.?;:` is deleted, leading
  spaces go; for Chinese all whitespace is deleted. Scoring then lowercases, splits on
  whitespace (the official `EvaluationTokenizer` is built with sacrebleu's "none" tokenizer,
  i.e. identity, and no punctuation removal) and, for Chinese, scores per character.
* the Qwen2-Audio rules (`normalized_tokens`), as in QwenLM/Qwen2-Audio's
  `eval_audio/evaluate_asr.py`, in its order: the same cleaning (`paper_clean`; whitespace
  deleted only for `zh`); `yue` -> traditional -> simplified (zhconv, "zh-cn"); `en` -> Whisper
  English normaliser; then `zh` -> SpeechIO cn_tn text normalisation (`chinese_normalize`,
  see `qa_eval.scoring.normalizers.chinese`), every other language (`en` too: the official
  `zh` test is an if/else after the `en` test) -> Whisper basic normaliser. Then the official
  `EvaluationTokenizer` (punctuation removal on): split on single spaces, drop tokens made only
  of Unicode punctuation, lowercase, split on whitespace; `zh` and `yue` are scored per
  character of the joined tokens.
"""

from __future__ import annotations

import re
import unicodedata

from qa_eval.scoring.normalizers import whisper
from qa_eval.scoring.normalizers.chinese import chinese_normalize

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


def _drop_punct_tokens(text: str) -> str:
    """The official EvaluationTokenizer's punctuation removal: split on ' ', drop every token
    made only of Unicode punctuation (category P*), empty tokens included."""
    return " ".join(
        t for t in text.split(" ") if not all(unicodedata.category(c).startswith("P") for c in t)
    )


def normalized_tokens(text: str, lang: str | None) -> list[str]:
    """Scoring units of the Qwen2-Audio normalising scorer (order of steps as the official)."""
    lang = base_lang(lang)
    text = paper_clean(text, lang)
    if lang == "yue":
        import zhconv

        text = zhconv.convert(text, "zh-cn")
    if lang == "en":
        text = whisper.english(text)
    text = chinese_normalize(text) if lang == "zh" else whisper.basic(text)
    items = _drop_punct_tokens(text).lower().split()
    if lang in NORMALIZED_CHAR_LEVEL_LANGS:
        return list("".join(items))
    return items
