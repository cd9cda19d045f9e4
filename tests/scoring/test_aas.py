"""SRWT: timestamp parsing, AAS in ms (with the official first-segment quirk both ways), WER.

Hand-worked values use the official example reference
`<|0.00|><|sil|><|0.54|>面<|0.86|>条<|1.17|>机<|1.46|><|sil|><|2.01|>`.
"""

import importlib.util
import random

import pytest

from qa_eval.errors import ConfigError
from qa_eval.records import Prediction
from qa_eval.scoring.aas import SRWT, align_equal_pairs, parse_timestamped

REF = "<|0.00|><|sil|><|0.54|>面<|0.86|>条<|1.17|>机<|1.46|><|sil|><|2.01|>"
# what Qwen-Audio generates after a prompt ending in <|0.00|>: starts with the first word
HYP = "<|sil|><|0.50|>面<|0.90|>条<|1.17|>机<|1.40|><|sil|><|2.01|>"


def pred(i, ref, hyp, error=None, lang="zh"):
    return Prediction(str(i), "srwt", ref, hyp, error, {"lang": lang})


def test_parse_reference_with_sil_words():
    assert parse_timestamped(REF) == [
        ("<|sil|>", 0.0, 0.54), ("面", 0.54, 0.86), ("条", 0.86, 1.17), ("机", 1.17, 1.46), ("<|sil|>", 1.46, 2.01),
    ]


def test_parse_drops_text_outside_timestamps_and_task_tokens():
    """Leading '<|sil|>' (before the first timestamp) and trailing 'x' are ignored; the
    <|startoftranscript|>, <|transcribe|> and <|en|> tokens are removed first; spaces kept."""
    got = parse_timestamped("<|startoftranscript|><|en|><|transcribe|><|sil|><|0.5|> hi<|1.0|>x")
    assert got == [(" hi", 0.5, 1.0)]
    assert parse_timestamped("no timestamps here") is None


def test_official_drop_first_segment():
    """The prediction's leading '<|sil|>' has no start timestamp, so it is dropped.
    Matches: 面 |.54-.50|+|.86-.90| = .08; 条 |.86-.90|+0 = .04; 机 0+|1.46-1.40| = .06;
    <|sil|> |1.46-1.40|+0 = .06. Total .24 s / 4 words = 60 ms."""
    m = SRWT.score([pred(1, REF, HYP)])["srwt"]
    assert m.values["aas_ms"] == pytest.approx(60.0)
    assert m.details["matched_words"] == 4 and m.details["first_segment"] == "official-drop"
    assert m.values["wer"] == 0.0  # text 面条机 vs 面条机


def test_prepend_prompt_timestamp_keeps_first_segment():
    """With <|0.00|> put back, <|sil|> [0,.50] also matches [0,.54]: +.04 -> .28 s / 5 = 56 ms."""
    m = SRWT.score([pred(1, REF, HYP)], first_segment="prepend-prompt-timestamp")["srwt"]
    assert m.values["aas_ms"] == pytest.approx(56.0) and m.details["matched_words"] == 5
    # a prediction that already starts with a timestamp is not prefixed twice
    m2 = SRWT.score([pred(1, REF, "<|0.00|>" + HYP)], first_segment="prepend-prompt-timestamp")["srwt"]
    assert m2.values["aas_ms"] == pytest.approx(56.0)


def test_corpus_ratio_over_utterances():
    """Utterance 1 as above (.24 s, 4 words); utterance 2 identical to its reference (0 s,
    2 words): AAS = .24 / 6 = 40 ms (a corpus ratio, not a mean of 60 and 0)."""
    ref2 = "<|0.00|>a<|1.00|>b<|2.00|>"
    m = SRWT.score([pred(1, REF, HYP), pred(2, ref2, ref2)])
    assert m["srwt"].values["aas_ms"] == pytest.approx(40.0)


def test_tie_break_follows_edit_distance_rules():
    """ref words [a, a, b] vs hyp [a, b]: the alignment of the `edit_distance` package (ties:
    substitution/match, then insertion, then deletion, back-traced from the end) pairs the
    *second* reference 'a' with the hypothesis 'a'. Timestamps: ref a[0,1] a[1,2] b[2,3];
    hyp a[1,2] b[2,3] -> both matches exact, AAS 0 (pairing the first 'a' would give 2 s)."""
    assert align_equal_pairs(["a", "a", "b"], ["a", "b"]) == [(1, 0), (2, 1)]
    ref = "<|0.00|>a<|1.00|>a<|2.00|>b<|3.00|>"
    hyp = "<|1.00|>a<|2.00|>b<|3.00|>"
    m = SRWT.score([pred(1, ref, hyp, lang="en")])["srwt"]
    assert m.values["aas_ms"] == 0.0 and m.details["matched_words"] == 2


@pytest.mark.skipif(importlib.util.find_spec("edit_distance") is None, reason="edit_distance not installed")
def test_alignment_equals_edit_distance_package():
    import edit_distance

    rnd = random.Random(0)
    for _ in range(2000):
        a = [rnd.choice("abc") for _ in range(rnd.randint(0, 7))]
        b = [rnd.choice("abc") for _ in range(rnd.randint(0, 7))]
        ops = edit_distance.SequenceMatcher(a, b).get_opcodes()
        assert align_equal_pairs(a, b) == [(o[1], o[3]) for o in ops if o[0] == "equal"]


def test_unparsed_prediction_counted_and_failed_rows():
    m = SRWT.score([pred(1, REF, HYP), pred(2, REF, "面条机"), pred(3, REF, None, error="oom")])["srwt"]
    assert m.details["n_unparsed"] == 1 and m.values["aas_ms"] == pytest.approx(60.0)
    assert (m.n, m.n_failed) == (3, 1)


def test_no_match_gives_none():
    m = SRWT.score([pred(1, "<|0.00|>a<|1.00|>", "<|0.00|>b<|1.00|>", lang="en")])["srwt"]
    assert m.values["aas_ms"] is None and "note" in m.details


def test_bad_mode():
    with pytest.raises(ConfigError, match="first_segment"):
        SRWT.score([pred(1, REF, HYP)], first_segment="keep")
