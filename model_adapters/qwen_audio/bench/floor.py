"""A lower bound on the engine's time: counted FLOPs and bytes over measured machine rates."""

from __future__ import annotations

from typing import Sequence

from qa_eval.audio import SAMPLE_RATE


def floor_estimate(cfg, counts: dict[str, int], durations: Sequence[float], prompt_lens: Sequence[int],
                   new_tokens: int, n_decode_batches: int, bytes_per_param: int, machine: dict) -> dict[str, float]:
    """Lower bound on the engine's work: FLOPs (2 x params x tokens for the LLM blocks over prompt +
    new tokens, lm_head only for the new tokens, encoder 2 x params x true post-conv frames, plus
    attention score/value products) and bytes (all LLM weights read once per decode step per
    batch). Embedding lookups are free."""
    from model_adapters.qwen_audio.features import AudioLengths

    h, layers = cfg.hidden_size, cfg.num_hidden_layers
    d, enc_layers = cfg.audio.n_state, cfg.audio.n_layer
    llm_flops = enc_flops = 0.0
    for dur, p in zip(durations, prompt_lens):
        n = p + new_tokens
        llm_flops += 2 * counts["llm_blocks"] * n + 2 * counts["lm_head"] * new_tokens
        llm_flops += layers * 2 * h * n * n  # causal QK^T + PV (half of 4*h*n^2)
        frames = AudioLengths.from_num_samples(int(round(dur * SAMPLE_RATE))).after_cnn_len
        enc_flops += 2 * counts["encoder"] * frames + enc_layers * 4 * d * frames * frames
    flops = llm_flops + enc_flops
    decode_bytes = (counts["llm_blocks"] + counts["lm_head"]) * bytes_per_param * new_tokens * n_decode_batches
    t_flops = flops / machine["matmul_flops_per_s"]
    t_bytes = decode_bytes / machine["copy_bytes_per_s"]
    return {"llm_flops": llm_flops, "encoder_flops": enc_flops, "flops": flops, "decode_weight_bytes": decode_bytes,
            "compute_floor_s": t_flops, "bandwidth_floor_s": t_bytes, "floor_s": max(t_flops, t_bytes)}
