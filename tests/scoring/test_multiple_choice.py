"""`mmau` equals the official MMAU evaluation.py: every golden case, its unparsed answers, and its
printed report per task (our `category`), difficulty and sub-category; the strict parse mode; the
per-sample statistics compare resamples.

Goldens: goldens/mmau_predictions.jsonl (the cases) and goldens/mmau_official.jsonl (what the
official script said about them; derivation in goldens/README.md).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st
from qwen2_goldens import GOLDENS, load

from qa_eval.errors import ConfigError, ScorerError
from qa_eval.records import Prediction, SampleStatistics
from qa_eval.scoring import declared_metric
from qa_eval.scoring.multiple_choice import MMAU, judge, official_match, strict_option, words
from qa_eval.store import read_predictions

PREDICTIONS = GOLDENS / "mmau_predictions.jsonl"
OFFICIAL = load("mmau_official.jsonl")
CASES = {r["id"]: r for r in OFFICIAL if "id" in r}
REPORT = next(r["report"] for r in OFFICIAL if "report" in r)
SOURCE = "mmau_test_mini"


def _predictions() -> dict[str, Prediction]:
    return {p.id: p for p in read_predictions(PREDICTIONS)}


def _percent(value: float) -> str:
    return f"{value * 100:.2f}"


def test_the_goldens_cover_what_the_brief_lists():
    preds = _predictions()
    assert set(preds) == set(CASES) and len(preds) >= 30
    said = {p.prediction for p in preds.values()}
    assert {"A", "(B)", "", "1.63", "FRÉDÉRIC CHOPIN", "Either dog barking or cat meowing"} <= said
    assert sum(CASES[i].get("match", 0) for i in CASES) not in (0, len(CASES))  # right and wrong cases


@pytest.mark.parametrize("case_id", sorted(i for i, r in CASES.items() if not r.get("skipped")))
def test_each_case_is_judged_as_the_official_string_match(case_id):
    p, official = _predictions()[case_id], CASES[case_id]
    correct, unparsed = judge(p.reference, p.prediction, p.get("choices"), "official")
    assert correct == bool(official["match"])
    matched = [k for k, c in enumerate(p.get("choices")) if official_match(c, p.prediction, p.get("choices"))]
    assert matched == official["options_matched"]
    assert unparsed == (not official["match"] and not official["options_matched"])


def test_an_answer_the_rule_takes_is_parsed_even_when_it_is_no_option():
    """The rule looks at the answer's words, not at the options' list: a reference missing from the
    choices can still be matched, and then it is not counted as unparsed."""
    assert judge("Man", "a man", ["Woman", "Child"], "official") == (True, False)
    assert judge("Man", "a child", ["Woman", "Child"], "official") == (False, False)
    assert judge("Man", "a robot", ["Woman", "Child"], "official") == (False, True)


def test_a_failed_sample_is_left_out_as_the_script_skips_a_sample_without_output():
    scored = MMAU.score(read_predictions(PREDICTIONS), bootstrap=False)[SOURCE]
    assert scored.n_failed == 1 and scored.n - scored.n_failed == REPORT["total"][1]
    assert REPORT["no_prediction_count"] == 0


def test_the_source_equals_the_official_report_per_task_difficulty_and_sub_category():
    scored = MMAU.score(read_predictions(PREDICTIONS), bootstrap=False)[SOURCE]
    assert _percent(scored.values["acc"]) == REPORT["total"][0]
    assert scored.details["correct"] == round(float(REPORT["total"][0]) * REPORT["total"][1] / 100)
    ours = {"task": "category", "difficulty": "difficulty", "sub_category": "sub_category"}
    for section, field in ours.items():
        groups = scored.details["groups"][field]
        assert set(groups) == set(REPORT[section]), section
        for value, (percent, n) in REPORT[section].items():
            assert _percent(scored.values[f"acc[{field}={value}]"]) == percent, (field, value)
            assert groups[value]["n"] == n, (field, value)
    unparsed = sum(1 for r in CASES.values() if not r.get("skipped") and not r["match"] and not r["options_matched"])
    assert scored.details["n_unparsed"] == unparsed > 0
    assert scored.details["parse"] == "official"


def test_cli_score_records_the_parse_mode_and_the_unparsed_count():
    def score(*extra: str) -> dict:
        proc = subprocess.run([sys.executable, "-m", "qa_eval", "score", "--task", "mmau-test-mini", "--predictions",
                               str(PREDICTIONS), "--json", *extra], capture_output=True, text=True, check=True)
        return json.loads(proc.stdout)

    official, strict = score(), score("--scorer-option", "parse=strict")
    assert official["scorer"]["name"] == "mmau" and official["scorer"]["options"] == {"parse": "official"}
    entry = official["per_source"][SOURCE]
    assert _percent(entry["acc"]) == REPORT["total"][0] and "acc[category=sound]" in entry["ci95"]
    assert strict["scorer"]["options"] == {"parse": "strict"}
    assert strict["per_source"][SOURCE]["details"]["parse"] == "strict"
    assert strict["per_source"][SOURCE]["details"]["n_unparsed"] > entry["details"]["n_unparsed"]


def test_a_bad_parse_mode_fails_early_with_one_line():
    with pytest.raises(ConfigError, match=r"parse must be one of official, strict, got 'loose'"):
        MMAU.resolve_options({"parse": "loose"})
    proc = subprocess.run([sys.executable, "-m", "qa_eval", "score", "--task", "mmau-test-mini", "--predictions",
                           str(PREDICTIONS), "--scorer-option", "parse=loose"], capture_output=True, text=True)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1 and "parse must be one of" in proc.stderr


CHOICES = ["Man", "Woman", "Child", "A"]


@pytest.mark.parametrize("prediction, answer, correct, unparsed", [
    ("Woman", "Woman", True, False),
    (" woman. ", "Woman", True, False),  # case, spacing and one final period
    ("B", "Woman", True, False),
    ("(B)", "Woman", True, False),
    ("B.", "Woman", True, False),
    ("B)", "Woman", True, False),
    ("(B) Woman", "Woman", True, False),
    ("B. woman", "Woman", True, False),
    ("C", "Woman", False, False),  # a parsed, wrong option
    ("(B) Child", "Woman", False, True),  # letter and text disagree
    ("(E)", "Woman", False, True),  # no fifth option
    ("b", "Woman", False, True),  # letters are uppercase
    ("A woman", "Woman", False, True),  # not an option's text, and "A" alone is no letter form here
    ("I think it is a woman", "Woman", False, True),
    ("Woman or man", "Woman", False, True),
    ("", "Woman", False, True),
    ("A", "A", True, False),  # option text first: "A" is the fourth option, not the letter of "Man"
    ("D", "A", True, False),
])
def test_strict_mode(prediction, answer, correct, unparsed):
    assert judge(answer, prediction, CHOICES, "strict") == (correct, unparsed)


def test_strict_mode_on_the_goldens_parses_less_than_official():
    rows = [p for p in _predictions().values() if not p.failed]
    strict = [judge(p.reference, p.prediction, p.get("choices"), "strict") for p in rows]
    assert strict_option("(B) Woman", ["Man", "Woman"]) == "woman"
    assert sum(u for _, u in strict) > sum(not r["match"] and not r["options_matched"] for r in CASES.values()
                                           if not r.get("skipped"))
    assert any(c for c, _ in strict)


@given(st.text(alphabet=st.sampled_from(list("aZ9_ -'.,éİß狗\u0301\t")), max_size=12))
def test_words_are_the_word_runs_the_official_rule_names(text):
    """The rule's tokens: \\b\\w+\\b over str.lower(), as a set (a maximal \\w run is one token)."""
    assert words(text) == set(re.findall(r"\b\w+\b", text.lower()))


def _row(i: int, prediction: str, category: str, **extra) -> Prediction:
    return Prediction(f"q{i}", SOURCE, "Man", prediction, None,
                      {"choices": ["Man", "Woman"], "category": category, **extra})


def test_missing_choices_name_the_file_and_line(tmp_path):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"id": "x", "source": SOURCE, "reference": "Man", "prediction": "Man", "error": None,
                                "question": "Who?"}) + "\n")
    with pytest.raises(ScorerError, match=r"p.jsonl:1: scorer 'mmau' needs the row's 'choices'"):
        MMAU.score(read_predictions(path))


def test_groups_get_intervals_and_paired_differences_and_declarations():
    base = [_row(i, "Man" if i % 2 else "Woman", "sound" if i < 10 else "music", difficulty="easy")
            for i in range(20)]
    cand = [_row(i, "Man" if i < 10 else "Woman", "sound" if i < 10 else "music", difficulty="easy")
            for i in range(20)]
    b, c = MMAU.score(base)[SOURCE], MMAU.score(cand)[SOURCE]
    assert set(b.values) == {"acc", "acc[category=music]", "acc[category=sound]", "acc[difficulty=easy]"}
    assert set(b.ci95) == set(b.values)
    assert (b.values["acc[category=sound]"], c.values["acc[category=sound]"]) == (0.5, 1.0)
    stored = [SampleStatistics.from_dict(json.loads(json.dumps(s.samples.to_dict()))) for s in (b, c)]
    diffs = MMAU.paired_differences(*stored)
    assert diffs["acc[category=sound]"][0] == 0.5 and diffs["acc[category=music]"][0] == -0.5
    assert diffs["acc"][0] == 0.0 and diffs["acc"][3] == 20
    declared = declared_metric("mmau", "acc[category=sound]")
    assert declared.higher_is_better and declared.tolerance == 0.05
    assert declared_metric("mmau", "acc").tolerance == 0.01
