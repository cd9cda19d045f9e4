"""Chinese normaliser (SpeechIO cn_tn rules) against the official Qwen2-Audio one.

Goldens: goldens/normalize_zh.jsonl and normalize_other.jsonl (official outputs, derivation in
goldens/README.md). The number-reading table below was recorded from cn_tn's `num2chn` at the
same commit (default options for `cardinal`, digit by digit for `digits`).
"""

from __future__ import annotations

import pytest
from qwen2_goldens import load

from qa_eval.scoring.normalizers.chinese import chinese_normalize, read_numbers
from qa_eval.scoring.normalizers.chinese_numbers import cardinal, digits
from qa_eval.scoring.text import normalized_tokens

GOLD = load("normalize_zh.jsonl")
OTHER = load("normalize_other.jsonl")


def test_goldens_cover_enough_lines():
    assert len(GOLD) >= 60


@pytest.mark.parametrize("row", GOLD, ids=[r["input"][:20] for r in GOLD])
def test_chinese_normalizer_equals_official(row):
    assert chinese_normalize(row["input"]) == row["expected"]


@pytest.mark.parametrize("row", GOLD, ids=[r["input"][:20] for r in GOLD])
def test_scoring_units_equal_official(row):
    assert normalized_tokens(row["input"], "zh") == row["tokens"]


@pytest.mark.parametrize("row", OTHER, ids=[f"{r['lang']}-{r['input'][:12]}" for r in OTHER])
def test_cantonese_and_other_languages_equal_official(row):
    assert normalized_tokens(row["input"], row["lang"]) == row["tokens"]


@pytest.mark.parametrize("number, read", [
    ("12345", "一万两千三百四十五"), ("2020", "两千零二十"), ("100020000", "一亿零二万"),
    ("0012", "零一十二"), ("０５", "零十五"), ("05", "零五"), ("00", ""), ("00.5", "零点五"),
    ("0.5", "零点五"), ("10", "十"), ("100000", "十万"), ("200", "两百"), ("1200", "一千两百"),
    ("20", "二十"), ("220", "两百二十"), ("2000000", "两百万"), ("1002", "一千零二"),
    ("1020", "一千零二十"), ("112", "一百一十二"), ("3.05", "三点零五"), ("2.5", "二点五"),
    ("1" + "0" * 12, "一兆"), ("1" + "0" * 44, "一载"),
])
def test_cardinal_reading(number, read):
    assert cardinal(number) == read


def test_digits_reading():
    assert digits("0755") == "零七五五" and digits("２０") == "二零"


def test_rules_apply_in_cn_tn_order():
    """The first landline match eats the '和' after it, so the second number is not a phone
    number: '021' is read as a cardinal (零二十一) and the 8-digit run digit by digit."""
    assert read_numbers("座机0755-1234567和021-87654321") == "座机零七五五一二三四五六七和零二十一-八七六五四三二一"


def test_minus_is_punctuation_and_fullwidth_stop_is_not():
    assert chinese_normalize("温度是-5度") == "温度是 五度"
    assert chinese_normalize("句号．不是") == "句号．不是"
