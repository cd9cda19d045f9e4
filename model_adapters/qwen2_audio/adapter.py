"""Qwen2-Audio adapter: transformers' Qwen2AudioForConditionalGeneration + Qwen2AudioProcessor.

Generation as the official Qwen2-Audio eval scripts run it (QwenLM/Qwen2-Audio
eval_audio/evaluate_*.py): the prompt text (`prompt.render_prompt`) goes through the processor
with the sample's audios (each `<|AUDIO|>` expands to that audio's feature length), the batch is
left-padded, and `generate` gets only `max_new_tokens=256, min_new_tokens=1, do_sample=False`:
the end tokens are the checkpoint's generation config's (`<|im_end|>` and `<|endoftext|>` for the
released checkpoints), every task decodes up to 256 new tokens, and the output (special tokens
skipped) is stripped. Audio is decoded with the eval scripts' recipe (ffmpeg, f32le, piped).
Audio beyond 30 s is cut by the feature extractor (the model's window); such samples carry info
`truncated_audio`. With `--backend vllm` the same prompt text and waveforms go to an offline
vLLM engine (model_adapters/vllm_engine.py) instead of `generate`; the ids come back into the
same decoding and post-processing.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from model_adapters.transformers_common import TRANSFORMERS_LIBRARIES, checkpoint_end_ids, generation_end_ids, \
    load_transformers_model, load_transformers_processor, processor_classes
from qa_eval.adapter import AudioInput, ModelAdapter, ModelOptions, make_generation
from qa_eval.audio import SAMPLE_RATE
from qa_eval.errors import AdapterError
from qa_eval.intent import PromptIntent
from qa_eval.records import Generation, GenerationConfig

WINDOW_S = 30
AUDIO_TOKEN = "<|AUDIO|>"
OFFICIAL_MAX_NEW_TOKENS = 256  # every task, in the official eval scripts


class Qwen2AudioAdapter(ModelAdapter):
    """Qwen2-Audio (base) from a local checkpoint directory, or a hub id where reachable."""

    description: ClassVar[str] = (
        "Qwen2-Audio via transformers (local checkpoint dir or hub id), left-padded batched greedy decoding"
    )
    family: ClassVar[str] = "qwen2-audio"
    default_checkpoint: ClassVar[str | None] = "Qwen/Qwen2-Audio-7B"
    audio_decoder: ClassVar[str] = "ffmpeg-f32le-pipe"
    max_new_tokens: ClassVar[int | None] = OFFICIAL_MAX_NEW_TOKENS
    libraries: ClassVar[tuple[str, ...]] = TRANSFORMERS_LIBRARIES
    uses_given_prompt: ClassVar[bool] = True  # the official eval lists' per-row `prompt`
    backends: ClassVar[tuple[str, ...]] = ("default", "vllm")

    def __init__(self, options: ModelOptions) -> None:
        super().__init__(options)
        self._model: Any = None
        self._processor: Any = None
        self._end_ids: tuple[int, ...] = ()
        self._engine: Any = None  # the vLLM engine (--backend vllm)

    def render_prompt(self, intent: PromptIntent, n_audio: int = 1) -> str:
        from model_adapters.qwen2_audio import prompt

        return prompt.render_prompt(intent, n_audio)

    def output_rule(self, intent: PromptIntent | None) -> str:
        """As the official eval script of the task's kind post-processes the answer (prompt.OUTPUT_RULES)."""
        from model_adapters.qwen2_audio import prompt

        return prompt.output_rule(intent)

    def load_model(self) -> None:
        from transformers import Qwen2AudioForConditionalGeneration, Qwen2AudioProcessor

        folder = self.checkpoint_dir()
        if self.options.backend == "vllm":
            from model_adapters.vllm_engine import VllmEngine

            self._processor = load_transformers_processor(Qwen2AudioProcessor, folder, self.options, "qwen2-audio")
            self._end_ids = checkpoint_end_ids(folder, self.options)
            self._engine = VllmEngine(folder, self.options, self._end_ids)
            return
        self._model, self._processor = load_transformers_model(
            Qwen2AudioForConditionalGeneration, Qwen2AudioProcessor, folder, self.options, "qwen2-audio"
        )
        self._processor.tokenizer.padding_side = "left"
        self._end_ids = generation_end_ids(self._model)

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        if self._processor is not None:
            out["processor_classes"] = processor_classes(self._processor)
        return out

    def input_problem(self, item: AudioInput) -> str | None:
        n_tags = item.prompt.count(AUDIO_TOKEN)
        if n_tags != len(item.waveforms):
            return f"prompt has {n_tags} {AUDIO_TOKEN} but the sample has {len(item.waveforms)} audios"
        return super().input_problem(item)

    def generate_batch(self, batch: Sequence[AudioInput], config: GenerationConfig) -> list[Generation]:
        tokenizer = self._processor.tokenizer
        out = []
        for item, row in zip(batch, self._decode(batch, config)):
            info = {"truncated_audio": True} if any(len(w) > WINDOW_S * SAMPLE_RATE for w in item.waveforms) else {}
            out.append(make_generation(row, self._end_ids, config, lambda ids, item=item: self.finish_text(
                tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False), item.intent), info))
        return out

    def processor_inputs(self, items: Sequence[AudioInput]) -> Any:
        """The processor's tensors for `items`, checked: every audio must reach the model (its
        features and its expanded <|AUDIO|> span), whatever keyword this transformers version
        takes for audio (`audio`, formerly `audios`)."""
        waves = [np.asarray(w, dtype=np.float32) for item in items for w in item.waveforms]
        params = inspect.signature(self._processor.__call__).parameters
        keyword = "audio" if "audio" in params else "audios"
        inputs = self._processor(text=[item.prompt for item in items], **{keyword: waves},
                                 sampling_rate=SAMPLE_RATE, return_tensors="pt", padding=True)
        features = inputs.get("input_features")
        n_spans = int((inputs["input_ids"] == self._model.config.audio_token_index).sum())
        if features is None or features.shape[0] != len(waves) or n_spans <= len(waves):
            raise AdapterError(f"qwen2-audio: the processor dropped the audio (keyword {keyword!r}, "
                               f"{0 if features is None else features.shape[0]} feature rows for {len(waves)} audios)")
        return inputs

    def _decode(self, items: Sequence[AudioInput], config: GenerationConfig) -> list[list[int]]:
        """The new ids of every row (end tokens and what follows them included)."""
        import torch

        if self._engine is not None:
            from model_adapters.vllm_engine import VllmRequest

            return self._engine.generate([VllmRequest(item.prompt, item.waveforms) for item in items], config)

        model = self._model
        inputs = self.processor_inputs(items).to(self.options.device)
        inputs["input_features"] = inputs["input_features"].to(model.dtype)
        with torch.inference_mode():
            out = model.generate(**inputs, max_new_tokens=config.max_new_tokens,
                                 min_new_tokens=config.min_new_tokens, do_sample=False)
        return out[:, inputs["input_ids"].shape[1]:].tolist()

    @classmethod
    def conformance_checkpoint(cls, workdir: Path) -> str:
        from model_adapters.testing.qwen2_audio import make_tiny_qwen2_audio

        return str(make_tiny_qwen2_audio(workdir / "qwen2-audio-tiny"))
