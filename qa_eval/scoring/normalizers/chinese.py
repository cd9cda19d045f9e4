"""Chinese text normalisation by the rules of SpeechIO's cn_tn `TextNorm`, configured as
Qwen2-Audio's `evaluate_asr.py` does (every optional step off: no full-width -> half-width,
no case change, no filler or erhua removal, no traditional -> simplified).

`chinese_normalize(text)` first reads non-standard words aloud (`read_numbers`), then turns
each character of a fixed punctuation list into a space. Numbers are rewritten in cn_tn's
order, each rule over the text as the earlier rules left it:

1. dates: "2020年5月3日" -> 二零二零年五月三日 (a year is read digit by digit: only 2-digit
   years starting 0/8/9 and 4-digit years starting 19/20 count as years);
2. money: a number before 元/块/角/毛/分 or a scale (万, 千万, 亿, ...), optionally with one
   more digit ("3块5" -> 三块五);
3. mobile numbers (optionally +86) and landlines (area code, optional '-'), read digit by
   digit, the '-' dropped;
4. fractions "1/3" -> 三分之一; 5. percentages "50%" / "50％" -> 百分之五十;
6. a number before a measure word (个, 年, 米, 千克, ...) -> cardinal;
7. any other run of 4 to 32 digits -> digit by digit ("3.14159" -> 三.一四一五九);
8. any other number -> cardinal ("-5" -> -五: '-' is punctuation, not a minus sign);
9. letters-二-letters goes back to '2' (P2P, B2C).

As in cn_tn, each rule first finds all its matches, then replaces, one by one, the first
occurrence of each matched string anywhere in the text. Full-width digits count as digits;
other full-width characters stay, and the full-width full stop '．' is not punctuation here.
"""

from __future__ import annotations

import re
import string
from typing import Callable

from qa_eval.scoring.normalizers.chinese_numbers import cardinal, digits

_NUM = r"\d+(?:\.\d+)?"
_APPROX = "[多余几]?"  # 多/余/几 between a number and its unit
_SCALE = "亿|千万|百万|万|千|百"
_MONEY_UNIT = f"(?:(?:{_SCALE})|(?:{_SCALE}|)元|(?:{_SCALE}|)块|角|毛|分)"
_MEASURE_WORDS = (
    "千克|微克|千米|微米|[匹张座回场尾条个首阙阵网炮顶丘棵只支袭辆挑担颗壳窠曲墙群腔砣客贯扎捆"
    "刀令打手罗坡山岭江溪钟队单双对出口头脚板跳枝件贴针线管名位身堂课本页家户层丝毫厘分钱两斤"
    "铢石钧锱忽寸尺丈里寻常铺程撮勺合升斗盘碗碟叠桶笼盆盒杯斛锅簋篮罐瓶壶卮盏箩箱煲啖袋钵"
    "年月日季刻时周天秒旬纪岁世更夜春夏秋冬代伏辈丸泡粒幢堆根道面片块]"
)

_DATE = re.compile(r"\D+((?:(?:[089]\d|(?:19|20)\d{2})年)?(?:\d{1,2}月(?:\d{1,2}[日号])?)?)")
_MONEY = re.compile(rf"\D+({_NUM}{_APPROX}{_MONEY_UNIT}(?:\d{_MONEY_UNIT}?)?)")
_MOBILE = re.compile(r"\D((?:\+?86 ?)?1(?:[38]\d|5[0-35-9]|7[678]|9[89])\d{8})\D")
_LANDLINE = re.compile(r"\D((?:0(?:10|2[1-3]|[3-9]\d{2})-?)?[1-9]\d{6,7})\D")
_FRACTION = re.compile(r"(\d+/\d+)")
_PERCENT = re.compile(rf"({_NUM}%)")
_MEASURED = re.compile(rf"({_NUM}){_APPROX}(?:{_MEASURE_WORDS})")
_DIGIT_RUN = re.compile(r"(\d{4,32})")
_NUMBER = re.compile(rf"({_NUM})")
_LETTER_2_LETTER = re.compile(r"([a-zA-Z]+二[a-zA-Z]+)")
_NUMBER_IN = re.compile(_NUM)

# cn_tn's punctuation: ASCII punctuation; full-width forms of it except the full stop U+FF0E;
# U+FF5F..FF64; CJK marks U+3001-3003, 3008-3011, 3014-301F, 3030, 303E, 303F; dashes,
# quotes (not U+201A), ellipsis, hyphenation point, U+FE4F and the middle dot.
_PUNCTUATION = (
    set(string.punctuation)
    | {chr(ord(c) + 0xFEE0) for c in string.punctuation if c != "."}
    | {chr(c) for c in range(0xFF5F, 0xFF65)}
    | {chr(c) for r in ((0x3001, 0x3004), (0x3008, 0x3012), (0x3014, 0x3020)) for c in range(*r)}
    | set("\u3030\u303e\u303f\u2013\u2014\u2018\u2019\u201b\u201c\u201d\u201e\u201f\u2026\u2027\ufe4f\u00b7")
)
_TO_SPACE = str.maketrans({c: " " for c in _PUNCTUATION})


def _rewrite(text: str, pattern: re.Pattern[str], read: Callable[[str], str]) -> str:
    """Find all matches (group 1) first, then replace the first occurrence of each in turn."""
    for found in [m.group(1) for m in pattern.finditer(text)]:
        if found:
            text = text.replace(found, read(found), 1)
    return text


def _date(date: str) -> str:
    year, sep, rest = date.partition("年")
    if not sep:
        year, rest = "", date
    out = digits(year) + "年" if sep else ""
    if rest:
        month, _, day = rest.partition("月")
        out += cardinal(month) + "月"
        if day:
            out += cardinal(day[:-1]) + day[-1]
    return out


def _money(money: str) -> str:
    for number in _NUMBER_IN.findall(money):
        money = money.replace(number, cardinal(number))  # every occurrence, as cn_tn does
    return money


def _phone(number: str) -> str:
    return "".join(digits(part) for part in number.strip("+").split())


def _landline(number: str) -> str:
    return "".join(digits(part) for part in number.split("-"))


def _fraction(fraction: str) -> str:
    numerator, denominator = fraction.split("/")
    return cardinal(denominator) + "分之" + cardinal(numerator)


def _percent(percent: str) -> str:
    return "百分之" + cardinal(percent.rstrip("%"))


_RULES: tuple[tuple[re.Pattern[str], Callable[[str], str]], ...] = (
    (_DATE, _date),
    (_MONEY, _money),
    (_MOBILE, _phone),
    (_LANDLINE, _landline),
    (_FRACTION, _fraction),
    (_PERCENT, _percent),
    (_MEASURED, cardinal),
    (_DIGIT_RUN, digits),
    (_NUMBER, cardinal),
    (_LETTER_2_LETTER, lambda s: s.replace("二", "2")),
)


def read_numbers(text: str) -> str:
    """Dates, money, phone numbers, fractions, percentages and numbers read aloud."""
    text = "^" + text + "$"  # sentinels: a match may need a non-digit on either side
    for pattern, read in _RULES:
        if pattern is _PERCENT:
            text = text.replace("％", "%")
        text = _rewrite(text, pattern, read)
    return text.lstrip("^").rstrip("$")


def chinese_normalize(text: str) -> str:
    """cn_tn as Qwen2-Audio uses it: numbers read aloud, punctuation -> spaces."""
    return read_numbers(text).translate(_TO_SPACE)
