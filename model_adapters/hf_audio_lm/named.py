"""Named audio-LM adapters: the generic adapter with a family preset and a default checkpoint.

Each checks at load that the checkpoint is of its family (config.json model_type) and needs only
what that family needs (families.py `requires`, else a PrerequisiteError with the pip command).
"""

from __future__ import annotations

from typing import Any

from .adapter import HfAudioLmAdapter
from .families import FAMILIES


class NamedAudioLm(HfAudioLmAdapter):
    """Base of the named adapters: `class X(NamedAudioLm, preset=..., what=...)` takes the family's
    name, default checkpoint and a description from the family table."""

    def __init_subclass__(cls, preset: str, what: str, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        cls.preset = cls.family = preset
        cls.default_checkpoint = FAMILIES[preset].default_checkpoint
        cls.description = f"{what} via transformers (default {cls.default_checkpoint}), chat prompts, greedy"
        cls.backends = ("default", "vllm") if FAMILIES[preset].vllm else ("default",)


class Qwen25OmniAdapter(NamedAudioLm, preset="qwen2.5-omni", what="Qwen2.5-Omni thinker (text out)"):
    """Qwen2.5-Omni, thinker only: text out, the talker is never loaded."""


class Qwen3OmniAdapter(NamedAudioLm, preset="qwen3-omni", what="Qwen3-Omni thinker (text out)"):
    """Qwen3-Omni (MoE), thinker only."""


class Qwen3AsrAdapter(NamedAudioLm, preset="qwen3-asr", what="Qwen3-ASR (speech recognition only)"):
    """Qwen3-ASR: speech recognition only, the language forced as its processor does."""


class VoxtralAdapter(NamedAudioLm, preset="voxtral", what="Voxtral, chat mode (needs mistral-common)"):
    """Voxtral in chat mode (needs mistral-common for its tokenizer)."""


class GraniteSpeechAdapter(NamedAudioLm, preset="granite-speech", what="Granite-Speech (needs torchaudio, peft)"):
    """Granite-Speech (needs torchaudio for its features and peft for its LoRA)."""


class Gemma3nAdapter(NamedAudioLm, preset="gemma-3n", what="Gemma 3n (needs timm)"):
    """Gemma 3n (needs timm: the model builds its vision tower with it)."""
