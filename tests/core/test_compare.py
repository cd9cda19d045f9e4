"""`qa-eval compare`: refuses results whose numbers mean different things (exit 2), pairs the
samples both scored for a bootstrap 95 % interval of the difference, fails on tolerance,
significance or both, and writes a Markdown summary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qa_eval import registry
from qa_eval.cli import main
from qa_eval.metrics import metrics_document, score_predictions
from qa_eval.records import Prediction
from qa_eval.run.plan import samples_digest
from qa_eval.records import Sample
from qa_eval.scoring.base import percentile_ci

REFS = [f"the quick brown fox number {i} jumps over the lazy dog" for i in range(40)]


def _write(path: Path, hyps: list[str], scorer: str | None = None, refs: list[str] = REFS, task: str = "librispeech",
           meta: dict | None = None) -> Path:
    spec = registry.load("task", task)
    preds = [Prediction(f"u{i}", "librispeech_test_clean", r, h, extra={"lang": "en"})
             for i, (r, h) in enumerate(zip(refs, hyps))]
    doc = metrics_document(spec, "m", score_predictions(spec, preds, scorer_name=scorer), meta or {})
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def _hyps(n_wrong: int) -> list[str]:
    """Hypotheses with one substituted word in the first `n_wrong` utterances."""
    return [r.replace("lazy", "hazy") if i < n_wrong else r for i, r in enumerate(REFS)]


def compare(capsys, *args: str) -> tuple[int, str]:
    code = main(["compare", *args])
    out = capsys.readouterr()
    return code, out.out + out.err


def test_a_result_against_itself_has_a_zero_interval(tmp_path, capsys) -> None:
    base = _write(tmp_path / "a" / "metrics.json", _hyps(10))
    code, out = compare(capsys, str(base), str(base), "--format", "json")
    assert code == 0
    (row,) = json.loads(out)
    assert row["paired"]["low"] == row["paired"]["high"] == row["paired"]["diff"] == 0.0
    assert row["paired"]["n"] == 40 and row["paired"]["significant"] is False


def test_a_worse_candidate_is_a_significant_regression(tmp_path, capsys) -> None:
    base = _write(tmp_path / "a" / "metrics.json", _hyps(2))
    worse = _write(tmp_path / "b" / "metrics.json", _hyps(30))
    code, out = compare(capsys, str(base), str(worse), "--fail-on", "significant", "--format", "json")
    (row,) = json.loads(out)
    assert code == 1 and row["regressed"] and row["paired"]["significant"]
    assert 0 < row["paired"]["low"] <= row["paired"]["diff"] <= row["paired"]["high"]
    # a small worsening within the noise: beyond a zero tolerance, yet not significant
    slightly = _write(tmp_path / "c" / "metrics.json", _hyps(3))
    assert compare(capsys, str(base), str(slightly), "--tolerance", "wer=0", "--fail-on", "significant")[0] == 0
    assert compare(capsys, str(base), str(slightly), "--tolerance", "wer=0", "--fail-on", "both")[0] == 0
    assert compare(capsys, str(base), str(slightly), "--tolerance", "wer=0")[0] == 1


def test_the_markdown_summary_fits_a_pull_request_comment(tmp_path, capsys) -> None:
    base = _write(tmp_path / "a" / "metrics.json", _hyps(2))
    worse = _write(tmp_path / "b" / "metrics.json", _hyps(30))
    code, out = compare(capsys, str(base), str(worse), "--format", "markdown")
    assert code == 1
    assert out.startswith("**qa-eval compare: 1 regression(s)**")
    assert "| ❌ | librispeech | librispeech_test_clean | wer |" in out and "paired 95% CI" in out


@pytest.mark.filterwarnings("ignore::qa_eval.task.UnknownSourceWarning")
@pytest.mark.parametrize("other, why", [
    (lambda p: _write(p, _hyps(2), scorer="wer-normalized"), "different scorers (wer vs wer-normalized)"),
    (lambda p: _write(p, _hyps(2), task="librispeech-sample", refs=REFS), "different tasks"),
    (lambda p: _write(p, _hyps(2), refs=[r.replace("fox", "cat") for r in REFS]), "references_sha256"),
])
def test_results_that_are_not_comparable_are_refused(tmp_path, capsys, other, why) -> None:
    base = _write(tmp_path / "a" / "metrics.json", _hyps(2))
    code, out = compare(capsys, str(base), str(other(tmp_path / "b" / "metrics.json")))
    assert code == 2 and why in out, out
    assert len([ln for ln in out.splitlines() if ln.startswith("qa-eval: error:")]) == 1


def test_scorer_version_and_options_must_match(tmp_path, capsys) -> None:
    base = _write(tmp_path / "a" / "metrics.json", _hyps(2))
    doc = json.loads(base.read_text())
    doc["scorer"]["version"] = "0"
    (tmp_path / "v.json").write_text(json.dumps(doc))
    assert "different versions (1 vs 0)" in compare(capsys, str(base), str(tmp_path / "v.json"))[1]
    doc = json.loads(base.read_text())
    doc["scorer"]["options"]["lang"] = "zh"
    (tmp_path / "o.json").write_text(json.dumps(doc))
    code, out = compare(capsys, str(base), str(tmp_path / "o.json"))
    assert code == 2 and "different options (lang='en' vs 'zh')" in out


def test_a_score_made_result_carries_the_references_digest(tmp_path, capsys) -> None:
    """`qa-eval score` of predictions over other references cannot pass for the same data."""
    base = _write(tmp_path / "a" / "metrics.json", _hyps(2))
    rows = [{"id": f"u{i}", "source": "librispeech_test_clean", "reference": r.replace("dog", "cat"),
             "prediction": r, "lang": "en"} for i, r in enumerate(REFS)]
    preds = tmp_path / "p" / "predictions.jsonl"
    preds.parent.mkdir()
    preds.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["score", "--task", "librispeech", "--predictions", str(preds), "--out", str(tmp_path / "s.json")]) == 0
    capsys.readouterr()
    assert json.loads((tmp_path / "s.json").read_text())["meta"]["references_sha256"]
    code, out = compare(capsys, str(base), str(tmp_path / "s.json"))
    assert code == 2 and "references_sha256" in out
    assert compare(capsys, str(base), str(tmp_path / "s.json"), "--allow-different-data")[0] in (0, 1)


def test_fail_on_significance_needs_per_sample_statistics(tmp_path, capsys) -> None:
    base = _write(tmp_path / "a" / "metrics.json", _hyps(2))
    doc = json.loads(base.read_text())
    del doc["samples"]
    (tmp_path / "old.json").write_text(json.dumps(doc))
    code, out = compare(capsys, str(tmp_path / "old.json"), str(base), "--fail-on", "significant")
    assert code == 2 and "per-sample statistics" in out
    assert compare(capsys, str(tmp_path / "old.json"), str(base))[0] == 0  # tolerance needs none


# --- what the suite must catch (issue 20's surviving mutants) --------------------------------------


def test_the_interval_is_the_2_5th_to_97_5th_percentile() -> None:
    assert percentile_ci(np.arange(1001)) == (25.0, 975.0)


def test_references_are_in_the_data_digest() -> None:
    a = [Sample("1", "s", ("a.wav",), "hello world")]
    b = [Sample("1", "s", ("a.wav",), "hello there")]
    assert samples_digest(a) != samples_digest(b)
