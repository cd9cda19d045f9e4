"""The audio-LM adapter on tiny random checkpoints of three families (Qwen2.5-Omni, Qwen3-Omni,
Qwen3-ASR): left-padded batches decode as each sample alone, the audio reaches the model, the
processor is built from its audio and text parts, and the family checks hold."""

from __future__ import annotations

import json

import numpy as np
import pytest

from model_adapters.hf_audio_lm.adapter import HfAudioLmAdapter
from qa_eval.adapter import AudioInput, ModelOptions
from qa_eval.errors import AdapterError
from qa_eval.intent import PromptIntent
from qa_eval.records import GenerationConfig, Sample

from conftest import TINY, registry_class

CONFIG = GenerationConfig(max_new_tokens=6, min_new_tokens=1)
ASR = PromptIntent("transcribe", audio_lang="en", output_lang="en")
CLIPS = ("espeak-001", "espeak-004", "espeak-008", "espeak-012")


def item(adapter, wave: np.ndarray, name: str = "x", n_audio: int = 1, prompt: str | None = None) -> AudioInput:
    prompt = prompt or adapter.render_prompt(ASR, n_audio)
    return AudioInput(Sample(name, "test", tuple(f"{name}-{k}.flac" for k in range(n_audio)), "ref"),
                      prompt, tuple(np.asarray(wave, dtype=np.float32) for _ in range(n_audio)))


@pytest.mark.parametrize("family", TINY)
def test_batch_of_different_lengths_decodes_as_each_alone(adapters, sample_wave, family):
    adapter = adapters[family]
    batch = [item(adapter, sample_wave(name), name) for name in CLIPS]  # 4 real clips, 4 lengths
    together = adapter.generate(batch, CONFIG)
    alone = [adapter.generate([x], CONFIG)[0] for x in batch]
    assert all(g.error is None and g.token_ids for g in together)
    assert [g.token_ids for g in together] == [g.token_ids for g in alone]
    assert [g.text for g in together] == [g.text for g in alone]
    logits_n = adapter.next_token_logits(batch)
    logits_1 = np.concatenate([adapter.next_token_logits([x]) for x in batch])
    np.testing.assert_allclose(logits_n, logits_1, atol=1e-4)  # float32 CPU; padding only reorders sums


@pytest.mark.parametrize("family", TINY)
def test_the_audio_reaches_the_model(adapters, sample_wave, family):
    adapter = adapters[family]
    n = 2 * 16_000  # two clips of the same length: the audio token count is the same
    speech, other = sample_wave("espeak-004")[:n], sample_wave("espeak-012")[:n]
    same = adapter.next_token_logits([item(adapter, speech), item(adapter, speech)])
    changed = adapter.next_token_logits([item(adapter, speech), item(adapter, other)])
    assert np.array_equal(same[0], same[1])  # the same audio twice: bit-identical rows
    assert np.abs(changed[0] - changed[1]).max() > 1e-3  # ~0.03 measured, |logits| < 0.5


@pytest.mark.parametrize("family", ("qwen2.5-omni", "qwen3-omni"))
def test_omni_processors_load_without_their_image_and_video_parts(adapters, family):
    from model_adapters.hf_audio_lm.processor import EmptyVisualSlot

    processor = adapters[family]._processor
    assert isinstance(processor.image_processor, EmptyVisualSlot) and isinstance(processor.video_processor, EmptyVisualSlot)
    assert processor.feature_extractor is not None and processor.chat_template
    with pytest.raises(AdapterError, match="audio only"):
        processor.image_processor(images=[])


def test_audio_beyond_the_feature_window_is_flagged(adapters, sample_wave):
    adapter = adapters["qwen2.5-omni"]  # Whisper feature extractor: 30-s window
    long = np.tile(sample_wave("espeak-004"), 20)[: 31 * 16_000]
    short, cut = adapter.generate([item(adapter, long[:16_000]), item(adapter, long)], CONFIG)
    assert cut.info.get("truncated_audio") and "truncated_audio" not in short.info


def test_a_sample_whose_audio_count_differs_from_its_prompt_fails_alone(adapters, sample_wave):
    adapter = adapters["qwen3-omni"]
    wave = sample_wave("espeak-001")
    two_audio_prompt = adapter.render_prompt(ASR, 2)
    good, bad = adapter.generate([item(adapter, wave), item(adapter, wave, prompt=two_audio_prompt)], CONFIG)
    assert good.error is None and "2 audio placeholder(s) but the sample has 1" in bad.error


def test_several_audios_per_sample_decode(adapters, sample_wave):
    adapter = adapters["qwen2.5-omni"]
    out = adapter.generate([item(adapter, sample_wave("espeak-001"), n_audio=2)], CONFIG)
    assert out[0].error is None and out[0].n_new_tokens >= 1


def test_generic_adapter_finds_the_family_in_config_json(tiny_dirs):
    adapter = HfAudioLmAdapter(ModelOptions(str(tiny_dirs["qwen3-asr"]), "cpu", "float32"))
    assert adapter.spec.name == "qwen3-asr" and adapter.describe()["audio_lm_family"] == "qwen3-asr"
    prompt = json.loads(adapter.render_prompt(ASR))
    assert prompt["messages"][-1]["content"][0]["text"] == "language English<asr_text>"


def test_a_named_adapter_refuses_a_checkpoint_of_another_family(tiny_dirs):
    adapter = registry_class("qwen2.5-omni")(ModelOptions(str(tiny_dirs["qwen3-asr"]), "cpu", "float32"))
    with pytest.raises(AdapterError, match="'qwen3_asr' checkpoint, not qwen2_5_omni"):
        adapter.load()


@pytest.mark.parametrize("family", TINY)
def test_memory_budget_shrinks_with_longer_audio(adapters, family):
    budget = adapters[family].memory_budget(CONFIG)
    assert budget.free_bytes > 0
    row = budget.row_bytes
    assert 0 < row(1.0) <= row(10.0) <= row(60.0)
    assert budget.max_rows(2.0) >= budget.max_rows(30.0) >= 1


def test_end_tokens_come_from_the_generation_config(adapters):
    adapter = adapters["qwen3-asr"]
    tokenizer = adapter._processor.tokenizer
    assert set(adapter._end_ids) == {tokenizer.convert_tokens_to_ids(t) for t in ("<|im_end|>", "<|endoftext|>")}
