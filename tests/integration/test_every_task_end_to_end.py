"""Every task runs end to end with the tiny Qwen-Audio checkpoint (real format, real loader).

For each task: a manifest in the official shape for its first source (real audio files, the
task's own fields), `qa-eval run` in-process with qwen-audio on the CPU, then checks that
metrics.json has every source row with numbers from the real scorer and the paper value beside
it in the leaderboard. The tiny model's text is random, so only the plumbing is asserted here;
the numbers themselves are proven by the scorer goldens and the fixture parity tests.
"""

from __future__ import annotations

import contextlib
import json
import shutil
from pathlib import Path

import pytest

from qa_eval import registry
from qa_eval.adapter import ModelOptions
from qa_eval.evaluate import RunRequest, evaluate
from qa_eval.leaderboard import write_leaderboard

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "fixtures" / "qwen_audio_tiny"
AUDIO = [ROOT / "data" / "1272-128104-0000.flac", ROOT / "data" / "glass-breaking-151256.mp3"]


def _rows(task_name: str) -> list[dict]:
    task = registry.load("task", task_name)
    source = task.sources[0]
    rows = []
    for i, audio in enumerate(AUDIO):
        row: dict = {"audio": audio.name, "source": source, "id": f"{task_name}-{i}"}
        if task.scorer in ("wer", "wer-normalized"):
            zh = task_name.startswith("aishell")
            row.update(gt="甚至出现交易几乎停滞的情况" if zh else "mister quilter is the apostle", lang="zh" if zh else "en")
        elif task.scorer == "bleu":
            src, tgt = source.split("_")[1:3]
            row.update(gt="a short reference translation", src_lang=src, tgt_lang=tgt)
        elif task.scorer == "caption":
            row.update(gt=["glass breaks on the floor", "a window shatters", "something breaks",
                           "a glass is dropped", "shattering glass"])
        elif task.scorer == "aqa-accuracy":
            row.update(gt="yes" if i == 0 else "glass", question="Is someone speaking?")
        elif task.scorer == "nsynth":
            row.update(gt="<|pitch|><|midi_pitch_60|><|velocity|><|midi_velocity_100|>"
                          "<|instrument|>keyboard<|sonic|>bright")
        elif task.scorer == "srwt":
            row.update(gt="<|0.00|>mister<|0.42|>quilter<|0.90|>is<|1.10|>", lang="en")
        else:
            row.update(gt=task.labels[i % len(task.labels)])
        rows.append(row)
    return rows


@pytest.mark.parametrize("task_name", [n for n in registry.names("task") if n != "librispeech-sample"])
def test_task_runs_with_tiny_qwen_audio(task_name: str, tmp_path: Path) -> None:
    for audio in AUDIO:
        shutil.copy(audio, tmp_path / audio.name)
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _rows(task_name)))
    req = RunRequest(
        task=task_name, model="qwen-audio", options=ModelOptions(str(FIXTURE), "cpu", "float32"),
        batch_size=2, max_new_tokens=4, manifest=str(manifest), out_dir=str(tmp_path / "run"),
        results_dir=str(tmp_path / "results"), num_workers=0, max_failed_fraction=0.0,
    )
    # Clotho: SPICE cannot run without the CoreNLP jars, and must say so with a warning.
    with pytest.warns(match="SPICE") if task_name == "clotho" else contextlib.nullcontext():
        doc, out_dir = evaluate(req, log=lambda *a: None)
    task = registry.load("task", task_name)
    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics == json.loads(json.dumps(doc))
    entry = metrics["per_source"][task.sources[0]]
    assert entry["n"] == 2 and entry["n_failed"] == 0
    numbers = {k: v for k, v in entry.items() if k not in ("n", "n_failed", "ci95", "details")}
    assert numbers and any(v is not None for v in numbers.values())
    assert metrics["meta"]["prompt_hash"] and metrics["meta"]["revision"]
    preds = [json.loads(line) for line in (out_dir / "predictions.jsonl").read_text().splitlines()]
    assert all(p["prediction"] is not None and p["prompt"].startswith(("<audio>", "Audio 1:")) for p in preds)
    (tmp_path / "results" / "r").mkdir(parents=True, exist_ok=True)
    shutil.copy(out_dir / "metrics.json", tmp_path / "results" / "r" / "metrics.json")
    write_leaderboard(tmp_path / "results", tmp_path / "lb")
    md = (tmp_path / "lb" / "leaderboard.md").read_text()
    if task.paper.get(task.sources[0]):
        paper_value = next(iter(task.paper[task.sources[0]].values()))
        assert f"{paper_value:.4f}"[:5] in md or f"{paper_value:.2f}" in md

