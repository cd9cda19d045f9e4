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
95 % intervals: 1000 seeded bootstrap resamples of sentences; each resample's BLEU is
recomputed from its summed n-gram statistics (exactly corpus BLEU of the resample).
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Sequence

import numpy as np

from qa_eval.errors import PrerequisiteError, ScorerError
from qa_eval.records import Prediction
from qa_eval.scoring.base import (
    Scorer,
    bootstrap_sums,
    check_options,
    library_versions,
    percentile_ci,
    require_str_references,
    where,
)

_OPTIONS = {"tgt_lang": None}
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


@lru_cache(maxsize=4)
def _sentence_stats(hyps: tuple[str, ...], refs: tuple[str, ...], tokenize: str) -> np.ndarray:
    """(n, 10): correct 1-4, total 1-4, hyp length, ref length per sentence."""
    bleu = _bleu(tokenize, effective_order=True)  # effective order only affects the score
    out = np.zeros((len(hyps), 10))
    for i, (h, r) in enumerate(zip(hyps, refs)):
        s = bleu.sentence_score(h, [r])
        out[i, :4], out[i, 4:8], out[i, 8], out[i, 9] = s.counts, s.totals, s.sys_len, s.ref_len
    out.setflags(write=False)
    return out


def _prepare(preds: Sequence[Prediction], options: dict[str, Any]):
    opts = check_options("bleu", options, _OPTIONS)
    refs = tuple(require_str_references("bleu", preds))
    hyps = tuple((p.prediction or "").strip() for p in preds)
    lang, origin = _target_lang(preds, opts["tgt_lang"])
    return hyps, refs, lang, origin


def compute(preds: Sequence[Prediction], **options: Any):
    hyps, refs, lang, origin = _prepare(preds, options)
    tokenize = tokenizer_for(lang)
    bleu = _bleu(tokenize)
    result = bleu.corpus_score(list(hyps), [list(refs)])
    details = {
        "signature": bleu.get_signature().format(),
        "tokenize": tokenize,
        "tgt_lang": lang,
        "tgt_lang_from": origin,
        "precisions": [float(x) for x in result.precisions],
        "bp": float(result.bp),
        "sys_len": int(result.sys_len),
        "ref_len": int(result.ref_len),
    }
    return {"bleu": float(result.score)}, details


def intervals(preds: Sequence[Prediction], seed: int = 0, **options: Any):
    from sacrebleu.metrics import BLEU

    hyps, refs, lang, _ = _prepare(preds, options)
    tokenize = tokenizer_for(lang)
    bleu = _bleu(tokenize)
    sums = bootstrap_sums(_sentence_stats(hyps, refs, tokenize), seed)
    scores = [
        BLEU.compute_bleu(
            [int(x) for x in row[:4]], [int(x) for x in row[4:8]], int(row[8]), int(row[9]),
            smooth_method=bleu.smooth_method, smooth_value=bleu.smooth_value,
        ).score
        for row in sums
    ]
    ci = percentile_ci(scores)
    return {"bleu": ci} if ci else {}


def info() -> dict[str, Any]:
    import sacrebleu

    return {
        "libraries": library_versions("sacrebleu"),
        "signature": f"nrefs:1|case:mixed|eff:no|tok:<by target>|smooth:exp|version:{sacrebleu.__version__}",
    }


BLEU = Scorer(
    name="bleu",
    version="1",
    higher_is_better={"bleu": True},
    compute=compute,
    intervals=intervals,
    info=info,
)
