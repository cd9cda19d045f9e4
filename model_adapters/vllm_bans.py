"""Token bans for the vLLM backend: a vLLM (v1) logits processor that sets the logits of given
ids to -inf, at every generated step or only at the first one.

Whisper's decoding rules need it: the checkpoint's `suppress_tokens` are banned at every step
and its `begin_suppress_tokens` at the first generated step, as our transformers loop
(model_adapters/whisper/generate.py) does. vLLM's own `logit_bias` clamps to -100, which is
not a ban, and has no first-step form. A request carries its bans in
`SamplingParams.extra_args[EXTRA_ARG] = {"always": [...], "first": [...]}`; requests without
them are untouched. Imported only with `--backend vllm` (it subclasses vLLM's interface).
"""

from __future__ import annotations

from typing import Any

import torch
from vllm import SamplingParams
from vllm.v1.sample.logits_processor import BatchUpdate, LogitsProcessor, process_dict_updates

EXTRA_ARG = "qa_eval_bans"


def ban_args(always: list[int], first: list[int]) -> dict[str, Any]:
    """The `extra_args` entry of a request with these bans ({} when there are none)."""
    return {EXTRA_ARG: {"always": list(always), "first": list(first)}} if always or first else {}


class TokenBans(LogitsProcessor):
    """Per-request bans, read from each request's `extra_args` when vLLM adds it to the batch."""

    def __init__(self, vllm_config: Any, device: torch.device, is_pin_memory: bool) -> None:
        # batch row -> (ids banned at every step, ids banned at the first step, the row's output ids so far)
        self.rows: dict[int, tuple[list[int], list[int], list[int]]] = {}

    def is_argmax_invariant(self) -> bool:
        return False  # a ban can change the greedy choice

    def update_state(self, batch_update: BatchUpdate | None) -> None:
        process_dict_updates(self.rows, batch_update, self._row_state)

    @staticmethod
    def _row_state(params: SamplingParams, prompt_ids: list[int] | None,
                   output_ids: list[int]) -> tuple[list[int], list[int], list[int]] | None:
        bans = (params.extra_args or {}).get(EXTRA_ARG) if params is not None else None
        return (bans["always"], bans["first"], output_ids) if bans else None

    def apply(self, logits: torch.Tensor) -> torch.Tensor:
        vocab = logits.shape[-1]
        for row, (always, first, output_ids) in self.rows.items():
            ids = [i for i in (always if output_ids else always + first) if 0 <= i < vocab]
            if ids:
                logits[row, ids] = float("-inf")
        return logits
