"""qa-eval == each family's official recipe, at any batch size.

The reference is written from the model cards with plain transformers, one sample at a time:
the chat messages as the card builds them (Qwen2.5-Omni: its system prompt, then the user turn
with the audio and the instruction; Qwen3-Omni: the user turn only; Qwen3-ASR: the processor's
own `apply_transcription_request(audio, language=...)`; Voxtral: the user turn with the audio as
a WAV file and the instruction, tokenized by the processor's chat template), the processor called
on the text and the waveform as decoded (nothing appended), `model.generate(**inputs, max_new_tokens=N,
do_sample=False)` with the checkpoint's generation config, and the new tokens up to the first
end token. qa-eval runs the same clips (1 s to 30 s of real speech) as ONE batch and must give
every clip the reference's tokens.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import transformers

from model_adapters.hf_audio_lm.families import FAMILIES
from model_adapters.hf_audio_lm.processor import load_processor
from qa_eval.adapter import AudioInput, ModelOptions
from qa_eval.intent import PromptIntent
from qa_eval.records import GenerationConfig, Sample
from qa_eval.run.loop import BatchRunner

from conftest import TINY, registry_class

LENGTHS_S = (1.0, 3.3, 9.7, 21.0, 30.0)
CLIPS = ("espeak-001", "espeak-004", "espeak-008", "espeak-012", "espeak-020")
MAX_NEW_TOKENS = 12
INSTRUCTION = "Transcribe the English speech in this audio. Output only the transcription."


def official_ids(family: str, folder, wave: np.ndarray) -> list[int]:
    """The model card's recipe for one clip (module docstring): the new token ids, end excluded."""
    spec = FAMILIES[family]
    processor = load_processor(folder, ModelOptions(str(folder), "cpu", "float32"), spec)  # the family's class
    model = getattr(transformers, spec.model_class).from_pretrained(str(folder), dtype=torch.float32).eval()
    if family == "qwen3-asr":
        inputs = processor.apply_transcription_request(audio=wave, language="English", return_tensors="pt")
    elif family == "voxtral":
        inputs = processor.apply_chat_template([{"role": "user", "content": [
            {"type": "audio", "base64": wav_base64(wave)}, {"type": "text", "text": INSTRUCTION}]}])
    else:
        messages = []
        if spec.system_prompt is not None:
            messages.append({"role": "system", "content": [{"type": "text", "text": spec.system_prompt.text}]})
        messages.append({"role": "user", "content": [{"type": "audio", "audio": "clip.wav"},
                                                     {"type": "text", "text": INSTRUCTION}]})
        text = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
        inputs = processor(text=text, audio=[wave], return_tensors="pt", padding=True)
    with torch.inference_mode():
        out = model.generate(**inputs, max_new_tokens=MAX_NEW_TOKENS, do_sample=False)
    ends = model.generation_config.eos_token_id
    ends = {ends} if isinstance(ends, int) else set(ends)
    ids = []
    for token in out[0, inputs["input_ids"].shape[1]:].tolist():
        if token in ends:
            break
        ids.append(token)
    return ids


def wav_base64(wave: np.ndarray) -> str:
    """`wave` as a base64 float WAV file (the card passes a path or URL; transformers reads those
    with librosa, not installed here: the same file's bytes)."""
    import base64
    import io

    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, wave, 16_000, format="WAV", subtype="FLOAT")
    return base64.b64encode(buf.getvalue()).decode("ascii")


@pytest.fixture(scope="module")
def clips(sample_wave) -> list[np.ndarray]:
    speech = np.concatenate([sample_wave(name) for name in CLIPS])
    return [np.ascontiguousarray(np.resize(speech, int(s * 16_000)).astype(np.float32)) for s in LENGTHS_S]


@pytest.mark.parametrize("family", TINY)
def test_a_batch_gives_every_clip_what_the_official_recipe_gives_it_alone(family, tiny_dirs, clips):
    adapter = registry_class(family)(ModelOptions(str(tiny_dirs[family]), "cpu", "float32"))
    adapter.load()
    prompt = adapter.render_prompt(PromptIntent("transcribe", audio_lang="en", output_lang="en"), 1)
    inputs = [AudioInput(Sample(f"c{i}", "s", (f"c{i}.wav",), "ref"), prompt, (c,)) for i, c in enumerate(clips)]
    got = BatchRunner(adapter, GenerationConfig(MAX_NEW_TOKENS, adapter.min_new_tokens))(inputs)
    want = [official_ids(family, tiny_dirs[family], c) for c in clips]
    assert [list(g.token_ids) for g in got] == want
    assert any(want), "the tiny model must say something for the check to bite"
