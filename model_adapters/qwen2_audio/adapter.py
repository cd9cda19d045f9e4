"""Qwen2-Audio adapter: transformers' Qwen2AudioForConditionalGeneration + Qwen2AudioProcessor.

Follows the official Qwen2-Audio eval scripts: the prompt text (`prompt.render_prompt`) goes
through the processor together with the sample's audios (each `<|AUDIO|>` expands to that
audio's feature length), the batch is left-padded with `<|endoftext|>`, decoding is greedy
(min_new_tokens from GenerationConfig), and the output is the new tokens up to the first end
token, decoded with special tokens skipped. Audio beyond 30 s is cut by the feature extractor
(the model's window); such samples carry info `truncated_audio`.
"""

from __future__ import annotations

from typing import Any, ClassVar, Sequence

import numpy as np

from qa_eval.adapter import AudioInput, ModelAdapter, ModelOptions, load_transformers_model, weights_hash
from qa_eval.errors import AdapterError
from qa_eval.intent import PromptIntent
from qa_eval.records import Generation, GenerationConfig

SAMPLE_RATE = 16_000
WINDOW_S = 30
AUDIO_TOKEN = "<|AUDIO|>"


class Qwen2AudioAdapter(ModelAdapter):
    """Qwen2-Audio (base) from a local checkpoint directory, or a hub id where reachable."""

    description: ClassVar[str] = (
        "Qwen2-Audio via transformers (local checkpoint dir or hub id), left-padded batched greedy decoding"
    )
    family: ClassVar[str] = "qwen2-audio"
    default_checkpoint: ClassVar[str] = "Qwen/Qwen2-Audio-7B"

    def __init__(self, options: ModelOptions) -> None:
        super().__init__(options)
        self._model: Any = None
        self._processor: Any = None

    def checkpoint(self) -> str:
        return self.options.checkpoint or self.default_checkpoint

    def render_prompt(self, intent: PromptIntent, n_audio: int = 1) -> str:
        from model_adapters.qwen2_audio import prompt

        return prompt.render_prompt(intent, n_audio)

    def load(self) -> None:
        from transformers import Qwen2AudioForConditionalGeneration, Qwen2AudioProcessor

        self._model, self._processor = load_transformers_model(
            Qwen2AudioForConditionalGeneration, Qwen2AudioProcessor, self.checkpoint(), self.options, "qwen2-audio"
        )
        self._processor.tokenizer.padding_side = "left"

    def generate(self, batch: Sequence[AudioInput], config: GenerationConfig) -> list[Generation]:
        out = []
        for item, (ids, error) in zip(batch, self._run(batch, config)):
            if ids is None:
                out.append(Generation(text=None, error=error))
                continue
            info: dict[str, Any] = {}
            if len(ids) >= config.max_new_tokens:
                info["max_new_tokens_reached"] = True
            if any(len(w) > WINDOW_S * SAMPLE_RATE for w in item.waveforms):
                info["truncated_audio"] = True
            text = self._processor.tokenizer.decode(
                ids, skip_special_tokens=True, clean_up_tokenization_spaces=False
            )
            out.append(Generation(text=text, n_new_tokens=len(ids), info=info))
        return out

    def generate_ids(self, batch: Sequence[AudioInput], config: GenerationConfig) -> list[list[int] | None]:
        """The new token ids per sample, cut before the first end token (None where it failed)."""
        return [ids for ids, _ in self._run(batch, config)]

    def describe(self) -> dict[str, Any]:
        ckpt = self.checkpoint()
        return {**super().describe(), "model_id": ckpt, "revision": self.options.revision or weights_hash(ckpt)}

    def _run(self, batch: Sequence[AudioInput], config: GenerationConfig) -> list[tuple[list[int] | None, str | None]]:
        """(new ids, None) or (None, error) per sample; the runnable ones decode as one batch."""
        if self._model is None:
            raise AdapterError("qwen2-audio: generate() called before load()")
        results: list[tuple[list[int] | None, str | None]] = []
        ok: list[int] = []
        for i, item in enumerate(batch):
            problem = _check(item)
            results.append((None, problem))
            if problem is None:
                ok.append(i)
        if ok:
            for i, ids in zip(ok, self._decode([batch[i] for i in ok], config)):
                results[i] = (ids, None)
        return results

    def _decode(self, items: Sequence[AudioInput], config: GenerationConfig) -> list[list[int]]:
        import torch

        processor, model = self._processor, self._model
        tokenizer = processor.tokenizer
        inputs = processor(
            text=[item.prompt for item in items],
            audio=[np.asarray(w, dtype=np.float32) for item in items for w in item.waveforms],
            sampling_rate=SAMPLE_RATE,
            return_tensors="pt",
            padding=True,
        ).to(self.options.device)
        inputs["input_features"] = inputs["input_features"].to(model.dtype)
        eos = tokenizer.convert_tokens_to_ids("<|endoftext|>")
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos
        with torch.inference_mode():
            out = model.generate(
                **inputs,
                max_new_tokens=config.max_new_tokens,
                min_new_tokens=config.min_new_tokens,
                do_sample=False,
                num_beams=1,
                eos_token_id=eos,
                pad_token_id=pad,
            )
        new = out[:, inputs["input_ids"].shape[1] :].tolist()
        return [row[: row.index(eos)] if eos in row else row for row in new]


def _check(item: AudioInput) -> str | None:
    """Why this sample cannot be run (None when it can)."""
    n_tags = item.prompt.count(AUDIO_TOKEN)
    if n_tags != len(item.waveforms):
        return f"qwen2-audio: prompt has {n_tags} {AUDIO_TOKEN} but the sample has {len(item.waveforms)} audios"
    for w in item.waveforms:
        if np.asarray(w).ndim != 1 or len(w) == 0:
            return f"qwen2-audio: expected non-empty mono waveforms, got shape {np.asarray(w).shape}"
    return None
