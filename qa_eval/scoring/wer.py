"""Word error rate: the Qwen-Audio paper scorer and the Qwen2-Audio style normalising scorer.

`PAPER_WER` ("wer") reproduces `eval_audio/evaluate_asr.py` of QwenLM/Qwen-Audio: both texts
are cleaned by the paper rules (see `qa_eval.scoring.text.paper_clean`), lowercased and split
on whitespace; Chinese (`lang` "zh") is scored per character. WER = edit distance summed over
the source / reference tokens summed over the source (a corpus ratio, never a mean of
per-utterance rates). No punctuation removal, no Whisper normaliser: "Hello, world." and
"hello world" differ by two substitutions.

`NORMALIZED_WER` ("wer-normalized", version 2) is QwenLM/Qwen2-Audio's `evaluate_asr.py`: the
Whisper English normaliser as that repository bundles it, SpeechIO cn_tn's rules for Chinese,
traditional -> simplified for Cantonese, the basic normaliser otherwise; see
`qa_eval.scoring.text.normalized_tokens` for the chain (version 1 used the PyPI normaliser and
cn2an, which differ from the official code).

The language of a row is its `lang` field; the scorer option `lang` is the default for rows
without one. Distances come from rapidfuzz's Levenshtein edit operations, which also give the
substitution / deletion / insertion split (the total equals `editdistance.eval`, the official
scripts' library). Statistics per utterance: edits, reference tokens, S, D, I, hypothesis
tokens; WER = summed edits / summed reference tokens.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import numpy as np
from rapidfuzz.distance import Levenshtein

from qa_eval.records import Prediction
from qa_eval.provenance import library_versions
from qa_eval.scoring.base import Metric, SampleStats, Scorer, ratio, require_str_references
from qa_eval.scoring.text import (
    CHAR_LEVEL_LANGS,
    NORMALIZED_CHAR_LEVEL_LANGS,
    base_lang,
    normalized_tokens,
    paper_tokens,
)

WER = Metric("wer", higher_is_better=False, tolerance=0.005)
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


class WerScorer(Scorer):
    """Corpus WER per source: the paper rules (`normalized=False`) or Qwen2-Audio's."""

    metrics = (WER,)
    option_defaults = {"lang": None}

    def __init__(self, name: str, normalized: bool, version: str) -> None:
        super().__init__(name)
        self.normalized, self.version = normalized, version
        self.tokenize: Callable[[str, str | None], list[str]] = normalized_tokens if normalized else paper_tokens
        self.char_langs = NORMALIZED_CHAR_LEVEL_LANGS if normalized else CHAR_LEVEL_LANGS

    def statistics(self, preds: Sequence[Prediction], options: Mapping[str, Any]) -> SampleStats:
        refs = require_str_references(self.name, preds)
        rows = np.zeros((len(preds), 6), dtype=np.float64)
        langs = []
        for i, (ref, p) in enumerate(zip(refs, preds)):
            lang = base_lang(p.get("lang") or options["lang"])
            langs.append(lang)
            r, h = self.tokenize(ref, lang), self.tokenize(p.prediction or "", lang)
            if r == h:
                rows[i, REF] = rows[i, HYP] = len(r)
                continue
            s, d, n_ins = edit_counts(r, h)
            rows[i] = (s + d + n_ins, len(r), s, d, n_ins, len(h))
        units = {"char" if lang in self.char_langs else "word" for lang in langs}
        facts = {"unit": units.pop() if len(units) == 1 else "mixed",
                 "langs": sorted({lang or "unspecified" for lang in langs})}
        return SampleStats(rows, facts)

    def reduce(self, sums: np.ndarray, facts: Mapping[str, Any]) -> dict[str, float | None]:
        return {"wer": ratio(sums[EDITS], sums[REF])}

    def details(self, sums: np.ndarray, facts: Mapping[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {
            "edits": int(sums[EDITS]),
            "substitutions": int(sums[SUB]),
            "deletions": int(sums[DEL]),
            "insertions": int(sums[INS]),
            "ref_tokens": int(sums[REF]),
            "hyp_tokens": int(sums[HYP]),
            **facts,
        }
        if sums[REF] == 0:
            out["note"] = "the references of this source have no tokens; WER undefined"
        return out

    def info(self) -> dict[str, Any]:
        libs = ["rapidfuzz"] + (["transformers", "whisper-normalizer", "zhconv"] if self.normalized else [])
        return {
            "rules": "qwen2-audio-normalized" if self.normalized else "qwen-audio-paper",
            "libraries": library_versions(*libs),
        }


PAPER_WER = WerScorer("wer", normalized=False, version="1")
NORMALIZED_WER = WerScorer("wer-normalized", normalized=True, version="2")  # 2: the official Qwen2-Audio rules
