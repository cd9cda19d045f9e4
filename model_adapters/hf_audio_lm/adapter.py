"""hf-audio-lm: any transformers audio LM whose processor has a chat template taking audio.

The family (families.py) comes from the checkpoint's config.json model_type, or is fixed by a
named subclass (named.py: qwen2.5-omni, voxtral, ...); any other checkpoint runs on the generic
path (AutoModelForMultimodalLM, neutral wordings, no system prompt). A sample's prompt is the
JSON of its chat messages (prompt.py); at generation time the checkpoint's chat template turns
them into text and the processor adds the audio (processor.py). The batch is left-padded and
greedy-decoded in one `generate` call (no sampling, no repetition penalty, whatever the
checkpoint's generation config says), stopping at the end tokens that generation config names
(and the tokenizer's eos); the answer is the new tokens before the first end token, decoded
with special tokens skipped and stripped. With `--backend vllm` (families marked `vllm`) the
same chat-template text and waveforms go to an offline vLLM engine (model_adapters/vllm_engine.py)
instead of `generate`, and the ids come back into the same decoding.

Adapter options (`ModelOptions.adapter_options`, `--model-option KEY=VALUE`):
  system_prompt       the system message ("" for none; default: the family's)
  instruction_style   "family" (default) or "neutral" (the same words for every family)
"""

from __future__ import annotations

import copy
import warnings
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar, Sequence

import numpy as np

from model_adapters.transformers_common import TRANSFORMERS_LIBRARIES, checkpoint_end_ids, checkpoint_json, \
    generation_end_ids, load_transformers_weights, processor_classes
from qa_eval.adapter import AdapterOption, AudioInput, ModelAdapter, ModelOptions, make_generation
from qa_eval.audio import SAMPLE_RATE
from qa_eval.batching import MemoryBudget
from qa_eval.errors import AdapterError, ConfigError
from qa_eval.intent import PromptIntent
from qa_eval.records import Generation, GenerationConfig

from . import prompt as prompts
from .families import FAMILIES, Family, family_for
from .processor import chat_text, check_requirements, load_processor, model_inputs, read_model_type, sample_inputs, \
    window_s

OPTIONS = (
    AdapterOption("system_prompt", "the system message of the chat ('' for none; default: the family's)"),
    AdapterOption("instruction_style", "each family's own instruction wording (family, the default) or one "
                  "neutral wording for every family", prompts.STYLES),
)


class HfAudioLmAdapter(ModelAdapter):
    """Generic transformers audio-LM adapter; named subclasses fix `preset` (a FAMILIES key)."""

    description: ClassVar[str] = (
        "Any transformers audio LM whose processor has a chat template taking audio (family from "
        "config.json); options system_prompt, instruction_style"
    )
    family: ClassVar[str] = "hf-audio-lm"
    preset: ClassVar[str | None] = None
    options_declared: ClassVar[tuple[AdapterOption, ...]] = OPTIONS
    min_new_tokens: ClassVar[int] = 0  # the model cards' generate() calls set none
    libraries: ClassVar[tuple[str, ...]] = TRANSFORMERS_LIBRARIES
    backends: ClassVar[tuple[str, ...]] = ("default", "vllm")  # vllm: the families marked so (families.py)

    def __init__(self, options: ModelOptions) -> None:
        super().__init__(options)  # refuses options, and values, OPTIONS does not declare
        given = options.adapter_options
        self.system_prompt: str | None = given.get("system_prompt")
        self.style = given.get("instruction_style", "family")
        self._model: Any = None
        self._processor: Any = None
        self._end_ids: tuple[int, ...] = ()
        self._window_s: float | None = None
        self._engine: Any = None  # the vLLM engine (--backend vllm)
        if options.backend == "vllm" and not self.spec.vllm:
            available = ", ".join(f.name for f in FAMILIES.values() if f.vllm)
            raise ConfigError(f"{self.name}: --backend vllm is not available for {self.spec.name} checkpoints "
                              f"(vLLM runs: {available})")
        if options.backend == "vllm" and self.spec.vllm_untested:
            warnings.warn(f"{self.name}: --backend vllm is untested against the transformers path for "
                          f"{self.spec.name} ({self.spec.vllm_untested})", stacklevel=2)

    @cached_property
    def spec(self) -> Family:
        """The family: the preset, else the one the checkpoint's config.json names."""
        if self.preset:
            return FAMILIES[self.preset]
        return family_for(checkpoint_json(self.checkpoint(), "config.json", self.options.revision,
                                          self.name).get("model_type"))

    # --- ModelAdapter -----------------------------------------------------------------------

    def render_prompt(self, intent: PromptIntent, n_audio: int = 1) -> str:
        return prompts.render_prompt(self.spec, intent, n_audio, self.system_prompt, self.style)

    def load_model(self) -> None:
        import transformers

        folder = self.checkpoint_dir()
        spec = self.spec
        model_type = read_model_type(folder)
        if self.preset and model_type not in spec.model_types:
            raise AdapterError(f"{self.name}: {self.checkpoint()} is a {model_type!r} checkpoint, not "
                               f"{' / '.join(spec.model_types)}; use the hf-audio-lm adapter for it")
        check_requirements(spec)
        self._processor = load_processor(folder, self.options, spec)
        eos = getattr(self._processor.tokenizer, "eos_token_id", None)
        if self.options.backend == "vllm":  # vLLM loads the weights itself (below)
            ends = checkpoint_end_ids(folder, self.options, eos)
        else:
            model_cls = getattr(transformers, spec.model_class or "AutoModelForMultimodalLM")
            self._model = load_transformers_weights(model_cls, folder, self.options, self.name)
            ends = generation_end_ids(self._model, eos)
        self._end_ids = tuple(dict.fromkeys(ends + ((eos,) if eos is not None else ())))
        self._window_s = window_s(self._processor, spec)
        if self.options.backend == "vllm":
            from model_adapters.vllm_engine import VllmEngine

            engine_args = dict(spec.vllm_args)
            if engine_args.get("config_format") == "mistral" and not (folder / "params.json").is_file():
                raise AdapterError(f"{self.name}: vLLM loads {spec.name} from the Mistral-format files (params.json, "
                                   f"consolidated.safetensors, tekken.json) that the official repository ships beside "
                                   f"the transformers ones; {folder} has no params.json")
            self._engine = VllmEngine(folder, self.options, self._end_ids, engine_args=engine_args)

    def input_problem(self, item: AudioInput) -> str | None:
        try:
            n = prompts.count_audio(prompts.parse_prompt(item.prompt), self.spec.audio_token)
        except AdapterError as exc:
            return str(exc)
        if n != len(item.waveforms):
            return f"the prompt has {n} audio placeholder(s) but the sample has {len(item.waveforms)} audio(s)"
        return super().input_problem(item)

    def generate_batch(self, batch: Sequence[AudioInput], config: GenerationConfig) -> list[Generation]:
        new = self._decode(batch, config)
        tokenizer = self._processor.tokenizer
        results = []
        for item, row in zip(batch, new):
            window = self._window_s
            info = {"truncated_audio": True} if window and any(len(w) > window * SAMPLE_RATE
                                                              for w in item.waveforms) else {}
            results.append(make_generation(row, self._end_ids, config, lambda ids, item=item: self.finish_text(
                tokenizer.decode(ids, skip_special_tokens=True, clean_up_tokenization_spaces=False), item.intent), info))
        return results

    def next_token_logits(self, batch: Sequence[AudioInput]) -> np.ndarray:
        """[batch, vocab] float32 logits of the first answer token (what greedy decoding picks from)."""
        import torch

        if self._model is None:
            raise AdapterError(f"{self.name}: next_token_logits() needs the transformers model, loaded by load() "
                               "with the default backend")
        inputs = self._inputs(batch)
        with torch.inference_mode():
            logits = self._model(**inputs).logits[:, -1, :]
        return logits.float().cpu().numpy()

    def memory_budget(self, config: GenerationConfig) -> MemoryBudget | None:
        """Estimated from the model config (memory.py); free memory from qa_eval.device."""
        import torch

        from qa_eval.device import free_memory_bytes

        from .memory import memory_budget

        elt = torch.finfo(getattr(torch, self.options.dtype)).bits // 8
        return memory_budget(self._model, self.spec.audio_tokens_per_s, self._window_s, elt,
                             config.max_new_tokens, free_memory_bytes(self.options.device))

    def library_names(self) -> tuple[str, ...]:
        """transformers' stack, the backend's, and the packages the family's processor or model needs."""
        return (*super().library_names(), *(pip.split("[")[0] for _, pip in self.spec.requires))

    def describe(self) -> dict[str, Any]:
        spec = self.spec
        system = self.system_prompt if self.system_prompt is not None else (
            spec.system_prompt.text if spec.system_prompt else "")
        out = {**super().describe(), "audio_lm_family": spec.name, "system_prompt": system,
               "instruction_style": self.style}
        if self._processor is not None:
            out["processor_classes"] = processor_classes(self._processor)
        return out

    @classmethod
    def conformance_checkpoint(cls, workdir: Path) -> str:
        """A tiny random checkpoint of the family (model_adapters.testing.hf_audio_lm)."""
        from model_adapters.testing.hf_audio_lm import build_tiny

        return str(build_tiny(cls.preset or "qwen2.5-omni", workdir))

    # --- parts ------------------------------------------------------------------------------

    def _decode(self, batch: Sequence[AudioInput], config: GenerationConfig) -> list[list[int]]:
        """The new ids of every row (end tokens and what follows them included)."""
        import torch

        if self._engine is not None:
            from model_adapters.vllm_engine import VllmRequest

            requests = [VllmRequest(self._vllm_prompt(item), item.waveforms) for item in batch]
            return self._engine.generate(requests, config)
        inputs = self._inputs(batch)
        with torch.inference_mode():
            out = self._model.generate(**inputs, generation_config=self._greedy(config))
        return out[:, inputs["input_ids"].shape[1]:].tolist()

    def _vllm_prompt(self, item: AudioInput) -> str | list[int]:
        """What the vLLM engine gets as the prompt: the chat template's text, or, where the audio
        enters through the template (Voxtral: the tokenizer writes its placeholders), the ids."""
        conv = prompts.parse_prompt(item.prompt)
        continues = prompts.continues_answer(conv)
        if self.spec.audio_in_template:
            return sample_inputs(self._processor, self.spec, conv, item.waveforms, continues)["input_ids"][0].tolist()
        return chat_text(self._processor, conv, continues)

    def _inputs(self, batch: Sequence[AudioInput]) -> dict[str, Any]:
        """The batch's model inputs on the device, floating tensors in the model's dtype."""
        convs = [prompts.parse_prompt(item.prompt) for item in batch]
        features = model_inputs(self._processor, self.spec, convs,
                                [item.waveforms for item in batch], [prompts.continues_answer(c) for c in convs])
        dtype = self._model.dtype
        return {k: (v.to(self.options.device, dtype) if v.is_floating_point() else v.to(self.options.device))
                if hasattr(v, "is_floating_point") else v for k, v in features.items()}

    def _greedy(self, config: GenerationConfig) -> Any:
        """The checkpoint's generation config, made plain greedy with this run's lengths."""
        gen = copy.deepcopy(self._model.generation_config)
        pad = self._processor.tokenizer.pad_token_id
        gen.update(do_sample=False, num_beams=1, temperature=None, top_p=None, top_k=None, repetition_penalty=None,
                   no_repeat_ngram_size=None, max_new_tokens=config.max_new_tokens,
                   min_new_tokens=config.min_new_tokens, max_length=None, eos_token_id=list(self._end_ids),
                   pad_token_id=pad if pad is not None else self._end_ids[0])
        return gen
