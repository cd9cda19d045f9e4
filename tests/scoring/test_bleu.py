"""Corpus BLEU for S2TT. Oracle: `sacrebleu.corpus_bleu(hyps, [refs], tokenize=...)` with the
stripped responses, exactly the call of the official `evaluate_st.py`."""

import importlib.util

import numpy as np
import pytest
import sacrebleu
from sacrebleu.metrics import BLEU as SacreBLEU

from qa_eval.errors import PrerequisiteError, ScorerError
from qa_eval.records import Prediction
from qa_eval.scoring.bleu import BLEU, _sentence_stats, lang_from_source, tokenizer_for


def pred(i, ref, hyp, source="covost2_en_de", error=None, **extra):
    return Prediction(str(i), source, ref, hyp, error, extra)


@pytest.mark.parametrize("lang,tok", [("zh", "zh"), ("ja", "ja-mecab"), ("de", "13a"), ("en", "13a"), ("zh-CN", "zh")])
def test_tokenizer_by_target(lang, tok):
    assert tokenizer_for(lang) == tok


@pytest.mark.parametrize("source,lang", [
    ("covost2_en_zh", "zh"), ("covost2_en_zh_test", "zh"), ("covost2_de_en", "en"), ("librispeech", None),
])
def test_target_language_from_source(source, lang):
    assert lang_from_source(source) == lang


EN_REFS = ["The cat sat on the mat.", "It is raining again today.", "Where is the station?"]
EN_HYPS = [" The cat sat on a mat. ", "It rains again today.", "Where is the station ?\n"]


def test_matches_official_sacrebleu_call_13a():
    rows = [pred(i, r, h) for i, (r, h) in enumerate(zip(EN_REFS, EN_HYPS))]
    m = BLEU.score(rows)["covost2_en_de"]
    expect = sacrebleu.corpus_bleu([h.strip() for h in EN_HYPS], [EN_REFS], tokenize="13a").score
    assert m.values["bleu"] == pytest.approx(expect, abs=1e-9)
    assert "tok:13a" in m.details["signature"]
    lo, hi = m.ci95["bleu"]
    assert lo <= m.values["bleu"] <= hi


def test_chinese_target_uses_zh_tokenizer():
    """Identical hypotheses give 100; the second pair is checked against sacrebleu (tok zh)."""
    refs, hyps = ["我爱你们", "今天天气很好"], ["我爱你们", "今天天气不错"]
    m = BLEU.score([pred(i, r, h, source="covost2_en_zh") for i, (r, h) in enumerate(zip(refs, hyps))])
    m = m["covost2_en_zh"]
    assert m.details["tokenize"] == "zh" and m.details["tgt_lang_from"] == "source name"
    assert m.values["bleu"] == pytest.approx(sacrebleu.corpus_bleu(hyps, [refs], tokenize="zh").score)
    same = BLEU.score([pred(1, "我爱你们", "我爱你们", source="covost2_en_zh")], bootstrap=False)
    assert same["covost2_en_zh"].values["bleu"] == pytest.approx(100.0)


def test_field_and_option_override_source_name():
    rows = [pred(1, "我爱你们", "我爱你们", source="dev", tgt_lang="zh")]
    assert BLEU.score(rows, bootstrap=False)["dev"].details["tokenize"] == "zh"
    rows = [pred(1, "a b c d", "a b c d", source="covost2_en_zh")]
    assert BLEU.score(rows, bootstrap=False, tgt_lang="de")["covost2_en_zh"].details["tokenize"] == "13a"


def test_unknown_target_and_mixed_targets_raise():
    with pytest.raises(ScorerError, match="tgt_lang"):
        BLEU.score([pred(1, "a", "a", source="dev")])
    with pytest.raises(ScorerError, match="mixes target languages"):
        BLEU.score([pred(1, "a", "a", source="dev", tgt_lang="zh"), pred(2, "b", "b", source="dev", tgt_lang="de")])


def test_list_reference_rejected():
    with pytest.raises(ScorerError, match="string"):
        BLEU.score([pred(1, ("a", "b"), "a")])


@pytest.mark.skipif(importlib.util.find_spec("MeCab") is not None, reason="MeCab installed")
def test_japanese_without_mecab_is_a_prerequisite_error():
    with pytest.raises(PrerequisiteError, match=r"sacrebleu\[ja\]"):
        BLEU.score([pred(1, "こんにちは", "こんにちは", source="covost2_en_ja")])


def test_bootstrap_statistics_sum_to_corpus_bleu():
    """The CI machinery is exact: summing the per-sentence n-gram statistics of all sentences
    and recomputing gives the corpus BLEU itself."""
    hyps = tuple(h.strip() for h in EN_HYPS)
    stats = np.asarray(_sentence_stats(hyps, tuple(EN_REFS), "13a")).sum(axis=0)
    score = SacreBLEU.compute_bleu(
        [int(x) for x in stats[:4]], [int(x) for x in stats[4:8]], int(stats[8]), int(stats[9]),
        smooth_method="exp",
    ).score
    assert score == pytest.approx(sacrebleu.corpus_bleu(list(hyps), [EN_REFS], tokenize="13a").score)


def test_failed_rows_counted():
    rows = [pred(1, "a b c d", "a b c d"), pred(2, "x y", None, error="cuda oom")]
    m = BLEU.score(rows)["covost2_en_de"]
    assert (m.n, m.n_failed) == (2, 1) and m.values["bleu"] == pytest.approx(100.0)
