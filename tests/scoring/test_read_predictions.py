"""read_predictions: every bad file is a ScorerError naming file:line, never a traceback."""

import json

import pytest

from qa_eval.errors import ScorerError
from qa_eval.store import read_predictions
from qa_eval.scoring.wer import PAPER_WER

GOOD = {"id": "a", "source": "s", "reference": "hello world", "prediction": "hello world", "error": None}


def write(tmp_path, *lines, raw=None):
    p = tmp_path / "predictions.jsonl"
    if raw is not None:
        p.write_bytes(raw)
    else:
        p.write_text("\n".join(x if isinstance(x, str) else json.dumps(x) for x in lines) + "\n")
    return p


def test_reads_rows_and_records_line(tmp_path):
    p = write(tmp_path, GOOD, "", {**GOOD, "id": "b", "lang": "en"})
    rows = read_predictions(p)
    assert [r.id for r in rows] == ["a", "b"]
    assert rows[1].get("_where") == f"{p}:3" and rows[1].get("lang") == "en"


@pytest.mark.parametrize("bad,match", [
    ("{not json", "not valid JSON"),
    ("[1, 2]", "expected a JSON object"),
    (json.dumps({"id": "x", "source": "s", "prediction": "p"}), "'reference' missing"),
    (json.dumps({**GOOD, "id": "x", "prediction": 3}), "'prediction' must be a string"),
    (json.dumps({**GOOD, "id": "x", "reference": 5}), "'reference' must be"),
    (json.dumps({**GOOD, "id": "x", "prediction": None}), "no 'error' says why"),
    (json.dumps(GOOD), "duplicate id 'a'"),
])
def test_bad_line_names_file_and_line(tmp_path, bad, match):
    p = write(tmp_path, GOOD, bad)
    with pytest.raises(ScorerError, match=match) as e:
        read_predictions(p)
    assert f"{p}:2" in str(e.value)


def test_missing_empty_and_binary_files(tmp_path):
    with pytest.raises(ScorerError, match="not found"):
        read_predictions(tmp_path / "nope.jsonl")
    with pytest.raises(ScorerError, match="no rows"):
        read_predictions(write(tmp_path, raw=b"\n\n"))
    with pytest.raises(ScorerError, match=r"predictions.jsonl:2: not UTF-8"):
        read_predictions(write(tmp_path, raw=json.dumps(GOOD).encode() + b"\n\xff\xfe\n"))


def test_scorer_names_line_of_wrong_reference_type(tmp_path):
    p = write(tmp_path, GOOD, {**GOOD, "id": "b", "reference": ["x", "y"]})
    with pytest.raises(ScorerError, match=f"{p}:2: scorer 'wer' expects 'reference' to be a string"):
        PAPER_WER.score(read_predictions(p))


def test_failed_row_read_and_counted(tmp_path):
    p = write(tmp_path, GOOD, {**GOOD, "id": "b", "prediction": None, "error": "oom"})
    m = PAPER_WER.score(read_predictions(p))["s"]
    assert (m.n, m.n_failed, m.values["wer"]) == (2, 1, 0.0)
