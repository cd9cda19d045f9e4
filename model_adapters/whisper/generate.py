"""Batched greedy decoding for a transformers `WhisperForConditionalGeneration`.

Our own short loop instead of `WhisperForConditionalGeneration.generate`, whose long-form,
language-detection and forced-id logic would second-guess the decoder prompt we render: here
the prompt ids are the decoder prefix, verbatim. Whisper's own decoding rules are kept: the
checkpoint's `suppress_tokens` are banned at every step and its `begin_suppress_tokens`
(blank, end of text) at the first generated step, as openai-whisper and transformers do.
Every row of a batch shares one prefix, so the decoder needs no padding and positions match
one-at-a-time decoding exactly; finished rows keep emitting the end token.
"""

from __future__ import annotations

import inspect
from typing import Sequence

import torch


def logit_bias(vocab_size: int, ids: Sequence[int], device: torch.device) -> torch.Tensor:
    """(vocab,) float32 vector: -inf at `ids` (ids outside the vocabulary are ignored), else 0."""
    bias = torch.zeros(vocab_size, dtype=torch.float32, device=device)
    keep = [i for i in ids if 0 <= i < vocab_size]
    if keep:
        bias[torch.tensor(keep, device=device)] = float("-inf")
    return bias


@torch.inference_mode()
def greedy_decode(
    model: torch.nn.Module,
    features: torch.Tensor,
    prefix: Sequence[int],
    *,
    max_new_tokens: int,
    min_new_tokens: int,
    end_ids: Sequence[int],
    suppress: Sequence[int] = (),
    begin_suppress: Sequence[int] = (),
) -> list[list[int]]:
    """Greedy-decode a batch that shares one decoder prefix; the new ids of every row (a row
    stops at the first of any end id, which no row may choose before min_new_tokens; finished
    rows are filled with the first end id).

    features: (batch, n_mels, frames) log-mel, already in the model's dtype and device.
    prefix:   decoder prompt ids (e.g. <|startoftranscript|><|notimestamps|>).
    """
    from transformers.modeling_outputs import BaseModelOutput

    device = features.device
    batch = features.shape[0]
    encoded = BaseModelOutput(last_hidden_state=model.get_encoder()(features).last_hidden_state)
    vocab = model.config.vocab_size
    always = logit_bias(vocab, suppress, device)
    first = always + logit_bias(vocab, begin_suppress, device)
    no_end = logit_bias(vocab, end_ids, device)
    ends = torch.tensor(list(end_ids), dtype=torch.long, device=device)

    # the KV cache's name: `cache` in transformers >= 5.2x, `past_key_values` before (deprecated after)
    cache_name = "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"
    ids = torch.tensor([list(prefix)] * batch, dtype=torch.long, device=device)
    out = model(encoder_outputs=encoded, decoder_input_ids=ids, use_cache=True)
    done = torch.zeros(batch, dtype=torch.bool, device=device)
    steps: list[torch.Tensor] = []
    for step in range(max_new_tokens):
        logits = out.logits[:, -1].float() + (first if step == 0 else always)
        if step < min_new_tokens:
            logits = logits + no_end
        token = torch.where(done, torch.full_like(done, int(end_ids[0]), dtype=torch.long), logits.argmax(-1))
        steps.append(token)
        done = done | torch.isin(token, ends)
        if bool(done.all()) or step + 1 == max_new_tokens:
            break
        out = model(encoder_outputs=encoded, decoder_input_ids=token[:, None], use_cache=True,
                    **{cache_name: getattr(out, cache_name)})
    return torch.stack(steps, dim=1).tolist() if steps else [[] for _ in range(batch)]
