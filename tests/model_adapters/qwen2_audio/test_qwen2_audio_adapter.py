"""Qwen2AudioAdapter on a tiny random Qwen2-Audio checkpoint and real audio."""

from __future__ import annotations

import json
from pathlib import Path

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


# --- generation as the official Qwen2-Audio eval scripts run it (issue 12) ------------------------


def test_end_tokens_come_from_the_generation_config(qwen2, tiny_dir, real_wave):
    """The tiny checkpoint's generation config names <|im_end|> and <|endoftext|> (as the released
    ones do). Relabel the model so that its greedy token at step k becomes <|im_end|> (swap the
    two rows of the embedding and output matrices; the prompt and the first k tokens hold neither,
    so nothing else changes): decoding must stop right there."""
    import torch

    tok = qwen2._processor.tokenizer
    im_end, eos = tok.convert_tokens_to_ids("<|im_end|>"), tok.convert_tokens_to_ids("<|endoftext|>")
    assert set(qwen2._end_ids) == {im_end, eos}
    (free,) = qwen2.generate_ids([item(ASR, real_wave)], CONFIG)
    prompt_ids = set(qwen2.processor_inputs([item(ASR, real_wave)])["input_ids"][0].tolist())
    k = next(k for k in range(1, len(free)) if free[k] not in prompt_ids and free[k] not in free[:k])
    model = qwen2._model
    rows = [model.get_input_embeddings().weight, model.get_output_embeddings().weight]
    with torch.no_grad():
        for w in rows:
            w[[free[k], im_end]] = w[[im_end, free[k]]]
    try:
        (gen,) = qwen2.generate([item(ASR, real_wave)], CONFIG)
    finally:
        with torch.no_grad():
            for w in rows:
                w[[free[k], im_end]] = w[[im_end, free[k]]]
    assert list(gen.token_ids) == free[:k] and gen.n_new_tokens == k


def test_every_task_decodes_up_to_256_new_tokens(tmp_path, tiny_dir):
    """The official scripts pass max_new_tokens=256 for every task (not Qwen-Audio's 4/10/30):
    a vocal-sound run (the task's own budget is 4) decodes with 256, and the audio decoder is the
    eval scripts' recipe, named in metrics.json."""
    from qa_eval.run import RunRequest, evaluate

    sample = Path(__file__).resolve().parents[2] / "data" / "1272-128104-0000.flac"
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"audio": str(sample), "gt": "Laughter", "source": "vocalsound"}) + "\n")
    req = RunRequest(task="vocalsound", model="qwen2-audio", options=ModelOptions(str(tiny_dir), "cpu", "float32"),
                     manifest=str(manifest), out_dir=str(tmp_path / "run"), results_dir=str(tmp_path),
                     num_workers=0, show_progress=False, max_failed_fraction=0.0)
    doc, out = evaluate(req, log=lambda *_: None)
    assert doc["meta"]["generation"]["max_new_tokens"] == 256
    assert doc["meta"]["audio_decoder"]["name"] in ("ffmpeg-f32le-pipe", "soundfile-soxr")
    assert doc["meta"]["audio_decoder"]["requested"] == "ffmpeg-f32le-pipe"
    (pred,) = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    # evaluate_vocal_sound.py scores response.lstrip()
    assert pred["prediction"] == pred["prediction"].lstrip() and pred["n_new_tokens"] > 4
    assert pred["output_rule"] == "lstrip" and doc["meta"]["output_rules"] == {"classify:vocal_sound": "lstrip"}


def test_a_rows_own_prompt_is_what_runs(tmp_path, tiny_dir):
    """Official Qwen2-Audio lists carry each row's instruction: it is run verbatim (and is in the
    prompt hash, so another instruction is another run); ASR output is kept as decoded, as
    evaluate_asr.py keeps it."""
    from qa_eval.run import RunRequest
    from qa_eval.run.plan import make_plan

    sample = Path(__file__).resolve().parents[2] / "data" / "1272-128104-0000.flac"
    rows = [{"audio": str(sample), "gt": "mister quilter", "source": "librispeech_test_clean",
             "prompt": "Generate the caption in English:"},
            {"audio": str(sample), "gt": "mister quilter", "source": "librispeech_test_clean"}]
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    req = RunRequest(task="librispeech", model="qwen2-audio", options=ModelOptions(str(tiny_dir), "cpu", "float32"),
                     manifest=str(manifest), results_dir=str(tmp_path), num_workers=0, show_progress=False)
    plan = make_plan(req)
    first, second = (plan.prompts[s.id] for s in plan.samples)
    assert first == AUDIO + "Generate the caption in English:" and second == ASR
    assert plan.identity["output_rules"] == {"transcribe": "raw"}
    rows[0]["prompt"] = "Generate the caption in German:"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert make_plan(req).prompt_hash != plan.prompt_hash


def test_adapters_that_build_their_own_prompts_say_they_ignore_a_rows_prompt(tmp_path):
    from qa_eval.run import RunRequest
    from qa_eval.run.plan import GivenPromptWarning, make_plan

    fixture = Path(__file__).resolve().parents[2] / "fixtures" / "qwen_audio_tiny"
    sample = Path(__file__).resolve().parents[2] / "data" / "1272-128104-0000.flac"
    manifest = tmp_path / "m.jsonl"
    manifest.write_text(json.dumps({"audio": str(sample), "gt": "x", "source": "librispeech_test_clean",
                                    "prompt": "Generate the caption in English:"}) + "\n")
    req = RunRequest(task="librispeech", model="qwen-audio", options=ModelOptions(str(fixture), "cpu", "float32"),
                     manifest=str(manifest), results_dir=str(tmp_path), num_workers=0, show_progress=False)
    with pytest.warns(GivenPromptWarning, match="qwen-audio builds its prompts from the task"):
        make_plan(req)


def test_the_audio_reaches_the_model(qwen2, real_wave, synth_wave):
    """On the installed transformers the processor takes the audio (keyword checked) and the
    model's logits depend on it; a processor that drops the audio is refused, not run."""
    import torch

    def logits(wave):
        inputs = qwen2.processor_inputs([item(ASR, wave)])
        with torch.no_grad():
            return qwen2._model(**inputs).logits[0, -1]

    assert not torch.allclose(logits(real_wave[:48_000]), logits(synth_wave[:48_000]))

    class Deaf:
        def __init__(self, processor):
            self.tokenizer = processor.tokenizer

        def __call__(self, text=None, audio=None, **kwargs):  # keeps the text, loses the audio
            return self.tokenizer(text, return_tensors="pt", padding=True)

    real = qwen2._processor
    qwen2._processor = Deaf(real)
    try:
        with pytest.raises(AdapterError, match="dropped the audio"):
            qwen2.processor_inputs([item(ASR, real_wave)])
    finally:
        qwen2._processor = real
