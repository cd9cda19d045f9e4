"""Qwen2AudioAdapter on a tiny random Qwen2-Audio checkpoint and real audio."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model_adapters.qwen2_audio.adapter import Qwen2AudioAdapter
from qa_eval.adapter import AudioInput, ModelOptions
from qa_eval.errors import AdapterError, ConfigError
from qa_eval.intent import PromptIntent
from qa_eval.records import GenerationConfig, Sample

AUDIO = "<|audio_bos|><|AUDIO|><|audio_eos|>"
ASR = AUDIO + "Detect the language and recognize the speech: <|en|>"
CONFIG = GenerationConfig(max_new_tokens=8)


def item(prompt: str, *waves: np.ndarray) -> AudioInput:
    return AudioInput(Sample("s", "test", tuple(f"{k}.flac" for k in range(len(waves))), ""), prompt, waves)


def test_tiny_checkpoint_has_the_real_layout(tiny_dir, qwen2):
    config = json.loads((tiny_dir / "config.json").read_text())
    assert config["model_type"] == "qwen2_audio"
    tok = qwen2._processor.tokenizer
    assert config["audio_token_index"] == tok.convert_tokens_to_ids("<|AUDIO|>")
    for special in ("<|audio_bos|>", "<|AUDIO|>", "<|audio_eos|>", "<|endoftext|>", "<|im_start|>", "<|im_end|>"):
        assert len(tok.encode(special, add_special_tokens=False)) == 1
    assert qwen2._processor.feature_extractor.feature_size == 128


def test_audio_token_expands_to_encoder_length(qwen2, real_wave):
    inputs = qwen2._processor(text=[ASR], audio=[real_wave], sampling_rate=16_000, return_tensors="pt")
    n_frames = len(real_wave) // 160  # 5.855 s -> 585 mel frames -> 146 audio tokens
    expected = ((n_frames - 1) // 2 + 1 - 2) // 2 + 1
    assert int((inputs["input_ids"] == qwen2._model.config.audio_token_index).sum()) == expected == 146


def test_batched_equals_one_at_a_time(qwen2, real_wave, synth_wave):
    two_audios = "".join(f"Audio {k}: {AUDIO}\n" for k in (1, 2)) + "What does the person say?"
    batch = [
        item(ASR, real_wave),
        item(AUDIO + "Generate the caption in English:", synth_wave),  # other prompt length: left padding
        item(ASR, real_wave[:32_000]),
        item(two_audios, synth_wave, real_wave[:16_000]),
    ]
    together = qwen2.generate_ids(batch, CONFIG)
    alone = [qwen2.generate_ids([x], CONFIG)[0] for x in batch]
    assert together == alone
    assert all(ids and len(ids) <= CONFIG.max_new_tokens for ids in together)
    assert together[0] != together[1]
    assert qwen2.generate(batch[:2], CONFIG) == [qwen2.generate([x], CONFIG)[0] for x in batch[:2]]


def test_end_to_end_on_real_audio(qwen2, real_wave):
    prompt = qwen2.render_prompt(PromptIntent("transcribe", audio_lang="en"))
    assert prompt == ASR
    long_wave = np.concatenate([real_wave] * 6)  # 35 s: the feature extractor keeps 30 s
    gens = qwen2.generate([item(prompt, real_wave), item(prompt, long_wave)], CONFIG)
    assert all(g.error is None and isinstance(g.text, str) for g in gens)
    assert 1 <= gens[0].n_new_tokens <= CONFIG.max_new_tokens
    assert "truncated_audio" not in gens[0].info and gens[1].info.get("truncated_audio") is True


def test_audio_count_mismatch_fails_alone(qwen2, real_wave):
    out = qwen2.generate([item(ASR, real_wave, real_wave), item(ASR, real_wave[:16_000])], CONFIG)
    assert out[0].text is None and "2 audios" in out[0].error
    assert out[1].error is None and out[1].text is not None


def test_describe_hashes_local_weights(qwen2, tiny_dir):
    meta = qwen2.describe()
    assert meta["model_id"] == str(tiny_dir)
    assert meta["revision"].startswith("sha256:") and meta == qwen2.describe()


def test_options_are_checked():
    with pytest.raises(ConfigError):
        Qwen2AudioAdapter(ModelOptions("x", "cpu", "int8"))
    with pytest.raises(AdapterError):
        Qwen2AudioAdapter(ModelOptions("x", "cpu", "float32")).generate([], CONFIG)
    assert Qwen2AudioAdapter(ModelOptions(None, "cpu", "float32")).checkpoint() == "Qwen/Qwen2-Audio-7B"


def test_registered_as_entry_point():
    from importlib.metadata import entry_points

    eps = {ep.name: ep for ep in entry_points(group="qa_eval.models")}
    assert eps["qwen2-audio"].load() is Qwen2AudioAdapter
    assert Qwen2AudioAdapter.family == "qwen2-audio"
