"""Multiple-choice accuracy with MMAU's official answer matching (scorer "mmau").

The official rule (Sakshi113/MMAU `evaluation.py`, function `string_match`), in words: a text's
words are the runs of Unicode word characters (letters, digits, underscore) of the text
lowercased with `str.lower`, taken as a set. A prediction is correct when

* it has at least one word (an empty or punctuation-only answer is wrong),
* every word of the answer is among its words, and
* it has none of the "wrong words": the words of the options that the answer does not have (so
  an option with exactly the answer's set of words adds none: "Eb to Cm" is right for "Cm to Eb").

So "B" or "(B)" alone is wrong (a letter is not the answer's text), "Woman" is wrong for the
answer "A woman" (its word "a" is missing), words that no option has are allowed ("I think it is
a woman" is right), and one word that only another option has makes an answer wrong. The script
scores only samples that carry a prediction (a failed sample here: counted in `n_failed`, never
scored as ""), and prints the accuracy overall and per `task` (sound / music / speech), per
`difficulty` and per `sub-category` (samples without one are left out of that table only).

Here those groups are the prediction row's `category`, `difficulty` and `sub_category` fields
(mmau-test-mini writes MMAU's `task` as `category`): metrics `acc` and `acc[FIELD=VALUE]`, as
fractions (the script prints percentages). The script has no notion of an unparsed answer; this
scorer counts, in `details.n_unparsed`, the answers the rule maps to no option at all (neither
the reference nor any option passes it): they are scored wrong, as officially.

Option `parse`:
  "official" (default) - the rule above, exactly;
  "strict"             - the answer must name one option: its text alone (ignoring case,
                         spacing and one final period), or its letter in the listed order,
                         uppercase, alone or followed by that option's text: "B", "(B)", "B.",
                         "B)", "B:", "(B) Woman", "B. Woman". Anything else is unparsed (and
                         wrong). Option text is tried before letters (an option may be "A").
                         Not MMAU's rule: metrics.json records the mode.
Statistics per sample: correct, one, unparsed, then (correct, one) per group the source has
(facts["groups"] names them), so compare resamples the category accuracies too.
"""

from __future__ import annotations

import re
from typing import Any, Mapping, Sequence

import numpy as np

from qa_eval.errors import ConfigError, ScorerError
from qa_eval.records import Prediction
from qa_eval.scoring.base import Metric, SampleStats, Scorer, ratio, require_str_references, where

PARSE_MODES = ("official", "strict")
GROUP_FIELDS = ("category", "sub_category", "difficulty")  # prediction fields reported as groups
ACC = Metric("acc", higher_is_better=True, tolerance=0.01)
GROUP_TOLERANCE = 0.05  # groups are small: one of 30 samples moves a group's accuracy by 0.033
_WORD = re.compile(r"\w+")  # a maximal run of word characters (the script's \b\w+\b finds the same)
_GROUP_METRIC = re.compile(r"acc\[(?:%s)=.*\]" % "|".join(GROUP_FIELDS), re.S)
_LETTER = re.compile(r"\(([A-Z])\)\s*(.*)|([A-Z])(?:[.:)]\s*(.*))?", re.S)
_FIRST_GROUP_COLUMN = 3  # columns: correct, one, unparsed, then two per group


def words(text: str) -> frozenset[str]:
    """The official tokens of `text`: its word runs, lowercased with str.lower, as a set."""
    return frozenset(_WORD.findall(text.lower()))


def official_match(answer: str, prediction: str, choices: Sequence[str]) -> bool:
    """Whether MMAU's rule takes `prediction` for `answer` among `choices` (module docstring)."""
    said = words(prediction)
    if not said:
        return False
    wanted = words(answer)
    wrong = set().union(*(words(choice) - wanted for choice in choices))
    return wanted <= said and said.isdisjoint(wrong)


def _plain(text: str) -> str:
    """Text compared by strict parsing: spacing collapsed, case folded, one final '.' dropped."""
    return " ".join(text.split()).casefold().removesuffix(".").rstrip()


def strict_option(prediction: str, choices: Sequence[str]) -> str | None:
    """The (plain) text of the option a strict answer names, or None when it names none."""
    said, texts = _plain(prediction), [_plain(c) for c in choices]
    if said in texts:
        return said
    found = _LETTER.fullmatch(prediction.strip())
    if found is None:
        return None
    letter, rest = (found.group(1), found.group(2)) if found.group(1) else (found.group(3), found.group(4))
    index = ord(letter) - ord("A")
    if index >= len(texts) or (rest and _plain(rest) != texts[index]):
        return None
    return texts[index]


def judge(answer: str, prediction: str, choices: Sequence[str], mode: str) -> tuple[bool, bool]:
    """(correct, unparsed) of one prediction under parse mode `mode`."""
    if mode == "strict":
        option = strict_option(prediction, choices)
        return option is not None and option == _plain(answer), option is None
    correct = official_match(answer, prediction, choices)
    return correct, not correct and not any(official_match(c, prediction, choices) for c in choices)


def group_metric(field: str, value: str) -> str:
    """The metric name of one group's accuracy: acc[category=sound]."""
    return f"acc[{field}={value}]"


def _choices(p: Prediction) -> list[str]:
    choices = p.get("choices")
    if not isinstance(choices, list) or not choices or not all(isinstance(c, str) for c in choices):
        raise ScorerError(f"{where(p)}: scorer 'mmau' needs the row's 'choices' (a list of option texts), "
                          f"got {choices!r}")
    return choices


def _groups(p: Prediction) -> list[tuple[str, str]]:
    """The (field, value) groups one prediction belongs to (fields that are absent or empty: none)."""
    return [(f, str(p.get(f))) for f in GROUP_FIELDS if p.get(f) not in (None, "")]


class MultipleChoiceScorer(Scorer):
    """MMAU accuracy, overall and per category / sub-category / difficulty (module docstring)."""

    metrics = (ACC,)
    option_defaults = {"parse": "official"}

    def check_options(self, options: Mapping[str, Any]) -> None:
        if options["parse"] not in PARSE_MODES:
            raise ConfigError(f"scorer {self.name!r}: parse must be one of {', '.join(PARSE_MODES)}, "
                              f"got {options['parse']!r}")

    def metric(self, name: str) -> Metric | None:
        if _GROUP_METRIC.fullmatch(name):
            return Metric(name, higher_is_better=True, tolerance=GROUP_TOLERANCE)
        return super().metric(name)

    def statistics(self, preds: Sequence[Prediction], options: Mapping[str, Any]) -> SampleStats:
        mode = options["parse"]
        answers = require_str_references(self.name, preds)
        memberships = [_groups(p) for p in preds]
        groups = sorted({g for member in memberships for g in member},
                        key=lambda g: (GROUP_FIELDS.index(g[0]), g[1]))
        column = {g: _FIRST_GROUP_COLUMN + 2 * k for k, g in enumerate(groups)}
        rows = np.zeros((len(preds), _FIRST_GROUP_COLUMN + 2 * len(groups)))
        for i, (p, answer, member) in enumerate(zip(preds, answers, memberships)):
            correct, unparsed = judge(answer, p.prediction or "", _choices(p), mode)
            rows[i, :_FIRST_GROUP_COLUMN] = (correct, 1.0, unparsed)
            for g in member:
                rows[i, column[g]:column[g] + 2] = (correct, 1.0)
        return SampleStats(rows, {"parse": mode, "groups": [list(g) for g in groups]})

    def metric_names(self, facts: Mapping[str, Any]) -> tuple[str, ...]:
        return ("acc", *(group_metric(field, value) for field, value in facts.get("groups", ())))

    def reduce(self, sums: np.ndarray, facts: Mapping[str, Any]) -> dict[str, float | None]:
        values = {"acc": ratio(sums[0], sums[1])}
        for k, (field, value) in enumerate(facts.get("groups", ())):
            at = _FIRST_GROUP_COLUMN + 2 * k
            values[group_metric(field, value)] = ratio(sums[at], sums[at + 1])
        return values

    def details(self, sums: np.ndarray, facts: Mapping[str, Any]) -> dict[str, Any]:
        by_field: dict[str, dict[str, dict[str, int]]] = {}
        for k, (field, value) in enumerate(facts.get("groups", ())):
            at = _FIRST_GROUP_COLUMN + 2 * k
            by_field.setdefault(field, {})[value] = {"correct": int(sums[at]), "n": int(sums[at + 1])}
        return {"correct": int(sums[0]), "n_unparsed": int(sums[2]), "parse": facts["parse"], "groups": by_field}

    def info(self) -> dict[str, Any]:
        return {"rule": "MMAU evaluation.py string_match: the answer's words all said, no word only another "
                        "option has; per category, sub_category, difficulty"}


MMAU = MultipleChoiceScorer("mmau")
