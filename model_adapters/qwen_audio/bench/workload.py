"""The benchmark's workload: model shapes, LibriSpeech-test-clean-like clips, batches.

Work is identical across modes: same clips (deterministic durations, lognormal with mean about
7.4 s clipped to [1.3, 35] s, noise + tones), same prompt (the LibriSpeech ASR tag sequence), and
exactly ``new_tokens`` new tokens per clip.
"""

from __future__ import annotations

import json
import math
from typing import Any, Sequence

import numpy as np

from qa_eval.audio import SAMPLE_RATE

SHAPES = ("tiny", "small", "full")
PROMPT = "<audio>clip.wav</audio><|startoftranscript|><|en|><|transcribe|><|en|><|notimestamps|><|wo_itn|>"


def shape_config(shape: str) -> dict[str, Any]:
    """Qwen-Audio config.json dict at `shape` (vocabulary 155,947 everywhere).

    small: LLM 8 layers, hidden 1024, 16 heads of 64, MLP width 2752 (= 2.6875 x hidden, the
    real 11008/4096 ratio; Qwen's intermediate_size is twice the MLP width); encoder 8 layers,
    d_model 320, 5 heads of 64 -> encoder about 1/10 of the non-embedding parameters."""
    from model_adapters.testing.qwen_audio import FULL_CONFIG, config_dict, tiny_config_dict

    if shape == "tiny":
        return tiny_config_dict(hidden=64, layers=2, heads=4, enc_state=32, enc_layers=2, enc_heads=4)
    if shape == "small":
        return config_dict(hidden_size=1024, num_hidden_layers=8, num_attention_heads=16, kv_channels=64,
                           intermediate_size=2 * 2752,
                           audio={"n_state": 320, "n_head": 5, "n_layer": 8, "output_dim": 1024})
    if shape == "full":
        return json.loads(json.dumps(FULL_CONFIG))
    raise ValueError(f"unknown shape {shape!r}; expected one of {SHAPES}")


def param_counts(cfg) -> dict[str, int]:
    """Parameter counts of the Qwen-Audio model at config `cfg` (from the meta skeleton)."""
    from model_adapters.qwen_audio.weights import build_meta_model, expected_tensors

    counts = {"embedding": 0, "lm_head": 0, "llm_blocks": 0, "encoder": 0}
    for key, shape in expected_tensors(build_meta_model(cfg)).items():
        n = math.prod(shape)
        if key == "transformer.wte.weight":
            counts["embedding"] += n
        elif key == "lm_head.weight":
            counts["lm_head"] += n
        elif key.startswith("transformer.audio."):
            counts["encoder"] += n
        else:
            counts["llm_blocks"] += n
    counts["total"] = sum(counts.values())
    non_emb = counts["llm_blocks"] + counts["encoder"]
    counts["encoder_fraction_of_non_embedding"] = round(counts["encoder"] / non_emb, 4)
    return counts


def clip_durations(n: int, seed: int = 0) -> list[float]:
    """LibriSpeech-test-clean-like durations: lognormal, mean about 7.4 s, clipped to [1.3, 35] s."""
    rng = np.random.default_rng(seed)
    sigma = 0.65
    mu = math.log(7.4) - sigma**2 / 2
    return [float(np.clip(d, 1.3, 35.0)) for d in rng.lognormal(mu, sigma, n)]


def synth_clip(duration_s: float, seed: int) -> np.ndarray:
    """float32 16 kHz mono: low noise plus a few tones (content does not matter, length does)."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(duration_s * SAMPLE_RATE)), dtype=np.float32) / SAMPLE_RATE
    w = 0.02 * rng.standard_normal(t.shape[0]).astype(np.float32)
    for f in rng.uniform(120.0, 3000.0, 3):
        w += 0.1 * np.sin(2 * np.pi * f * t).astype(np.float32)
    return w


def engine_batches(durations: Sequence[float], batch_size: int) -> list[list[int]]:
    """Clip indices sorted longest first (stable), cut into batches (batching.make_batches' policy)."""
    order = sorted(range(len(durations)), key=lambda i: -durations[i])
    return [order[s : s + batch_size] for s in range(0, len(order), batch_size)]

def padding_fraction(batches: Sequence[Sequence[int]]) -> float:
    """Share of prefill positions that are left padding (each batch is padded to its longest prompt)."""
    padded = sum(len(b) * max(b) for b in batches)
    return 1.0 - sum(sum(b) for b in batches) / padded if padded else 0.0
