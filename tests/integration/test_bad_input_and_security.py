"""Bad input as a new user would bring it, and the security guarantees, through `qa-eval`.

Real model (the tiny Qwen-Audio checkpoint, or the embedded Whisper), real files, real CLI.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from model_adapters.whisper.embedded import embedded_checkpoint
from qa_eval.adapter import ModelOptions
from qa_eval.errors import AdapterError
from qa_eval.run import RunRequest, evaluate

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "fixtures" / "qwen_audio_tiny"
REAL = ROOT / "data" / "1272-128104-0000.flac"


def qa_eval(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa_eval", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=600)


def _request(tmp_path: Path, manifest: Path, **kw) -> RunRequest:
    return RunRequest(task="librispeech", model="qwen-audio", options=ModelOptions(str(FIXTURE), "cpu", "float32"),
                      batch_size=4, max_new_tokens=3, manifest=str(manifest), out_dir=str(tmp_path / "out"),
                      results_dir=str(tmp_path / "results"), num_workers=0, **kw)


def _manifest(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_ten_minute_file_is_truncated_and_counted(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    sf.write(tmp_path / "long.flac", (0.05 * rng.standard_normal(600 * 16000)).astype(np.float32), 16000)
    shutil.copy(REAL, tmp_path / "short.flac")
    m = _manifest(tmp_path / "m.jsonl", [
        {"audio": "long.flac", "gt": "x", "source": "librispeech_test_clean", "lang": "en", "id": "long"},
        {"audio": "short.flac", "gt": "y", "source": "librispeech_test_clean", "lang": "en", "id": "short"},
    ])
    doc, out = evaluate(_request(tmp_path, m), log=lambda *a: None)
    preds = {json.loads(line)["id"]: json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()}
    assert preds["long"]["truncated_audio"] is True and preds["long"]["prediction"] is not None
    assert not preds["short"].get("truncated_audio")
    assert doc["meta"]["n_truncated_audio"] == 1


def test_manifest_paths_cannot_make_qa_eval_write_outside_the_output_folder(tmp_path: Path) -> None:
    work = tmp_path / "work"
    work.mkdir()
    shutil.copy(REAL, work / "a.flac")
    m = _manifest(work / "m.jsonl", [
        {"audio": "a.flac", "gt": "x", "source": "librispeech_test_clean", "id": "../../../escaped"},
        {"audio": "../../../../../../tmp/../etc/passwd", "gt": "x", "source": "librispeech_test_clean",
         "id": "/tmp/abs-escape"},
    ])
    before = {p for p in tmp_path.rglob("*")}
    evaluate(_request(work, m, max_failed_fraction=1.0), log=lambda *a: None)
    created = {p for p in tmp_path.rglob("*")} - before
    assert created and all((work / "out") in p.parents or p == work / "out" for p in created), created
    assert not Path("/tmp/abs-escape").exists()


def test_references_file_of_another_task_is_refused(tmp_path: Path) -> None:
    """Refused on evidence in the references (issue 15: never on a source name alone): caption
    lists scored as ASR. ASR rows scored as translation are not refused for their source name;
    BLEU then stops, naming the source, because nothing says the target language."""
    row = {"id": "1", "source": "clotho_evaluation", "reference": ["a dog barks", "a dog"], "prediction": "a dog",
           "error": None}
    (tmp_path / "p.jsonl").write_text(json.dumps(row) + "\n")
    proc = qa_eval("score", "--task", "librispeech", "--predictions", str(tmp_path / "p.jsonl"), cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert "clotho_evaluation" in proc.stderr and "right task" in proc.stderr
    row = {"id": "1", "source": "librispeech_test_clean", "reference": "a b", "prediction": "a b", "error": None}
    (tmp_path / "p.jsonl").write_text(json.dumps(row) + "\n")
    proc = qa_eval("score", "--task", "covost2", "--predictions", str(tmp_path / "p.jsonl"), cwd=tmp_path)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "librispeech_test_clean" in proc.stderr


def test_unknown_names_suggest_the_right_one(tmp_path: Path) -> None:
    proc = qa_eval("run", "--task", "librispeeh", "--model", "whisper-tiny.en", cwd=tmp_path)
    assert proc.returncode == 2 and "Did you mean 'librispeech'" in proc.stderr
    proc = qa_eval("run", "--task", "librispeech-sample", "--model", "whisper-tiny", cwd=tmp_path)
    assert proc.returncode == 2 and "Did you mean 'whisper-tiny.en'" in proc.stderr


def test_unwritable_output_fails_before_the_model_loads(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a folder")
    proc = qa_eval("run", "--task", "librispeech-sample", "--model", "whisper-tiny.en", "--device", "cpu",
                   "--out", str(tmp_path / "file" / "run"), cwd=tmp_path)
    assert proc.returncode == 2 and "not writable" in proc.stderr and "Loading weights" not in proc.stderr


def test_pickle_weights_are_refused_unless_opted_in(tmp_path: Path) -> None:
    """A Whisper folder holding only pytorch_model.bin (pickle) loads only with --allow-pickle."""
    import torch
    from safetensors.torch import load_file

    from model_adapters.whisper.adapter import WhisperAdapter

    ckpt = tmp_path / "whisper-pickle"
    shutil.copytree(embedded_checkpoint(), ckpt)
    torch.save(load_file(ckpt / "model.safetensors"), ckpt / "pytorch_model.bin")
    (ckpt / "model.safetensors").unlink()
    with pytest.raises(AdapterError):
        WhisperAdapter(ModelOptions(str(ckpt), "cpu", "float32")).load()
    WhisperAdapter(ModelOptions(str(ckpt), "cpu", "float32", allow_pickle=True)).load()


def test_remote_code_is_off_by_default() -> None:
    opts = ModelOptions("some/hub-id", "cpu", "float32")
    assert opts.hf_load_kwargs("some/hub-id")["trust_remote_code"] is False
    assert opts.hf_load_kwargs("some/hub-id")["use_safetensors"] is True
