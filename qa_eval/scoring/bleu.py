"""Corpus BLEU for speech translation (CoVoST 2), as in QwenLM/Qwen-Audio's `evaluate_st.py`.

Facts reproduced from the official script: BLEU is sacrebleu's corpus BLEU of the raw texts,
one reference per sample, per source; the only text handling is the `.strip()` of the decoded
response (references are used unchanged; special tokens are not removed); the tokenizer
follows the target language: `zh` -> "zh", `ja` -> "ja-mecab", anything else -> "13a".

Target language: the scorer option `tgt_lang`, else the rows' `tgt_lang` field (all rows of a
source must agree), else the source name: the second of two consecutive language codes after
the dataset name (`covost2_en_zh` and `covost2_en_zh_test` -> "zh"; the official script reads
the second-to-last `_` field of names shaped like the latter). When none of these says, the
scorer raises instead of guessing a tokenizer.

The sacrebleu signature (tokenizer, smoothing, version) goes into `details["signature"]`.
Note the paper used sacrebleu 1.5.x; 2.x gives the same numbers for these tokenizers.
Statistics: per sentence, the n-gram matches and totals (1-4), hypothesis and reference
lengths; corpus BLEU is sacrebleu's formula on their sums, which is exactly what
`corpus_score` computes (and so is each bootstrap resample's BLEU).
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

import numpy as np

from qa_eval.errors import PrerequisiteError, ScorerError
from qa_eval.records import Prediction
from qa_eval.provenance import library_versions
from qa_eval.scoring.base import Metric, SampleStats, Scorer, require_str_references, where

_LANG_CODE = re.compile(r"^[a-z]{2,3}$")
JA_HINT = 'pip install "sacrebleu[ja]"  (or: pip install "qa-eval[ja]")'


def tokenizer_for(tgt_lang: str) -> str:
    """The sacrebleu tokenizer the official script uses for a target language."""
    lang = tgt_lang.strip().lower().replace("_", "-").split("-")[0]
    return {"zh": "zh", "ja": "ja-mecab"}.get(lang, "13a")


def lang_from_source(source: str) -> str | None:
    """Target language from a source name such as `covost2_en_zh[_test]`, else None."""
    parts = source.lower().split("_")
    for i in range(1, len(parts) - 1):
        if _LANG_CODE.match(parts[i]) and _LANG_CODE.match(parts[i + 1]):
            return parts[i + 1]
    return None


def _target_lang(preds: Sequence[Prediction], option: str | None) -> tuple[str, str]:
    """(language, where it came from)."""
    if option:
        return str(option), "option"
    langs = {str(p.get("tgt_lang")) for p in preds if p.get("tgt_lang")}
    if len(langs) == 1:
        return langs.pop(), "field"
    if len(langs) > 1:
        first = preds[0]
        raise ScorerError(
            f"{where(first)}: source {first.source!r} mixes target languages "
            f"{sorted(langs)}; BLEU needs one per source"
        )
    from_source = lang_from_source(preds[0].source)
    if from_source:
        return from_source, "source name"
    raise ScorerError(
        f"{where(preds[0])}: cannot tell the target language of source {preds[0].source!r} "
        "(no 'tgt_lang' field, no language pair in the name); pass the scorer option tgt_lang"
    )


def _bleu(tokenize: str, effective_order: bool = False):
    from sacrebleu.metrics import BLEU

    try:
        return BLEU(tokenize=tokenize, effective_order=effective_order)
    except RuntimeError as exc:  # sacrebleu raises RuntimeError when MeCab is missing
        if tokenize == "ja-mecab":
            raise PrerequisiteError(
                f"BLEU for Japanese targets needs MeCab (tokenizer ja-mecab): {JA_HINT}"
            ) from None
        raise PrerequisiteError(f"sacrebleu tokenizer {tokenize!r} unavailable: {exc}") from None


def _sentence_stats(hyps: Sequence[str], refs: Sequence[str], tokenize: str) -> np.ndarray:
    """(n, 10): correct 1-4, total 1-4, hyp length, ref length per sentence."""
    bleu = _bleu(tokenize, effective_order=True)  # effective order only affects the score
    out = np.zeros((len(hyps), 10))
    for i, (h, r) in enumerate(zip(hyps, refs)):
        s = bleu.sentence_score(h, [r])
        out[i, :4], out[i, 4:8], out[i, 8], out[i, 9] = s.counts, s.totals, s.sys_len, s.ref_len
    return out


def _corpus_bleu(sums: np.ndarray, tokenize: str):
    """sacrebleu's corpus BLEU (a BLEUScore) from summed sentence statistics."""
    from sacrebleu.metrics import BLEU as SacreBLEU

    bleu = _bleu(tokenize)
    return SacreBLEU.compute_bleu(
        [int(x) for x in sums[:4]], [int(x) for x in sums[4:8]], int(sums[8]), int(sums[9]),
        smooth_method=bleu.smooth_method, smooth_value=bleu.smooth_value,
    )


def _signature(tokenize: str) -> str:
    """sacrebleu's signature of corpus BLEU with one reference per sentence (sacrebleu knows the
    number of references only after scoring something, hence the one-sentence call)."""
    bleu = _bleu(tokenize)
    bleu.corpus_score(["a"], [["a"]])
    return bleu.get_signature().format()


class BleuScorer(Scorer):
    """Corpus BLEU per source, tokenizer by target language."""

    metrics = (Metric("bleu", higher_is_better=True, tolerance=0.5, unit="BLEU 0-100", decimals=2),)
    option_defaults = {"tgt_lang": None}

    def statistics(self, preds: Sequence[Prediction], options: Mapping[str, Any]) -> SampleStats:
        refs = require_str_references(self.name, preds)
        hyps = [(p.prediction or "").strip() for p in preds]
        lang, origin = _target_lang(preds, options["tgt_lang"])
        tokenize = tokenizer_for(lang)
        facts = {"signature": _signature(tokenize), "tokenize": tokenize, "tgt_lang": lang,
                 "tgt_lang_from": origin}
        return SampleStats(_sentence_stats(hyps, refs, tokenize), facts)

    def reduce(self, sums: np.ndarray, facts: Mapping[str, Any]) -> dict[str, float | None]:
        return {"bleu": float(_corpus_bleu(sums, facts["tokenize"]).score)}

    def details(self, sums: np.ndarray, facts: Mapping[str, Any]) -> dict[str, Any]:
        result = _corpus_bleu(sums, facts["tokenize"])
        return {**facts, "precisions": [float(x) for x in result.precisions], "bp": float(result.bp),
                "sys_len": int(result.sys_len), "ref_len": int(result.ref_len)}

    def info(self) -> dict[str, Any]:
        import sacrebleu

        return {
            "libraries": library_versions("sacrebleu"),
            "signature": f"nrefs:1|case:mixed|eff:no|tok:<by target>|smooth:exp|version:{sacrebleu.__version__}",
        }


BLEU = BleuScorer("bleu")
