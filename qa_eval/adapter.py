"""ModelAdapter: the contract between the run loop and one model family.

An adapter turns a task's PromptIntent into its model's prompt syntax, loads a checkpoint and
runs batched greedy decoding. It never imports tasks, scorers or the prediction store.
Adapters register through the `qa_eval.models` entry-point group; the entry point names the
adapter class, and `qa-eval models` shows its `description`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, ClassVar, Sequence

import numpy as np

from qa_eval.intent import PromptIntent
from qa_eval.records import Generation, GenerationConfig, Sample


@dataclass(frozen=True, slots=True)
class ModelOptions:
    """How to load a model. device and dtype are already resolved (never "auto")."""

    checkpoint: str | None  # local directory or hub id; None = the adapter's default
    device: str  # "cpu", "cuda", "cuda:1", ...
    dtype: str  # "float32", "bfloat16" or "float16"
    revision: str | None = None
    trust_remote_code: bool = False  # let a hub checkpoint run its own Python code (explicit opt-in)
    allow_pickle: bool = False  # accept pickle (.bin) weights; safetensors only by default

    def hf_load_kwargs(self, checkpoint: str) -> dict[str, Any]:
        """Keyword arguments for transformers' from_pretrained that enforce these options:
        no remote code and safetensors only unless opted in, no hub lookup for local folders."""
        from pathlib import Path

        return {
            "revision": self.revision,
            "local_files_only": Path(checkpoint).is_dir(),
            "trust_remote_code": self.trust_remote_code,
            "use_safetensors": None if self.allow_pickle else True,
        }


@dataclass(frozen=True, slots=True)
class AudioInput:
    """One sample handed to an adapter: its record, prompt and decoded 16 kHz mono waveforms."""

    sample: Sample
    prompt: str
    waveforms: tuple[np.ndarray, ...]  # float32, 16 kHz, mono, one per audio of the sample


class ModelAdapter(ABC):
    """Base class of every model family adapter."""

    description: ClassVar[str] = ""
    family: ClassVar[str] = ""  # prompt family ("qwen-audio", "qwen-audio-chat", "qwen2-audio", "whisper")

    def __init__(self, options: ModelOptions) -> None:
        self.options = options

    @abstractmethod
    def render_prompt(self, intent: PromptIntent, n_audio: int = 1) -> str:
        """The model's prompt text for an intent; raises AdapterError for tasks it cannot do.

        Pure and cheap (no model needed): the run loop hashes the rendered prompts into the
        run fingerprint before loading anything.
        """

    @abstractmethod
    def load(self) -> None:
        """Load weights onto options.device in options.dtype (called once, before generate)."""

    @abstractmethod
    def generate(self, batch: Sequence[AudioInput], config: GenerationConfig) -> list[Generation]:
        """Greedy-decode one batch; one Generation per input, in order.

        A sample the model cannot process returns Generation(text=None, error=...) and the rest
        of the batch still runs; only errors that affect the whole model are raised.
        """

    def describe(self) -> dict[str, Any]:
        """Model id and revision for metrics.json (the resolved checkpoint, its hash if known)."""
        return {
            "model_id": self.options.checkpoint,
            "revision": self.options.revision,
            "dtype": self.options.dtype,
            "device": self.options.device,
        }
