"""Every task end to end on each tiny audio-LM family: fake release -> `qa-eval data prepare` ->
`evaluate` (prompts, batches, the adapter, the scorer) -> metrics.json; or, for a task kind the
family cannot express, refused up front with an AdapterError naming the kind (before any
weights load). The tiny models' text is random: only the plumbing is asserted."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import fake_layouts
import pytest

from qa_eval import cli
from qa_eval.adapter import ModelOptions
from qa_eval.errors import AdapterError
from qa_eval.intent import PromptIntent
from qa_eval.run import RunRequest, evaluate
from qa_eval.run.plan import load_samples, load_task

from conftest import TINY

ROOT = Path(__file__).resolve().parents[2]
SPEECH = ROOT / "data" / "1272-128104-0000.flac"
TASKS = sorted(fake_layouts.BUILDERS) + ["srwt"]
NOT_SCORED = {"n", "n_failed", "ci95", "details"}
CHAT = {"qwen2.5-omni", "qwen3-omni", "voxtral"}  # the chat families: every kind but notes and timestamps
CAN_DO = {  # kind (and timestamps) -> families that express it; the others must refuse
    "transcribe": set(TINY), "translate": CHAT, "caption": CHAT, "question": CHAT, "classify": CHAT,
    "choose": CHAT, "analyze_note": set(), "timestamps": set(),
}


@pytest.fixture(scope="module")
def manifests(tmp_path_factory) -> dict[str, Path]:
    """task -> its prepared manifest (prepared once for all families)."""
    out = {}
    for task in TASKS:
        folder = tmp_path_factory.mktemp(task)
        if task == "srwt":  # no public release: a hand-written timestamped row
            shutil.copy(SPEECH, folder / SPEECH.name)
            row = {"audio": SPEECH.name, "gt": "<|0.00|>mister<|0.42|>quilter<|0.90|>", "source": "industrial_srwt",
                   "id": "srwt-0", "lang": "en"}
            (folder / "manifest.jsonl").write_text(json.dumps(row) + "\n")
        else:
            release = fake_layouts.BUILDERS[task](folder / "raw")
            assert cli.main(release.prepare_argv(folder / "manifest.jsonl")) == 0
        out[task] = folder / "manifest.jsonl"
    return out


def _kind(req: RunRequest) -> str:
    """What the task asks of its first sample: the intent kind, or "timestamps"."""
    task = load_task(req.task)
    intent: PromptIntent = task.intent(load_samples(task, req)[0][0])
    return "timestamps" if intent.timestamps else intent.kind


@pytest.mark.parametrize("family", TINY)
@pytest.mark.parametrize("task", TASKS)
def test_task_runs_end_to_end_or_is_refused_by_kind(task, family, manifests, tiny_dirs, registered, tmp_path, capsys):
    req = RunRequest(task=task, model=family, options=ModelOptions(str(tiny_dirs[family]), "cpu", "float32"),
                     batch_size=2, max_new_tokens=4, manifest=str(manifests[task]), out_dir=str(tmp_path / "run"),
                     results_dir=str(tmp_path / "results"), num_workers=0, max_failed_fraction=0.0,
                     show_progress=False)
    kind = _kind(req)
    if family not in CAN_DO[kind]:
        named = "transcribe" if kind == "timestamps" else kind
        with pytest.raises(AdapterError, match=f"{family} cannot do .*'{named}'"):
            evaluate(req, log=lambda *a: None)
        assert not (tmp_path / "run" / "predictions.jsonl").exists()  # refused before any generation
        return
    doc, out_dir = evaluate(req, log=lambda *a: None)
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["meta"]["prompt_hash"] and metrics["meta"]["revision"]
    assert metrics["meta"]["audio_lm_family"] == family
    libraries = metrics["meta"]["libraries"]
    assert {"torch", "numpy", "transformers", "tokenizers"} <= set(libraries) and all(libraries.values())
    assert metrics["meta"]["processor_classes"]["processor"].endswith("Processor")
    for source, entry in metrics["per_source"].items():
        assert entry["n"] >= 1 and entry["n_failed"] == 0, source
        for metric, value in entry.items():
            if metric not in NOT_SCORED and value is not None:
                assert isinstance(value, (int, float)) and math.isfinite(value), (source, metric, value)
    preds = [json.loads(line) for line in (out_dir / "predictions.jsonl").read_text().splitlines()]
    assert preds and all(p["prediction"] is not None for p in preds)
    assert all(json.loads(p["prompt"])["messages"] for p in preds)  # the chat messages, as JSON
