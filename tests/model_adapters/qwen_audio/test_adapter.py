"""The qa-eval adapters: loading, batched generation with per-sample errors, describe()."""

from __future__ import annotations

import json
import sys
import types

import numpy as np
import pytest

from model_adapters.qwen_audio.adapter import QwenAudioAdapter, QwenAudioChatAdapter
from model_adapters.qwen_audio.prompt import audio_query, chatml_prompt
from model_adapters.qwen_audio.raw_generate import generate_file
from model_adapters.qwen_audio.tokenizer import QwenAudioTokenizer
from qa_eval.adapter import AudioInput, ModelOptions
from qa_eval.errors import AdapterError
from qa_eval.intent import PromptIntent
from qa_eval.records import GenerationConfig, Sample

from .conftest import CASES, FIXTURE, audio_path

BY_ID = {c["id"]: c for c in CASES}


@pytest.fixture(scope="module")
def adapter():
    a = QwenAudioAdapter(ModelOptions(checkpoint=str(FIXTURE), device="cpu", dtype="float32"))
    a.load()
    return a


def _input(cid, waveforms, prompt=None):
    c = BY_ID[cid]
    return AudioInput(Sample(cid, "fixture", tuple(a["path"] for a in c["audios"]), "ref"),
                      prompt or c["prompt"], tuple(waveforms[cid]))


def test_generate_batch_with_bad_samples(adapter, waveforms):
    batch = [
        _input("short_0p555s", waveforms),
        _input("s2tt_en_zh", waveforms, prompt="<audio>x</audio><audio>y</audio>"),  # 2 tags, 1 waveform
        _input("long_music_96s", waveforms),
        AudioInput(Sample("tiny", "fixture", ("t.wav",), "ref"), "<audio>t.wav</audio>hi", (np.zeros(100, np.float32),)),
        _input("two_audios", waveforms, prompt=BY_ID["two_audios"]["prompt"].replace("audio/", "PLACEHOLDER/")),
    ]
    out = adapter.generate(batch, GenerationConfig(max_new_tokens=24, min_new_tokens=24))
    assert len(out) == 5
    for i, cid in ((0, "short_0p555s"), (2, "long_music_96s"), (4, "two_audios")):
        assert out[i].error is None and out[i].text == BY_ID[cid]["text_single"]
        assert out[i].n_new_tokens == 24
    assert "truncated_audio" not in out[0].info and out[2].info["truncated_audio"] is True
    assert out[1].text is None and "2 <audio>" in out[1].error
    assert out[3].text is None and "too short" in out[3].error


def test_describe_and_errors(adapter):
    d = adapter.describe()
    assert d["model_id"] == str(FIXTURE) and d["revision"].startswith("sha256:")
    assert d["dtype"] == "float32" and d["device"] == "cpu"
    assert QwenAudioAdapter.family == "qwen-audio" and QwenAudioAdapter.description
    fresh = QwenAudioAdapter(ModelOptions(checkpoint=str(FIXTURE), device="cpu", dtype="float32"))
    with pytest.raises(AdapterError, match="before load"):
        fresh.generate([], GenerationConfig(max_new_tokens=1))
    missing = QwenAudioAdapter(ModelOptions(checkpoint="/nonexistent/dir", device="cpu", dtype="float32"))
    with pytest.raises(AdapterError):
        missing.load()


def test_render_prompt_delegates(monkeypatch):
    fake = types.ModuleType("model_adapters.qwen_audio.prompt")
    fake.render_prompt = lambda intent, n_audio, family: f"{family}|{intent.kind}|{n_audio}"
    monkeypatch.setitem(sys.modules, "model_adapters.qwen_audio.prompt", fake)
    opts = ModelOptions(checkpoint=None, device="cpu", dtype="float32")
    assert QwenAudioAdapter(opts).render_prompt(PromptIntent("caption"), 2) == "qwen-audio|caption|2"
    assert QwenAudioChatAdapter(opts).render_prompt(PromptIntent("caption")) == "qwen-audio-chat|caption|1"


def test_chat_format_and_end_ids():
    q = audio_query(["a.wav"], "What is it?")
    assert q == "Audio 1:<audio>a.wav</audio>\nWhat is it?"
    p = chatml_prompt(q)
    assert p == ("<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
                 "Audio 1:<audio>a.wav</audio>\nWhat is it?<|im_end|>\n<|im_start|>assistant\n")
    tok = QwenAudioTokenizer.from_dir(FIXTURE)
    # piecewise encoding as the official make_context does it == encoding the whole string
    nl = tok.encode("\n")
    pieces = ([tok.im_start_id] + tok.encode("system") + nl + tok.encode("You are a helpful assistant.") + [tok.im_end_id]
              + nl + [tok.im_start_id] + tok.encode("user") + nl + tok.encode(q, [5]) + [tok.im_end_id]
              + nl + [tok.im_start_id] + tok.encode("assistant") + nl)
    assert tok.encode(p, [5]) == pieces
    chat = QwenAudioChatAdapter(ModelOptions(checkpoint=str(FIXTURE), device="cpu", dtype="float32"))
    chat.load()
    assert set(chat.end_ids()) == {151643, 151644, 151645}


def test_generate_file(tmp_path):
    ids = ["s2tt_en_zh", "two_audios", "short_0p555s"]
    lines = []
    for cid in ids:
        prompt = BY_ID[cid]["prompt"]
        for a in BY_ID[cid]["audios"]:
            prompt = prompt.replace(a["path"], str(audio_path(a).relative_to(FIXTURE)))
        lines.append(json.dumps({"id": cid, "prompt": prompt}))
    lines.append(json.dumps({"id": "missing", "prompt": "<audio>audio/nope.wav</audio>hi"}))
    cases = tmp_path / "cases.jsonl"
    # audio paths are relative to the cases file's folder
    (tmp_path / "audio").symlink_to(FIXTURE / "audio")
    cases.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "out" / "pred.jsonl"
    failed = generate_file(str(FIXTURE), str(cases), str(out), 24, 24, batch_size=2)
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert failed == 1 and [r["id"] for r in rows] == ids + ["missing"]
    for r in rows[:3]:
        assert r["token_ids"] == BY_ID[r["id"]]["greedy_ids_single"]
        assert r["text"] == BY_ID[r["id"]]["text_single"]
    assert rows[3]["token_ids"] is None and "not found" in rows[3]["error"]


def _runner(tmp_path):
    """run(batch_size, name) -> (metrics, [(id, prediction)], log lines) on 10 librispeech-sample clips."""
    from qa_eval.run import RunRequest, evaluate

    def run(batch_size, name):
        req = RunRequest(task="librispeech-sample", model="qwen-audio",
                         options=ModelOptions(str(FIXTURE), "cpu", "float32"), batch_size=batch_size,
                         max_new_tokens=6, limit=10, out_dir=str(tmp_path / name),
                         results_dir=str(tmp_path), num_workers=0, max_failed_fraction=0.0)
        logs: list[str] = []
        doc, out = evaluate(req, log=lambda *a: logs.append(" ".join(map(str, a))))
        preds = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
        return doc, [(p["id"], p["prediction"]) for p in preds], logs

    return run


def test_batch_size_auto_matches_batch_size_one(tmp_path):
    run = _runner(tmp_path)
    auto_doc, auto_preds, logs = run("auto", "auto")
    _, one_preds, _ = run(1, "one")
    assert auto_preds == one_preds and len(auto_preds) == 10
    meta = auto_doc["meta"]
    assert meta["batch_size"] == "auto"
    assert meta["timing"]["auto_batch"]["free_bytes"] > 0
    assert meta["timing"]["batches"]["n"] == 1 and meta["timing"]["batches"]["max_rows"] == 10  # tiny model
    assert any("--batch-size auto" in line for line in logs)


def test_batch_size_auto_without_an_estimate_uses_the_default(tmp_path, monkeypatch):
    monkeypatch.setattr(QwenAudioAdapter, "memory_budget", lambda self, config: None)
    doc, preds, logs = _runner(tmp_path)("auto", "fallback")
    assert doc["meta"]["timing"]["batches"]["max_rows"] == 8 and len(preds) == 10
    assert any("no memory estimate" in line for line in logs)
