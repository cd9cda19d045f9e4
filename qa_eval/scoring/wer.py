"""Word error rate: the Qwen-Audio paper scorer and the Qwen2-Audio style normalising scorer.

`PAPER_WER` ("wer") reproduces `eval_audio/evaluate_asr.py` of QwenLM/Qwen-Audio: both texts
are cleaned by the paper rules (see `qa_eval.scoring.text.paper_clean`), lowercased and split
on whitespace; Chinese (`lang` "zh") is scored per character. WER = edit distance summed over
the source / reference tokens summed over the source (a corpus ratio, never a mean of
per-utterance rates). No punctuation removal, no Whisper normaliser: "Hello, world." and
"hello world" differ by two substitutions.

`NORMALIZED_WER` ("wer-normalized") follows QwenLM/Qwen2-Audio's `evaluate_asr.py` (Whisper
English normaliser, Chinese number verbalisation and punctuation removal, traditional ->
simplified for Cantonese); see `qa_eval.scoring.text.normalized_tokens` for the exact chain
and the one documented approximation (cn2an instead of SpeechIO's cn_tn).

The language of a row is its `lang` field; the scorer option `lang` is the default for rows
without one. Distances come from rapidfuzz's Levenshtein edit operations, which also give the
substitution / deletion / insertion split (the total equals `editdistance.eval`, the official
scripts' library). 95 % intervals: 1000 seeded bootstrap resamples of utterances, each
resample's WER = its summed edits / its summed reference tokens.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Callable, Sequence

import numpy as np
from rapidfuzz.distance import Levenshtein

from qa_eval.records import Prediction
from qa_eval.scoring.base import (
    Scorer,
    bootstrap_sums,
    check_options,
    library_versions,
    ratio_ci,
    require_str_references,
)
from qa_eval.scoring.text import (
    CHAR_LEVEL_LANGS,
    NORMALIZED_CHAR_LEVEL_LANGS,
    base_lang,
    normalized_tokens,
    paper_tokens,
)

_OPTIONS = {"lang": None}
# columns of the per-utterance statistics
EDITS, REF, SUB, DEL, INS, HYP = range(6)


def edit_counts(ref: Sequence[str], hyp: Sequence[str]) -> tuple[int, int, int]:
    """(substitutions, deletions, insertions) of one minimal Levenshtein alignment."""
    sub = dele = ins = 0
    for tag, _, _ in Levenshtein.editops(ref, hyp).as_list():
        if tag == "replace":
            sub += 1
        elif tag == "delete":
            dele += 1
        else:
            ins += 1
    return sub, dele, ins


@lru_cache(maxsize=4)
def _stats(rows: tuple[tuple[str, str, str | None], ...], normalized: bool) -> np.ndarray:
    """(n, 6) int array: edits, ref tokens, S, D, I, hyp tokens per utterance."""
    tokenize: Callable[[str, str | None], list[str]] = normalized_tokens if normalized else paper_tokens
    out = np.zeros((len(rows), 6), dtype=np.int64)
    for i, (ref, hyp, lang) in enumerate(rows):
        r, h = tokenize(ref, lang), tokenize(hyp, lang)
        if r == h:
            out[i, REF] = out[i, HYP] = len(r)
            continue
        s, d, n_ins = edit_counts(r, h)
        out[i] = (s + d + n_ins, len(r), s, d, n_ins, len(h))
    out.setflags(write=False)
    return out


def _rows(scorer: str, preds: Sequence[Prediction], options: dict[str, Any]):
    opts = check_options(scorer, options, _OPTIONS)
    refs = require_str_references(scorer, preds)
    rows = tuple(
        (ref, p.prediction or "", base_lang(p.get("lang") or opts["lang"]))
        for ref, p in zip(refs, preds)
    )
    return rows


def _make(name: str, normalized: bool) -> Scorer:
    char_langs = NORMALIZED_CHAR_LEVEL_LANGS if normalized else CHAR_LEVEL_LANGS

    def compute(preds: Sequence[Prediction], **options: Any):
        rows = _rows(name, preds, options)
        st = _stats(rows, normalized)
        tot = st.sum(axis=0)
        langs = sorted({r[2] or "unspecified" for r in rows})
        units = {"char" if r[2] in char_langs else "word" for r in rows}
        details: dict[str, Any] = {
            "edits": int(tot[EDITS]),
            "substitutions": int(tot[SUB]),
            "deletions": int(tot[DEL]),
            "insertions": int(tot[INS]),
            "ref_tokens": int(tot[REF]),
            "hyp_tokens": int(tot[HYP]),
            "unit": units.pop() if len(units) == 1 else "mixed",
            "langs": langs,
        }
        if tot[REF] == 0:
            details["note"] = "the references of this source have no tokens; WER undefined"
            return {"wer": None}, details
        return {"wer": float(tot[EDITS] / tot[REF])}, details

    def intervals(preds: Sequence[Prediction], seed: int = 0, **options: Any):
        st = _stats(_rows(name, preds, options), normalized)
        ci = ratio_ci(bootstrap_sums(st[:, [EDITS, REF]], seed))
        return {"wer": ci} if ci else {}

    def info() -> dict[str, Any]:
        libs = ["rapidfuzz"] + (["whisper-normalizer", "cn2an", "zhconv"] if normalized else [])
        return {
            "rules": "qwen2-audio-normalized" if normalized else "qwen-audio-paper",
            "libraries": library_versions(*libs),
        }

    return Scorer(
        name=name,
        version="1",
        higher_is_better={"wer": False},
        compute=compute,
        intervals=intervals,
        info=info,
    )


PAPER_WER = _make("wer", normalized=False)
NORMALIZED_WER = _make("wer-normalized", normalized=True)
