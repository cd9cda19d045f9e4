"""qa-eval adapters for Qwen-Audio (base, raw prompts) and Qwen-Audio-Chat (ChatML).

Native implementation (no remote code): ``trust_remote_code`` is never needed and ignored.
Prompts reference audio as ``<audio>PATH</audio>``; the waveforms arrive decoded in
``AudioInput.waveforms`` in prompt order, and the text between the tags never reaches the ids,
so the prompt is used as rendered (any placeholder path works).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, ClassVar, Sequence

from qa_eval.adapter import AudioInput, ModelAdapter, ModelOptions, free_memory_bytes
from qa_eval.batching import MemoryBudget
from qa_eval.errors import AdapterError, AudioError, ConfigError
from qa_eval.intent import PromptIntent
from qa_eval.records import Generation, GenerationConfig

from .pipeline import PreparedPrompt, QwenAudioPipeline

CHAT_SYSTEM = "You are a helpful assistant."
_HUB_FILES = ["*.json", "*.safetensors", "qwen.tiktoken", "mel_filters.npz"]


def audio_query(audio_paths: Sequence[str], text: str) -> str:
    """The official list-format query: ``Audio 1:<audio>P1</audio>\\n`` ... then `text`."""
    parts = [f"Audio {i}:<audio>{p}</audio>\n" for i, p in enumerate(audio_paths, 1)]
    return "".join(parts) + text


def chatml_prompt(query: str, system: str = CHAT_SYSTEM) -> str:
    """Single-turn ChatML as the official make_context builds it (history empty)."""
    return (
        f"<|im_start|>system\n{system}<|im_end|>\n"
        f"<|im_start|>user\n{query}<|im_end|>\n<|im_start|>assistant\n"
    )


def checkpoint_revision(checkpoint_dir: str | Path) -> str:
    """sha256 over config.json, the shard index (or weight file names + sizes): a cheap identity."""
    d = Path(checkpoint_dir)
    h = hashlib.sha256()
    for name in ("config.json", "model.safetensors.index.json"):
        if (d / name).is_file():
            h.update(name.encode() + b"\0" + (d / name).read_bytes())
    for f in sorted(d.glob("*.safetensors")):
        h.update(f"{f.name}:{f.stat().st_size}".encode())
    return "sha256:" + h.hexdigest()[:16]


class QwenAudioAdapter(ModelAdapter):
    """Qwen-Audio (v1) base model: raw prompts, ends at <|endoftext|>."""

    description: ClassVar[str] = "Qwen-Audio (v1) base model, native PyTorch implementation (safetensors, no remote code)"
    family: ClassVar[str] = "qwen-audio"
    default_checkpoint: ClassVar[str] = "Qwen/Qwen-Audio"
    supports_compile: ClassVar[bool] = True

    def __init__(self, options: ModelOptions) -> None:
        super().__init__(options)
        self.pipeline: QwenAudioPipeline | None = None
        self.checkpoint_dir: Path | None = None
        self._revision: str | None = None

    # -- prompt ---------------------------------------------------------------------------
    def render_prompt(self, intent: PromptIntent, n_audio: int = 1) -> str:
        from model_adapters.qwen_audio.prompt import render_prompt

        return render_prompt(intent, n_audio, self.family)

    def end_ids(self) -> tuple[int, ...]:
        tok = self._require().tokenizer
        return (tok.eod_id,)

    # -- loading --------------------------------------------------------------------------
    def load(self) -> None:
        self.checkpoint_dir = self._resolve_checkpoint()
        self.pipeline = QwenAudioPipeline.from_checkpoint(
            self.checkpoint_dir, self.options.device, self.options.dtype, allow_pickle=self.options.allow_pickle,
            compile_step=self.options.compile,
        )
        self._revision = self.options.revision or checkpoint_revision(self.checkpoint_dir)

    def _resolve_checkpoint(self) -> Path:
        ref = self.options.checkpoint or self.default_checkpoint
        if Path(ref).expanduser().is_dir():
            return Path(ref).expanduser()
        if "/" not in ref or ref.startswith((".", "/", "~")):
            raise AdapterError(f"{ref}: checkpoint directory not found")
        try:
            from huggingface_hub import snapshot_download
        except ImportError:
            raise AdapterError(f"{ref}: not a local directory and huggingface_hub is not installed") from None
        try:
            path = snapshot_download(repo_id=ref, revision=self.options.revision, allow_patterns=_HUB_FILES)
        except Exception as exc:  # network, auth, unknown repo: all mean "cannot load"
            raise AdapterError(f"{ref}: cannot resolve hub checkpoint ({type(exc).__name__}: {exc})") from None
        return Path(path)

    def memory_budget(self, config: GenerationConfig) -> MemoryBudget:
        from .memory import memory_budget

        model = self._require().model
        elt = model.lm_head.weight.element_size()
        return memory_budget(model.config, elt, config.max_new_tokens, free_memory_bytes(str(model.device)))

    def _require(self) -> QwenAudioPipeline:
        if self.pipeline is None:
            raise AdapterError(f"{self.family}: generate() called before load()")
        return self.pipeline

    # -- generation -----------------------------------------------------------------------
    def generate(self, batch: Sequence[AudioInput], config: GenerationConfig) -> list[Generation]:
        pipe = self._require()
        results: list[Generation | None] = [None] * len(batch)
        ready: list[tuple[int, PreparedPrompt]] = []
        for i, item in enumerate(batch):
            try:
                ready.append((i, pipe.prepare(item.prompt, item.waveforms)))
            except (AdapterError, AudioError, ConfigError, ValueError) as exc:
                results[i] = Generation(text=None, error=f"{item.sample.id}: {exc}")
        for s in range(0, len(ready), config.batch_size):
            chunk = ready[s : s + config.batch_size]
            for i, gen in self._run_chunk(chunk, config):
                results[i] = gen
        return [r if r is not None else Generation(text=None, error="internal: no result") for r in results]

    def _run_chunk(self, chunk: list[tuple[int, PreparedPrompt]], config: GenerationConfig):
        """Decode a chunk as one batch; if that fails, retry each sample alone so one bad sample
        cannot fail the others."""
        pipe = self._require()
        try:
            outs = pipe.run([p for _, p in chunk], config.max_new_tokens, config.min_new_tokens, self.end_ids())
            return [(i, self._generation(p, o)) for (i, p), o in zip(chunk, outs)]
        except (AdapterError, RuntimeError, ValueError) as exc:
            if len(chunk) == 1:
                return [(chunk[0][0], Generation(text=None, error=f"{type(exc).__name__}: {exc}"))]
        results = []
        for item in chunk:
            results.extend(self._run_chunk([item], config))
        return results

    @staticmethod
    def _generation(prepared: PreparedPrompt, out) -> Generation:
        return Generation(
            text=out.text,
            error=None,
            n_new_tokens=len(out.token_ids),
            info={"truncated_audio": prepared.truncated_audio},
        )

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info["model_id"] = self.options.checkpoint or self.default_checkpoint
        info["revision"] = self._revision or self.options.revision
        info["family"] = self.family
        info["implementation"] = "native (model_adapters.qwen_audio)"
        if self.checkpoint_dir is not None:
            info["checkpoint_dir"] = str(self.checkpoint_dir)
            cfg = self.checkpoint_dir / "config.json"
            if cfg.is_file():
                info["config_sha256"] = hashlib.sha256(cfg.read_bytes()).hexdigest()
        return json.loads(json.dumps(info, default=str))


class QwenAudioChatAdapter(QwenAudioAdapter):
    """Qwen-Audio-Chat: ChatML prompts, ends at <|im_end|>, <|im_start|> or <|endoftext|>."""

    description: ClassVar[str] = "Qwen-Audio-Chat (v1), ChatML prompts, native PyTorch implementation"
    family: ClassVar[str] = "qwen-audio-chat"
    default_checkpoint: ClassVar[str] = "Qwen/Qwen-Audio-Chat"

    def end_ids(self) -> tuple[int, ...]:
        tok = self._require().tokenizer
        return (tok.eod_id, tok.im_end_id, tok.im_start_id)
