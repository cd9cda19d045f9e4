"""The vLLM backend (`--backend vllm`): one offline vLLM engine that greedy-decodes a chunk of
requests with continuous batching.

An adapter that supports it renders each sample's prompt text exactly as its transformers path
does (the same chat template, the same audio placeholders) and hands it, with the sample's
waveforms, to `VllmEngine.generate`; vLLM's own processor for the family expands the
placeholders and extracts the features. Where the tokenizer writes the placeholders itself
(Voxtral), the prompt is the template's ids. An encoder-decoder (Whisper) gets the audio in its
encoder prompt and the adapter's decoder prefix ids as its decoder prompt.

Decoding is plain greedy (temperature 0), with the family's end tokens as stop ids, none of them
allowed before `min_new_tokens` (vLLM's `min_tokens`), and the ids the adapter's own loop
suppresses banned (`model_adapters.vllm_bans`), so the adapter builds the same Generation
records (`make_generation`) from the returned ids as from transformers' `generate`.

The run loop hands the engine one `--batch-size` chunk at a time (auto: up to 256 rows; vLLM
schedules its own memory inside a chunk), and stores each chunk before the next starts. A
request vLLM rejects raises, and the run loop isolates it like any failing sample.

Parallelism: `--tensor-parallel-size N` splits the model over N GPUs inside the engine; data
parallel runs are torchrun ranks each with its own engine on its own GPUs
(`visible_devices`), with the run's usual rank-independent sharding and merge.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from qa_eval.adapter import ModelOptions
from qa_eval.audio import SAMPLE_RATE
from qa_eval.records import GenerationConfig


def visible_devices(device: str, tensor_parallel_size: int) -> str | None:
    """The CUDA_VISIBLE_DEVICES value for an engine on `device` ("cuda:K": GPUs K .. K+N-1),
    None where nothing needs to be set (CPU, or plain "cuda" with the process's own GPUs)."""
    if not device.startswith("cuda:"):
        return None
    first = int(device.split(":", 1)[1])
    return ",".join(str(first + i) for i in range(tensor_parallel_size))


@dataclass(frozen=True)
class VllmRequest:
    """One sample for the engine: its prompt (text with the audio placeholders in place, or
    token ids) and its audios. For an encoder-decoder model (Whisper) the prompt is the
    decoder's prefix and the audios go to the encoder."""

    prompt: str | Sequence[int]
    waveforms: Sequence[np.ndarray]


# On the CPU build, vLLM's `gpu_memory_utilization` is the share of the machine's memory it
# reserves up front (0.92 by default: a second engine, or the rest of the run, would not fit).
CPU_MEMORY_FRACTION = 0.25

# The engine of the last settings used in this process: a second run (or test) on the same
# checkpoint and settings reuses it instead of starting another (vLLM starts in tens of seconds).
_ENGINE: dict[tuple[Any, ...], Any] = {}


def _engine(folder: Path, options: ModelOptions, max_audios: int, engine_args: Mapping[str, Any]) -> Any:
    key = (str(Path(folder).resolve()), options.dtype, options.device, options.tensor_parallel_size,
           options.trust_remote_code, max_audios, json.dumps(engine_args, sort_keys=True))
    if key not in _ENGINE:
        _ENGINE.clear()  # one engine at a time
        devices = visible_devices(options.device, options.tensor_parallel_size)
        if devices is not None:
            os.environ["CUDA_VISIBLE_DEVICES"] = devices  # read by the engine's worker processes
        from vllm import LLM

        from model_adapters.vllm_bans import TokenBans

        _ENGINE[key] = LLM(
            model=str(folder), tokenizer=str(folder), dtype=options.dtype, seed=0,
            tensor_parallel_size=options.tensor_parallel_size, trust_remote_code=options.trust_remote_code,
            limit_mm_per_prompt={"audio": max_audios}, logits_processors=[TokenBans], **engine_args,
            enforce_eager=options.device == "cpu",  # no graph capture on the CPU build
            **({"gpu_memory_utilization": CPU_MEMORY_FRACTION} if options.device == "cpu" else {}),
        )
    return _ENGINE[key]


class VllmEngine:
    """An offline `vllm.LLM` on a checkpoint folder, greedy decoding only.

    engine_args: further `vllm.LLM` arguments the family needs (Whisper: the architecture, which
    the converted tiny.en's config.json does not name; Voxtral: the Mistral-format loaders).
    suppress, begin_suppress: ids banned at every generated step / at the first one (Whisper's
    generation config; model_adapters/vllm_bans.py).
    """

    def __init__(self, folder: Path, options: ModelOptions, end_ids: Sequence[int], max_audios: int = 1,
                 engine_args: Mapping[str, Any] | None = None, suppress: Sequence[int] = (),
                 begin_suppress: Sequence[int] = ()) -> None:
        from model_adapters.vllm_bans import ban_args

        self.end_ids = tuple(end_ids)
        self.extra_args = ban_args(suppress, begin_suppress) or None  # every request's bans
        self.llm = _engine(folder, options, max_audios, dict(engine_args or {}))

    def generate(self, requests: Sequence[VllmRequest], config: GenerationConfig) -> list[list[int]]:
        """The new token ids of every request, in order (the end token, when one ended the row, included)."""
        from vllm import SamplingParams

        params = SamplingParams(temperature=0.0, max_tokens=config.max_new_tokens, min_tokens=config.min_new_tokens,
                                stop_token_ids=list(self.end_ids), detokenize=False, extra_args=self.extra_args)
        outputs = self.llm.generate([self._prompt(r) for r in requests], params, use_tqdm=False)
        return [list(o.outputs[0].token_ids) for o in outputs]

    def _prompt(self, request: VllmRequest) -> dict[str, Any]:
        """vLLM's prompt dict: text or ids with the audios, or the encoder (audio) and decoder (prefix) parts."""
        prompt: dict[str, Any] = ({"prompt": request.prompt} if isinstance(request.prompt, str)
                                  else {"prompt_token_ids": list(request.prompt)})
        audio = {"audio": [(np.asarray(w, dtype=np.float32), SAMPLE_RATE) for w in request.waveforms]}
        if self.llm.model_config.is_encoder_decoder:
            return {"encoder_prompt": {"prompt": "", "multi_modal_data": audio}, "decoder_prompt": prompt}
        return {**prompt, "multi_modal_data": audio}
