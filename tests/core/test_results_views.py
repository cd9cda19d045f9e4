"""What the views of results promise: the paper's number only beside a value scored the paper's
way, differences in the metric's own decimals, the scorer a task's family allows, a missing
results folder refused, and a failed run leaving the leaderboard as it was."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from qa_eval import registry
from qa_eval.cli import main
from qa_eval.metrics import metrics_document, score_predictions
from qa_eval.records import Prediction
from qa_eval.report import result_rows
from qa_eval.results import RunResult

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "qwen_audio_tiny"


def _doc(task: str, scorer: str | None, rows: list[tuple[str, str, str]], extra: dict) -> RunResult:
    spec = registry.load("task", task)
    preds = [Prediction(f"s{i}", src, ref, hyp, extra=extra) for i, (src, ref, hyp) in enumerate(rows)]
    return RunResult.from_dict(metrics_document(spec, "m", score_predictions(spec, preds, scorer_name=scorer), {}))


def test_the_papers_number_stands_only_beside_a_value_scored_its_way() -> None:
    rows = [("librispeech_test_clean", "Hello, world.", "hello world")]
    paper = {r.scorer: r.paper for r in result_rows(_doc("librispeech", None, rows, {"lang": "en"}))}
    normalized = {r.scorer: r.paper for r in result_rows(_doc("librispeech", "wer-normalized", rows, {"lang": "en"}))}
    assert paper == {"wer": 0.020} and normalized == {"wer-normalized": None}


def test_a_difference_has_the_metrics_own_decimals() -> None:
    result = _doc("srwt", None, [("industrial_srwt", "<|0.00|>hello<|0.50|>world<|1.00|>",
                                  "<|0.00|>hello<|0.70|>world<|1.40|>")], {"lang": "en"})
    (aas,) = [r for r in result_rows(result) if r.metric == "aas_ms"]
    assert aas.fmt_diff() == f"{aas.value - aas.paper:+.2f}" and aas.fmt_diff().count(".") == 1
    assert len(aas.fmt_diff().split(".")[1]) == 2


@pytest.mark.parametrize("scorer", ["srwt", "bleu", "caption"])
def test_only_the_families_scorers_apply(tmp_path: Path, scorer: str, capsys) -> None:
    code = main(["run", "--task", "librispeech-sample", "--model", "qwen-audio", "--checkpoint", str(FIXTURE),
                 "--device", "cpu", "--scorer", scorer, "--results", str(tmp_path), "--no-leaderboard"])
    err = capsys.readouterr().err
    assert code == 2 and f"scorer {scorer!r} does not apply to asr tasks: use wer or wer-normalized" in err
    assert not list(tmp_path.rglob("predictions.jsonl"))  # refused before anything ran


@pytest.mark.parametrize("command", ["leaderboard", "paper-table"])
def test_a_missing_results_folder_is_refused(tmp_path: Path, command: str, capsys) -> None:
    code = main([command, "--results", str(tmp_path / "nope"), "--out", str(tmp_path / "out")])
    assert code == 2 and "no such results folder" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_a_failed_run_leaves_the_leaderboard_as_it_was(tmp_path: Path) -> None:
    run = [sys.executable, "-m", "qa_eval", "run", "--task", "librispeech-sample", "--model", "qwen-audio",
           "--checkpoint", str(FIXTURE), "--device", "cpu", "--max-new-tokens", "2", "--num-workers", "0",
           "--no-progress", "--results", str(tmp_path / "runs")]
    ok = subprocess.run([*run, "--limit", "2"], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert ok.returncode == 0, ok.stderr
    board = tmp_path / "results" / "leaderboard" / "leaderboard.md"
    before = board.read_text(encoding="utf-8")
    manifest = tmp_path / "broken.jsonl"
    manifest.write_text(json.dumps({"audio": "missing.flac", "gt": "hello", "source": "librispeech_sample"}) + "\n")
    failed = subprocess.run([*run, "--manifest", str(manifest)], cwd=tmp_path, capture_output=True, text=True,
                            timeout=600)
    assert failed.returncode == 3, failed.stderr
    assert board.read_text(encoding="utf-8") == before and "leaderboard:" not in failed.stderr
