"""qa-eval adapters for Qwen-Audio (base, raw prompts) and Qwen-Audio-Chat (ChatML).

Native implementation (no remote code): ``trust_remote_code`` is never needed and ignored.
Prompts reference audio as ``<audio>PATH</audio>``; the waveforms arrive decoded in
``AudioInput.waveforms`` in prompt order, and the text between the tags never reaches the ids,
so the prompt is used as rendered (any placeholder path works).
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path
from typing import Any, ClassVar, Sequence

from qa_eval.adapter import AudioInput, ModelAdapter, ModelOptions, make_generation
from qa_eval.batching import MemoryBudget
from qa_eval.device import free_memory_bytes
from qa_eval.errors import AdapterError
from qa_eval.intent import PromptIntent
from qa_eval.records import Generation, GenerationConfig

from .pipeline import QwenAudioPipeline


class QwenAudioAdapter(ModelAdapter):
    """Qwen-Audio (v1) base model: raw prompts, ends at <|endoftext|>."""

    description: ClassVar[str] = "Qwen-Audio (v1) base model, native PyTorch implementation (safetensors, no remote code)"
    family: ClassVar[str] = "qwen-audio"
    libraries: ClassVar[tuple[str, ...]] = ("torch", "numpy", "tiktoken")
    default_checkpoint: ClassVar[str | None] = "Qwen/Qwen-Audio"
    hub_files: ClassVar[tuple[str, ...] | None] = ("*.json", "*.safetensors", "qwen.tiktoken", "mel_filters.npz")
    supports_compile: ClassVar[bool] = True

    def __init__(self, options: ModelOptions) -> None:
        super().__init__(options)
        self.pipeline: QwenAudioPipeline | None = None

    def render_prompt(self, intent: PromptIntent, n_audio: int = 1) -> str:
        from model_adapters.qwen_audio.prompt import render_prompt

        return render_prompt(intent, n_audio, self.family)

    def end_ids(self) -> tuple[int, ...]:
        tok = self._require().tokenizer
        return (tok.eod_id,)

    def load_model(self) -> None:
        self.pipeline = QwenAudioPipeline.from_checkpoint(
            self.checkpoint_dir(), self.options.device, self.options.dtype, allow_pickle=self.options.allow_pickle,
            compile_step=self.options.compile,
        )
        note = self.pipeline.load_report.note()
        if note:
            print(f"qa-eval: note: {note}", file=sys.stderr)

    def memory_budget(self, config: GenerationConfig) -> MemoryBudget:
        from .memory import memory_budget

        model = self._require().model
        elt = model.lm_head.weight.element_size()
        return memory_budget(model.config, elt, config.max_new_tokens, free_memory_bytes(str(model.device)))

    def _require(self) -> QwenAudioPipeline:
        if self.pipeline is None:
            raise AdapterError(f"{self.family}: generate() called before load()")
        return self.pipeline

    def input_problem(self, item: AudioInput) -> str | None:
        """The base checks, then what the engine refuses (tag count, too short, too long)."""
        problem = super().input_problem(item)
        if problem is None:
            try:
                self._require().prepare(item.prompt, item.waveforms)
            except AdapterError as exc:
                return str(exc)
        return problem

    def generate_batch(self, batch: Sequence[AudioInput], config: GenerationConfig) -> list[Generation]:
        pipe = self._require()
        prepared = [pipe.prepare(item.prompt, item.waveforms) for item in batch]
        outs = pipe.run(prepared, config.max_new_tokens, config.min_new_tokens, self.end_ids())
        decode = pipe.tokenizer.decode
        return [make_generation(o.raw_ids, self.end_ids(), config,
                                lambda ids, item=item: self.finish_text(decode(ids, skip_special_tokens=False), item.intent),
                                {"truncated_audio": True} if p.truncated_audio else {})
                for item, p, o in zip(batch, prepared, outs)]

    def output_rule(self, intent: PromptIntent | None) -> str:
        """The answer as decoded, special tokens kept: the scorers parse it as the official
        scripts do (WER strips tags and spaces, SRWT and NSynth read the tags)."""
        return "raw"

    def describe(self) -> dict[str, Any]:
        info = {**super().describe(), "implementation": "native (model_adapters.qwen_audio)"}
        if self.pipeline is not None and self.pipeline.load_report.skipped:
            info["skipped_checkpoint_tensors"] = self.pipeline.load_report.summary()
        if self._checkpoint_dir is not None:
            info["checkpoint_dir"] = str(self._checkpoint_dir)
            cfg = self._checkpoint_dir / "config.json"
            if cfg.is_file():
                info["config_sha256"] = hashlib.sha256(cfg.read_bytes()).hexdigest()
        return info

    @classmethod
    def conformance_checkpoint(cls, workdir: Path) -> str:
        from model_adapters.testing.qwen_audio import tiny_config_dict, write_random_checkpoint

        return str(write_random_checkpoint(workdir / "qwen-audio-tiny", tiny_config_dict(), seed=1, dtype="float32"))


class QwenAudioChatAdapter(QwenAudioAdapter):
    """Qwen-Audio-Chat: ChatML prompts, ends at <|im_end|>, <|im_start|> or <|endoftext|>."""

    description: ClassVar[str] = "Qwen-Audio-Chat (v1), ChatML prompts, native PyTorch implementation"
    family: ClassVar[str] = "qwen-audio-chat"
    default_checkpoint: ClassVar[str | None] = "Qwen/Qwen-Audio-Chat"

    def end_ids(self) -> tuple[int, ...]:
        tok = self._require().tokenizer
        return (tok.eod_id, tok.im_end_id, tok.im_start_id)
