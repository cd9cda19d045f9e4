"""Paper WER and Qwen2-Audio style normalised WER.

Goldens are hand-worked (derivation in each docstring). `_official_wer` is an independent
re-statement of the official Qwen-Audio `evaluate_asr.py` rules (regex cleaning, sacrebleu
"none" tokenizer = identity, lowercase, whitespace split, per-character Chinese, editdistance),
used as an oracle on generated inputs.
"""

import re

import editdistance
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qa_eval.errors import ConfigError, ScorerError
from qa_eval.records import Prediction
from qa_eval.scoring.text import paper_clean, paper_tokens
from qa_eval.scoring.wer import NORMALIZED_WER, PAPER_WER


def pred(i, ref, hyp, source="s", error=None, **extra):
    return Prediction(str(i), source, ref, hyp, error, extra)


def _official_wer(pairs, lang):
    """Oracle: the official rules written out step by step."""
    def clean(t):
        t = re.sub(r"<\|.*?\|>", " ", t)
        t = re.sub(r"\s+", " ", t)
        t = re.sub(r" ?([!,.?;:])", r"\1", t)
        t = t.lstrip(" ")
        if lang == "zh":
            t = re.sub(r"\s+", "", t)
        return t

    dist = total = 0
    for ref, hyp in pairs:
        r, h = clean(ref).lower().split(), clean(hyp).lower().split()
        if lang == "zh":
            r, h = list("".join(r)), list("".join(h))
        dist += editdistance.eval(r, h)
        total += len(r)
    return dist / total


def test_two_utterances_three_edits_over_ten_words():
    """6 + 4 reference words; 'sat'->'sit' (S), 'the' deleted (D), 'wide' inserted (I):
    3 edits / 10 words = 0.3."""
    m = PAPER_WER.score([
        pred(1, "the cat sat on the mat", "the cat sit on mat"),
        pred(2, "hello big world now", "hello big wide world now"),
    ])["s"]
    assert m.values["wer"] == pytest.approx(0.3)
    d = m.details
    assert (d["substitutions"], d["deletions"], d["insertions"], d["ref_tokens"]) == (1, 1, 1, 10)
    assert m.n == 2 and m.n_failed == 0


def test_special_tokens_become_spaces():
    """`<|en|>hello<|notimestamps|>world` -> ' hello world' -> ['hello', 'world']: 0 edits."""
    m = PAPER_WER.score([pred(1, "hello world", "<|en|>hello<|notimestamps|>world<|endoftext|>")])["s"]
    assert m.values["wer"] == 0.0


def test_space_before_punctuation_deleted_but_punctuation_kept():
    """'hello , world .' -> 'hello, world.' equals the lowercased reference 'Hello, World.'
    (0 edits); against 'hello world' the tokens 'hello,' and 'world.' are 2 substitutions
    over 2 words = 1.0, because the paper scorer removes no punctuation."""
    assert PAPER_WER.score([pred(1, "Hello, World.", "hello , world .")])["s"].values["wer"] == 0.0
    assert PAPER_WER.score([pred(1, "hello world", "hello , world .")])["s"].values["wer"] == 1.0


def test_paper_clean_matches_official_strings():
    """remove_sp keeps a trailing space (only lstrip) and removes one space before punct."""
    assert paper_clean("<|en|> a  ,b <|x|>", "en") == "a,b "
    assert paper_clean("<|zh|>我 爱 北京 。", "zh") == "我爱北京。"


def test_chinese_scored_per_character_from_field_or_option():
    """'我 爱 北 京 。' -> '我爱北京。': 5 chars vs reference '我爱北京' 4 chars: one insertion,
    1/4 = 0.25. Same when the language comes from the scorer option instead of the row."""
    rows = [pred(1, "我爱北京", "<|zh|>我 爱 北 京 。", lang="zh")]
    assert PAPER_WER.score(rows)["s"].values["wer"] == 0.25
    assert PAPER_WER.score(rows)["s"].details["unit"] == "char"
    rows = [pred(1, "我爱北京", "<|zh|>我 爱 北 京 。")]
    assert PAPER_WER.score(rows, lang="zh")["s"].values["wer"] == 0.25
    # without a language: reference is 1 word, the hypothesis 5 ('。' is not one of the
    # ASCII marks whose preceding space is deleted): 1 substitution + 4 insertions = 5.0
    assert PAPER_WER.score(rows)["s"].values["wer"] == 5.0


def test_failed_predictions_are_counted_not_scored_as_empty():
    """The failed row (prediction null, error set) would add 3 deletions if scored as "";
    it is left out: WER stays 1/4 and n_failed = 1."""
    m = PAPER_WER.score([
        pred(1, "a b c d", "a b c x"),
        pred(2, "one two three", None, error="audio unreadable"),
    ])["s"]
    assert m.values["wer"] == 0.25 and m.n == 2 and m.n_failed == 1


def test_every_failed_source_gives_none():
    m = PAPER_WER.score([pred(1, "a", None, error="oom")])["s"]
    assert m.values == {"wer": None} and m.n_failed == 1


def test_empty_reference_corpus_gives_none_with_note():
    m = PAPER_WER.score([pred(1, "<|en|>", "x")])["s"]
    assert m.values["wer"] is None and "note" in m.details


def test_list_reference_is_a_scorer_error():
    with pytest.raises(ScorerError, match="expects 'reference' to be a string"):
        PAPER_WER.score([pred(1, ("a", "b"), "a")])


def test_unknown_option_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown option"):
        PAPER_WER.score([pred(1, "a", "a")], language="zh")


def test_per_source_and_interval():
    rows = [pred(i, "a b c d e", "a b c d x" if i % 2 else "a b c d e", source=f"s{i % 3}") for i in range(60)]
    out = PAPER_WER.score(rows, seed=3)
    assert list(out) == ["s0", "s1", "s2"]
    for m in out.values():
        lo, hi = m.ci95["wer"]
        assert lo <= m.values["wer"] <= hi
    assert PAPER_WER.score(rows, seed=3)["s0"].ci95 == out["s0"].ci95  # seeded


_piece = st.sampled_from(list("abAB xy,.!?;:\t\n<|>我爱") + ["<|en|>", "<|0.5|>", " ,", " ."])
_text = st.lists(_piece, max_size=15).map("".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(_text, _text), min_size=1, max_size=4), st.sampled_from(["en", "zh"]))
def test_matches_official_rules_on_generated_text(pairs, lang):
    """Oracle: `_official_wer` (the official steps, editdistance). Sources with no reference
    token are undefined in both."""
    if not any(paper_tokens(r, lang) for r, _ in pairs):
        return
    rows = [pred(i, r, h, lang=lang) for i, (r, h) in enumerate(pairs)]
    got = PAPER_WER.score(rows, bootstrap=False)["s"].values["wer"]
    assert got == pytest.approx(_official_wer(pairs, lang))


@settings(max_examples=300, deadline=None)
@given(_text, st.sampled_from(["en", "zh", None]))
def test_fast_tokens_equal_regex_cleaning(text, lang):
    expect = paper_clean(text, lang).lower()
    expect = list("".join(expect.split())) if lang == "zh" else expect.split()
    assert paper_tokens(text, lang) == expect


# --- normalised (Qwen2-Audio style) ------------------------------------------------------


def test_normalized_english_removes_punctuation_and_case():
    """Whisper English + basic normalisers: 'Hello, World!' -> 'hello world' = hypothesis: 0;
    the paper scorer sees 'hello,' / 'world!' vs 'hello' / 'world': 2/2 = 1.0."""
    rows = [pred(1, "Hello, World!", "hello world", lang="en")]
    assert NORMALIZED_WER.score(rows)["s"].values["wer"] == 0.0
    assert PAPER_WER.score(rows)["s"].values["wer"] == 1.0


def test_normalized_chinese_numbers_and_punctuation():
    """'我有3个苹果。' -> numbers verbalised '我有三个苹果', punctuation gone: equals the
    hypothesis character for character (0/6)."""
    rows = [pred(1, "我有3个苹果。", "我有三个苹果", lang="zh")]
    m = NORMALIZED_WER.score(rows)["s"]
    assert m.values["wer"] == 0.0 and m.details["ref_tokens"] == 6


def test_normalized_cantonese_traditional_to_simplified():
    """lang 'yue': zhconv zh-cn maps '廣東話' to '广东话'; scored per character: 0/3."""
    m = NORMALIZED_WER.score([pred(1, "廣東話", "广东话", lang="yue")])["s"]
    assert m.values["wer"] == 0.0 and m.details["unit"] == "char"
