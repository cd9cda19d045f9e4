"""The Qwen2-Audio suite's new tasks end to end with the tiny Qwen2-Audio checkpoint: fake release ->
`qa-eval data prepare` -> run (the Qwen2-Audio prompt, the report's scorer wer-normalized) ->
metrics.json -> `qa-eval paper-table --paper qwen2-audio` with the runs as a measured column.

Also an official-list-shaped manifest (rows with their own `prompt`, no `lang`, the list's short
source name): the row's prompt is run verbatim and the task's language decides the scoring.
The tiny model's text is random, so the numbers are checked against the scorer run on the stored
predictions; the scorer itself is proven by tests/scoring and tests/tasks/test_language_asr_tasks.py.
"""

from __future__ import annotations

import json
from pathlib import Path

import fake_layouts
import pytest

from qa_eval import cli, registry
from qa_eval.adapter import ModelOptions
from qa_eval.metrics import score_predictions
from qa_eval.paper.data import load_paper
from qa_eval.run import RunRequest, evaluate
from qa_eval.store import read_predictions

TASKS = ("cv15-en", "cv15-zh", "cv15-yue", "cv15-fr", "fleurs-zh")
AUDIO_MARKERS = "<|audio_bos|><|AUDIO|><|audio_eos|>"


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> str:
    from model_adapters.testing.qwen2_audio import make_tiny_qwen2_audio

    return str(make_tiny_qwen2_audio(tmp_path_factory.mktemp("qwen2_audio_tiny")))


def _run(task: str, manifest: Path, checkpoint: str, out_dir: Path) -> tuple[dict, Path]:
    req = RunRequest(
        task=task, model="qwen2-audio", options=ModelOptions(checkpoint, "cpu", "float32"),
        batch_size=2, max_new_tokens=4, manifest=str(manifest), out_dir=str(out_dir),
        results_dir=str(out_dir.parent / "results"), num_workers=0, max_failed_fraction=0.0,
    )
    return evaluate(req, log=lambda *a: None)


@pytest.fixture(scope="module")
def suite_runs(checkpoint, tmp_path_factory) -> Path:
    """Every new task prepared from its fake release and run; the runs lie under runs/<task>/."""
    root = tmp_path_factory.mktemp("suite")
    for task in TASKS:
        release = fake_layouts.BUILDERS[task](root / "raw" / task)
        manifest = root / "manifests" / f"{task}.jsonl"
        assert cli.main(release.prepare_argv(manifest)) == 0
        _run(task, manifest, checkpoint, root / "runs" / task)
    return root / "runs"


@pytest.mark.parametrize("task_name", TASKS)
def test_task_runs_with_the_qwen2_audio_prompt_and_the_reports_scorer(task_name, suite_runs):
    task = registry.load("task", task_name)
    lang = task.scorer_options["lang"]
    metrics = json.loads((suite_runs / task_name / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["scorer"]["name"] == "wer-normalized" and metrics["meta"]["task_scorer"] == "wer-normalized"
    (source,) = metrics["per_source"]
    assert source == task.sources[0]
    entry = metrics["per_source"][source]
    assert (entry["n"], entry["n_failed"]) == (2, 0)
    preds = read_predictions(suite_runs / task_name / "predictions.jsonl")
    instruction = f"Detect the language and recognize the speech: <|{lang}|>"
    assert {p.extra["prompt"] for p in preds} == {AUDIO_MARKERS + instruction}
    assert {p.get("lang") for p in preds} == {lang}
    rescored = score_predictions(task, preds, bootstrap=False).per_source[source]
    assert rescored.values["wer"] == entry["wer"]


def test_paper_table_shows_the_runs_beside_the_report(suite_runs, tmp_path, capsys):
    assert cli.main(["paper-table", "--paper", "qwen2-audio", "--results", str(suite_runs),
                     "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    lines = [ln for ln in (tmp_path / "paper_table.md").read_text(encoding="utf-8").splitlines() if ln.startswith("|")]
    head, *body = [[c.strip() for c in ln.strip("|").split(" | ")] for ln in lines[:1] + lines[2:]]
    assert head[-2:] == ["Qwen2-Audio (paper)", "qwen2-audio"]
    measured = {row.measure: cells[-1] for row, cells in zip(load_paper("qwen2-audio").rows, body)}
    for task_name in TASKS:
        source = registry.load("task", task_name).sources[0]
        wer = json.loads((suite_runs / task_name / "metrics.json").read_text())["per_source"][source]["wer"]
        cell = measured[(task_name, source, "wer")]
        assert cell.removeprefix("**").replace("** (", " (") == f"{wer * 100:.2f} (n=2)", (task_name, cell)
    assert sum(c != "–" for c in measured.values()) == len(TASKS)  # nothing else was run


def test_an_official_list_row_runs_its_own_prompt(checkpoint, tmp_path):
    release = fake_layouts.common_voice(tmp_path / "raw", "yue")
    clips = release.raw / "cv-corpus-15.0-2023-09-08" / "yue" / "clips"
    prompt = "Please transcribe the Cantonese: <|yue|>"
    manifest = tmp_path / "cv15_asr_yue_eval.jsonl"
    manifest.write_text("".join(json.dumps({"audio": str(clips / f"common_voice_yue_{n}.mp3"), "gt": gt,
                                            "source": "cv15_yue", "prompt": prompt}, ensure_ascii=False) + "\n"
                                for n, gt in ((100, "我哋聽日去飲茶。"), (101, "多謝晒"))), encoding="utf-8")
    doc, out_dir = _run("cv15-yue", manifest, checkpoint, tmp_path / "run")
    preds = read_predictions(out_dir / "predictions.jsonl")
    assert {p.extra["prompt"] for p in preds} == {AUDIO_MARKERS + prompt}
    assert set(doc["per_source"]) == {"cv15_yue_test"}  # the list's short name, mapped
    rescored = score_predictions(registry.load("task", "cv15-yue"), preds, bootstrap=False)
    assert doc["per_source"]["cv15_yue_test"]["wer"] == rescored.per_source["cv15_yue_test"].values["wer"]
    assert rescored.per_source["cv15_yue_test"].details["langs"] == ["yue"]  # no `lang` in the rows: the task's
