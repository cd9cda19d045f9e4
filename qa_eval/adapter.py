"""ModelAdapter: the contract between the run loop and one model family.

An adapter turns a task's PromptIntent into its model's prompt syntax, loads a checkpoint and
runs batched greedy decoding. It never imports tasks, scorers or the prediction store.
Adapters register through the `qa_eval.models` entry-point group; the entry point names the
adapter class, and `qa-eval models` shows its `description`.
"""

from __future__ import annotations

import hashlib
from abc import ABC, abstractmethod
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from qa_eval.batching import MemoryBudget
from qa_eval.errors import AdapterError, ConfigError
from qa_eval.intent import PromptIntent
from qa_eval.records import Generation, GenerationConfig, Sample


DTYPES = ("float32", "bfloat16", "float16")  # what every adapter accepts


@dataclass(frozen=True, slots=True)
class ModelOptions:
    """How to load a model. device and dtype are already resolved (never "auto")."""

    checkpoint: str | None  # local directory or hub id; None = the adapter's default
    device: str  # "cpu", "cuda", "cuda:1", ...
    dtype: str  # "float32", "bfloat16" or "float16"
    revision: str | None = None
    trust_remote_code: bool = False  # let a hub checkpoint run its own Python code (explicit opt-in)
    allow_pickle: bool = False  # accept pickle (.bin) weights; safetensors only by default
    compile: bool = False  # torch.compile the decode step where the adapter supports it

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")

    def hf_load_kwargs(self, checkpoint: str) -> dict[str, Any]:
        """Keyword arguments for transformers' from_pretrained that enforce these options:
        no remote code and safetensors only unless opted in, no hub lookup for local folders."""
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
    supports_compile: ClassVar[bool] = False  # honours ModelOptions.compile

    def __init__(self, options: ModelOptions) -> None:
        if options.compile and not self.supports_compile:
            raise ConfigError(f"{self.family or type(self).__name__}: --compile is not supported by this adapter")
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

    def memory_budget(self, config: GenerationConfig) -> "MemoryBudget | None":
        """For `--batch-size auto` (called after load): the device's free memory and what one
        batch row costs. None: this adapter has no estimate (the run uses the default size)."""
        return None

    def describe(self) -> dict[str, Any]:
        """Model id and revision for metrics.json (the resolved checkpoint, its hash if known)."""
        return {
            "model_id": self.options.checkpoint,
            "revision": self.options.revision,
            "dtype": self.options.dtype,
            "device": self.options.device,
            "compile": self.options.compile,
        }


def free_memory_bytes(device: str) -> int:
    """Bytes a new allocation can still get on `device`: CUDA free + what torch's caching
    allocator holds unused; on the CPU, MemAvailable from /proc/meminfo (Linux)."""
    import torch

    if device.startswith("cuda"):
        dev = torch.device(device)
        free, _ = torch.cuda.mem_get_info(dev)
        return int(free + torch.cuda.memory_reserved(dev) - torch.cuda.memory_allocated(dev))
    try:
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f)
        return int(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        raise AdapterError("cannot read free memory (/proc/meminfo): pass a number to --batch-size") from None


def load_transformers_model(model_cls: Any, processor_cls: Any, checkpoint: str, options: ModelOptions,
                            family: str) -> tuple[Any, Any]:
    """(model on options.device in options.dtype, eval mode; processor) through transformers'
    from_pretrained with the options' safety settings; failures become AdapterError."""
    import torch

    kwargs = options.hf_load_kwargs(checkpoint)
    try:
        processor = processor_cls.from_pretrained(
            checkpoint, **{k: v for k, v in kwargs.items() if k != "use_safetensors"}
        )
        model = model_cls.from_pretrained(checkpoint, dtype=getattr(torch, options.dtype), **kwargs)
    except (OSError, ValueError) as exc:
        raise AdapterError(f"{family}: cannot load checkpoint {checkpoint!r}: {exc}") from exc
    return model.to(options.device).eval(), processor


def weights_hash(checkpoint: str) -> str | None:
    """sha256 over a local checkpoint's weight files, the revision of a local model
    (None for hub ids, whose revision is the hub's commit)."""
    root = Path(checkpoint)
    if not root.is_dir():
        return None
    files = sorted(p for p in root.iterdir() if p.suffix in (".safetensors", ".bin"))
    return _hash_files(tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in files))


@lru_cache(maxsize=8)
def _hash_files(files: tuple[tuple[str, int, int], ...]) -> str:
    """(size, mtime) are in the key so that a changed file is hashed again."""
    digest = hashlib.sha256()
    for path, _size, _mtime in files:
        digest.update(Path(path).name.encode())
        with open(path, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                digest.update(chunk)
    return "sha256:" + digest.hexdigest()
