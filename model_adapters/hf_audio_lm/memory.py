"""What one batch row of an audio LM costs, for `--batch-size auto`.

An estimate from the loaded model's config, not a measurement. A row whose longest audio lasts
`s` seconds holds T = audio tokens + TEXT_TOKENS prompt tokens (audio tokens: the family's LM
tokens per second, times `s` cut to the feature extractor's window), and N new tokens:

  * KV cache: 2 x layers x (T + N) x kv_heads x head_dim, in the weight dtype;
  * prefill activations of one decoder layer (layers run one after another): hidden states,
    q|k|v, the MLP's projections, float32 norm copies, per prompt token;
  * logits: the last position's in float32 (x3 for the copies greedy search makes); models whose
    forward has no `logits_to_keep` compute [T, vocab] logits in the prefill, counted too;
  * audio side: the log-mel features (n_mels x 100 frames/s, float32) and one encoder layer's
    activations over the audio frames (50/s after the usual stride-2 convolution, ~10 copies of
    the encoder width); transformers encodes all audios of a batch at once, so this is per row.

The sum is multiplied by SAFETY (allocator rounding, temporaries not listed) and the budget is
the device's free memory after the weights, less a fixed reserve.
"""

from __future__ import annotations

import inspect
from typing import Any, Callable

from qa_eval.batching import MemoryBudget

TEXT_TOKENS = 128  # system prompt, chat markup and instruction around the audio
MEL_FRAMES_PER_S = 100
ENCODER_FRAMES_PER_S = 50
SAFETY = 1.5
RESERVE_BYTES = 512 * 2**20
FREE_FRACTION = 0.9


def text_dims(config: Any) -> dict[str, int]:
    """Decoder sizes from the (text part of the) model config."""
    text = config.get_text_config(decoder=True) if hasattr(config, "get_text_config") else config
    hidden = int(text.hidden_size)
    heads = int(text.num_attention_heads)
    return {
        "layers": int(text.num_hidden_layers),
        "kv_heads": int(getattr(text, "num_key_value_heads", None) or heads),
        "head_dim": int(getattr(text, "head_dim", None) or hidden // heads),
        "hidden": hidden,
        "intermediate": int(getattr(text, "intermediate_size", None) or 4 * hidden),
        "vocab": int(text.vocab_size),
    }


def audio_dims(config: Any) -> tuple[int, int]:
    """(encoder width, mel bins) of the audio encoder config, with Whisper-large defaults."""
    for name in ("audio_config", "encoder_config"):
        sub = getattr(config, name, None)
        if sub is not None:
            width = next((getattr(sub, k) for k in ("d_model", "hidden_size", "hidden_dim") if getattr(sub, k, None)),
                         None)
            mels = getattr(sub, "num_mel_bins", None) or getattr(sub, "input_feat_size", None) or 128
            return int(width or 1280), int(mels)
    return 1280, 128


def row_bytes_fn(model: Any, tokens_per_s: float, window_s: float | None, elt: int,
                 new_tokens: int) -> Callable[[float], int]:
    """Bytes of one row as a function of the batch's longest audio, in seconds."""
    d = text_dims(model.config)
    enc_width, mels = audio_dims(model.config)
    full_logits = "logits_to_keep" not in inspect.signature(model.forward).parameters
    kv_per_token = 2 * d["layers"] * d["kv_heads"] * d["head_dim"] * elt
    act_per_token = (6 * d["hidden"] + 3 * d["intermediate"]) * elt + 2 * d["hidden"] * 4

    def row_bytes(audio_s: float) -> int:
        s = min(audio_s, window_s) if window_s else audio_s
        t = int(tokens_per_s * s) + TEXT_TOKENS
        kv = kv_per_token * (t + new_tokens)
        logits = 3 * d["vocab"] * 4 + (t * d["vocab"] * elt if full_logits else 0)
        frames_s = window_s or s  # Whisper-style extractors pad every audio to the window
        audio = int(frames_s * (MEL_FRAMES_PER_S * mels * 4 + ENCODER_FRAMES_PER_S * 10 * enc_width * elt))
        return int(SAFETY * (kv + t * act_per_token + logits + audio))

    return row_bytes


def memory_budget(model: Any, tokens_per_s: float, window_s: float | None, elt: int, new_tokens: int,
                  free_bytes: int) -> MemoryBudget:
    """The batch budget on a device with `free_bytes` free after the weights are loaded."""
    usable = int(free_bytes * FREE_FRACTION) - RESERVE_BYTES
    return MemoryBudget(max(usable, 0), row_bytes_fn(model, tokens_per_s, window_s, elt, new_tokens))
