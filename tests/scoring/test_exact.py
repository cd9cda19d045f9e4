"""Exact-match accuracy and ClothoAQA accuracy (official: response stripped, gt unchanged,
sklearn accuracy_score = fraction of exact case-sensitive matches)."""

import pytest

from qa_eval.errors import ConfigError, ScorerError
from qa_eval.records import Prediction
from qa_eval.scoring.exact import ACCURACY, AQA_ACCURACY


def pred(i, ref, hyp, source="s", error=None):
    return Prediction(str(i), source, ref, hyp, error)


def test_case_sensitive_and_prediction_stripped():
    """'dog \\n' strips to 'dog' (match); 'Dog' != 'dog'; reference 'cat ' is not stripped, so
    'cat' does not match it: 1 of 3 = 1/3."""
    m = ACCURACY.score([pred(1, "dog", "dog \n"), pred(2, "dog", "Dog"), pred(3, "cat ", "cat")])["s"]
    assert m.values["acc"] == pytest.approx(1 / 3)
    assert m.details["correct"] == 1


def test_matches_sklearn_accuracy_score():
    """Oracle: sklearn accuracy_score on (gt, stripped response), as the official scripts."""
    from sklearn.metrics import accuracy_score

    refs = ["a", "b", "B", "c ", "yes", "no"]
    hyps = [" a", "b", "b", "c ", "Yes", "no\n"]
    m = ACCURACY.score([pred(i, r, h) for i, (r, h) in enumerate(zip(refs, hyps))])["s"]
    assert m.values["acc"] == accuracy_score(refs, [h.strip() for h in hyps])


def test_lower_strip_mode():
    """With label_normalization='lower-strip', 'Dog' == 'dog' and 'cat ' == 'cat': 3/3."""
    rows = [pred(1, "dog", "dog \n"), pred(2, "dog", "Dog"), pred(3, "cat ", "cat")]
    m = ACCURACY.score(rows, label_normalization="lower-strip")["s"]
    assert m.values["acc"] == 1.0 and m.details["label_normalization"] == "lower-strip"


def test_bad_mode_and_option():
    with pytest.raises(ConfigError, match="label_normalization"):
        ACCURACY.score([pred(1, "a", "a")], label_normalization="fold")
    with pytest.raises(ConfigError, match="unknown option"):
        ACCURACY.score([pred(1, "a", "a")], lower=True)


def test_failed_counted():
    m = ACCURACY.score([pred(1, "a", "a"), pred(2, "b", None, error="timeout")])["s"]
    assert m.values["acc"] == 1.0 and (m.n, m.n_failed) == (2, 1)


def test_list_reference_rejected():
    with pytest.raises(ScorerError, match="string"):
        ACCURACY.score([pred(1, ("a",), "a")])


def test_aqa_binary_subset():
    """Yes/no subset = references whose lowercase is 'yes'/'no': rows 1-3. Row 1 matches,
    row 2 'Yes' vs 'yes' does not (case-sensitive), row 3 matches: acc_binary 2/3;
    overall 3 of 4 (row 4 'dog' matches, so 1+0+1+1) = 0.75."""
    m = AQA_ACCURACY.score([
        pred(1, "yes", "yes"), pred(2, "Yes", "yes"), pred(3, "no", " no"), pred(4, "dog", "dog"),
    ])["s"]
    assert m.values["acc"] == 0.75
    assert m.values["acc_binary"] == pytest.approx(2 / 3)
    assert m.details["n_binary"] == 3
    assert set(m.ci95) == {"acc", "acc_binary"}


def test_aqa_without_yes_no_gives_none():
    m = AQA_ACCURACY.score([pred(1, "dog", "dog")])["s"]
    assert m.values["acc_binary"] is None and "note" in m.details
