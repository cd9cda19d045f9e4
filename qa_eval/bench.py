"""`qa-eval bench`: qa-eval's Qwen-Audio engine against transformers' Qwen2-Audio, random weights.

Both models are built at the same shape with random weights (no checkpoint, no network):

* engine: model_adapters.qwen_audio built on the meta device and materialised directly in the
  target dtype; prompts are the LibriSpeech ASR tag sequence, clips sorted longest first and cut
  into batches of ``batch_size`` (the policy of qa_eval.batching.make_batches); each batch runs
  ``QwenAudioPipeline.run`` (log-mel, encoder on true lengths, static-KV-cache greedy decode).
* engine-compiled: the same with the per-token step through torch.compile (``--compile``; CUDA
  graphs on CUDA). The whole workload runs once untimed first, so compilation is not timed.
* hf-single / hf-batched: ``Qwen2AudioForConditionalGeneration`` (LLM: vocab 155,947, hidden,
  layers, heads (MHA, as Qwen-Audio), MLP width; encoder: d_model, layers, heads, FFN 4 x
  d_model, 1500 positions), ``WhisperFeatureExtractor`` with 128 mel bins as Qwen2-Audio uses
  (Qwen-Audio's engine uses 80 bins; conv1's input width is the only parameter difference),
  audio padded to 30 s as the processor does, ``generate`` greedy; one clip at a time, or
  ``batch_size`` clips at a time in manifest order with left padding.

Work is identical across modes: same clips (deterministic LibriSpeech-test-clean-like durations,
lognormal with mean about 7.4 s clipped to [1.3, 35] s, noise + tones), same prompt lengths
(audio span + the 6 tag tokens), exactly ``new_tokens`` new tokens per clip (the end token is
forbidden for all steps: min_new_tokens = max_new_tokens). Timed work includes feature
extraction and tokenisation. The floor is max(FLOPs / measured matmul rate, weight bytes read
per decode step / measured copy bandwidth).
"""

from __future__ import annotations

import json
import math
import os
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

SAMPLE_RATE = 16_000
MODES = ("engine", "engine-compiled", "hf-single", "hf-batched")
SHAPES = ("tiny", "small", "full")
ASSETS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "qwen_audio_tiny"  # tokenizer + mel filters
PROMPT = "<audio>clip.wav</audio><|startoftranscript|><|en|><|transcribe|><|en|><|notimestamps|><|wo_itn|>"
# Qwen2-Audio's ids (Qwen2 vocabulary): <|endoftext|>, <|AUDIO|>, <|audio_bos|>, <|audio_eos|>
HF_EOS, HF_AUDIO, HF_AUDIO_BOS, HF_AUDIO_EOS = 151643, 151646, 151647, 151648


# ---------------------------------------------------------------------------------------------
# shapes


def shape_config(shape: str) -> dict[str, Any]:
    """Qwen-Audio config.json dict at `shape` (vocabulary 155,947 everywhere).

    small: LLM 8 layers, hidden 1024, 16 heads of 64, MLP width 2752 (= 2.6875 x hidden, the
    real 11008/4096 ratio; Qwen's intermediate_size is twice the MLP width); encoder 8 layers,
    d_model 320, 5 heads of 64 -> encoder about 1/10 of the non-embedding parameters."""
    from model_adapters.qwen_audio.random_checkpoint import (
        FULL_CONFIG,
        config_dict,
        tiny_config_dict,
    )

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


# ---------------------------------------------------------------------------------------------
# clips


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


# ---------------------------------------------------------------------------------------------
# machine measurements


def _sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def reset_peak(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    else:
        try:  # "5" resets the process's peak RSS (VmHWM), Linux >= 4.0
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            pass


def peak_memory(device: str) -> int:
    """Peak bytes since reset_peak: CUDA max allocated, or the process's VmHWM (peak RSS)."""
    import torch

    if device.startswith("cuda"):
        return int(torch.cuda.max_memory_allocated())
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def measure_machine(device: str, dtype) -> dict[str, float]:
    """Measured dense matmul rate (FLOP/s, in `dtype`) and copy bandwidth (bytes/s, read + write)."""
    import torch

    n = 2048 if device == "cpu" else 8192
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(4):
        _sync(device)
        t0 = time.perf_counter()
        a @ b
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    flops = 2 * n**3 / best
    del a, b
    x = torch.empty(64 << 20 if device == "cpu" else 512 << 20, device=device, dtype=torch.float32).fill_(1.0)
    y = torch.empty_like(x)
    best = float("inf")
    for _ in range(5):
        _sync(device)
        t0 = time.perf_counter()
        y.copy_(x)
        _sync(device)
        best = min(best, time.perf_counter() - t0)
    bw = 2 * x.numel() * x.element_size() / best
    return {"matmul_flops_per_s": flops, "matmul_n": n, "copy_bytes_per_s": bw}


# ---------------------------------------------------------------------------------------------
# engine (qa-eval's Qwen-Audio)


def build_engine(cfg_dict: dict, device: str, dtype: str, seed: int = 0):
    """QwenAudioPipeline with random weights materialised directly in `dtype` on `device`."""
    from model_adapters.qwen_audio.config import QwenAudioConfig
    from model_adapters.qwen_audio.features import load_mel_filters
    from model_adapters.qwen_audio.pipeline import QwenAudioPipeline
    from model_adapters.qwen_audio.tokenizer import QwenAudioTokenizer
    from model_adapters.qwen_audio.weights import build_meta_model, materialize_random

    cfg = QwenAudioConfig.from_dict(cfg_dict, "bench config")
    model = materialize_random(build_meta_model(cfg), device, dtype, seed)
    return QwenAudioPipeline(model, QwenAudioTokenizer.from_dir(ASSETS), load_mel_filters(ASSETS))


def engine_batches(durations: Sequence[float], batch_size: int) -> list[list[int]]:
    """Clip indices sorted longest first (stable), cut into batches (batching.make_batches' policy)."""
    order = sorted(range(len(durations)), key=lambda i: -durations[i])
    return [order[s : s + batch_size] for s in range(0, len(order), batch_size)]


def run_engine(pipe, clips: Sequence[np.ndarray], batches: Sequence[Sequence[int]], new_tokens: int,
               use_cache: bool = True) -> dict[int, list[int]]:
    out: dict[int, list[int]] = {}
    for idx in batches:
        prepared = [pipe.prepare(PROMPT, [clips[i]]) for i in idx]
        res = pipe.run(prepared, new_tokens, new_tokens, use_cache=use_cache)
        for i, r in zip(idx, res):
            out[i] = r.raw_ids
    return out


# ---------------------------------------------------------------------------------------------
# transformers Qwen2-Audio


def build_hf(cfg_dict: dict, device: str, dtype: str, seed: int = 0):
    """Qwen2AudioForConditionalGeneration at the same shape, random weights in `dtype` on `device`."""
    import torch
    from transformers import GenerationConfig, Qwen2AudioForConditionalGeneration

    from model_adapters.qwen2_audio.tiny import shaped_config
    from model_adapters.qwen_audio.weights import resolve_dtype

    a = cfg_dict["audio"]
    heads = cfg_dict["num_attention_heads"]
    config = shaped_config(
        vocab_size=cfg_dict["vocab_size"], hidden=cfg_dict["hidden_size"], layers=cfg_dict["num_hidden_layers"],
        heads=heads, kv_heads=heads, intermediate=cfg_dict["intermediate_size"] // 2,
        enc_d_model=a["n_state"], enc_layers=a["n_layer"], enc_heads=a["n_head"], enc_ffn=4 * a["n_state"],
        num_mel_bins=128, eos_id=HF_EOS, audio_token_id=HF_AUDIO,
    )
    config.text_config.head_dim = cfg_dict["kv_channels"]
    torch.manual_seed(seed)
    with torch.device(device):
        model = Qwen2AudioForConditionalGeneration._from_config(config, dtype=resolve_dtype(dtype))
    model.eval().requires_grad_(False)
    model.generation_config = GenerationConfig(bos_token_id=HF_EOS, eos_token_id=HF_EOS, pad_token_id=HF_EOS)
    return model


def hf_feature_extractor():
    from transformers import WhisperFeatureExtractor

    return WhisperFeatureExtractor(feature_size=128, sampling_rate=SAMPLE_RATE, return_attention_mask=True)


def run_hf(model, fe, clips: Sequence[np.ndarray], batches: Sequence[Sequence[int]], new_tokens: int,
           tail_len: int, device: str) -> dict[int, list[int]]:
    """transformers generate per batch: 30 s-padded 128-bin features, prompt
    <|audio_bos|> <|AUDIO|> x n <|audio_eos|> + tail_len text ids, left padded."""
    import torch

    tail = [40, 1079, 264, 3403, 11, 13, 315, 279][:tail_len] + [13] * max(0, tail_len - 8)
    out: dict[int, list[int]] = {}
    with torch.inference_mode():
        for idx in batches:
            feats = fe([clips[i] for i in idx], sampling_rate=SAMPLE_RATE, return_attention_mask=True,
                       padding="max_length", return_tensors="pt")
            mel_lens = feats["attention_mask"].sum(-1).tolist()
            prompts = []
            for n_mel in mel_lens:
                n_tok = ((int(n_mel) - 1) // 2 + 1 - 2) // 2 + 1
                prompts.append([HF_AUDIO_BOS] + [HF_AUDIO] * n_tok + [HF_AUDIO_EOS] + tail)
            t = max(len(p) for p in prompts)
            ids = torch.full((len(prompts), t), HF_EOS, dtype=torch.long)
            mask = torch.zeros((len(prompts), t), dtype=torch.long)
            for r, p in enumerate(prompts):
                ids[r, t - len(p):] = torch.tensor(p)
                mask[r, t - len(p):] = 1
            gen = model.generate(
                input_ids=ids.to(device), attention_mask=mask.to(device),
                input_features=feats["input_features"].to(device=device, dtype=model.dtype),
                feature_attention_mask=feats["attention_mask"].to(device),
                max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, num_beams=1,
            )
            for r, i in enumerate(idx):
                out[i] = gen[r, t:].tolist()
    return out


# ---------------------------------------------------------------------------------------------
# floor


def padding_fraction(batches: Sequence[Sequence[int]]) -> float:
    """Share of prefill positions that are left padding (each batch is padded to its longest prompt)."""
    padded = sum(len(b) * max(b) for b in batches)
    return 1.0 - sum(sum(b) for b in batches) / padded if padded else 0.0


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


# ---------------------------------------------------------------------------------------------
# the benchmark


@dataclass
class ModeResult:
    mode: str
    wall_s: float
    rtfx: float
    tokens_per_s: float
    peak_memory_bytes: int
    n_tokens: int

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _timed(mode: str, device: str, fn: Callable[[], dict[int, list[int]]], audio_s: float,
           new_tokens: int, log) -> tuple[ModeResult, dict[int, list[int]]]:
    import gc

    gc.collect()
    reset_peak(device)
    _sync(device)
    t0 = time.perf_counter()
    ids = fn()
    _sync(device)
    wall = time.perf_counter() - t0
    n_tok = sum(len(v) for v in ids.values())
    res = ModeResult(mode, wall, audio_s / wall, n_tok / wall, peak_memory(device), n_tok)
    log(f"bench: {mode}: {wall:.2f} s, RTFx {res.rtfx:.2f}, {res.tokens_per_s:.1f} tok/s")
    return res, ids


def run_bench(
    shape: str = "tiny",
    batch_size: int = 16,
    new_tokens: int = 32,
    n_clips: int = 32,
    device: str = "cpu",
    dtype: str = "float32",
    modes: Sequence[str] = MODES,
    out_json: str | Path | None = None,
    ref_clips: int = 2,
    seed: int = 0,
    log: Callable[..., None] = print,
) -> dict[str, Any]:
    """Run the benchmark; returns (and writes to out_json) the result document."""
    import torch

    from model_adapters.qwen_audio.config import QwenAudioConfig
    from model_adapters.qwen_audio.weights import resolve_dtype

    bad = [m for m in modes if m not in MODES]
    if bad:
        raise ValueError(f"unknown bench mode(s) {bad}; expected {MODES}")
    if new_tokens < 1 or batch_size < 1 or n_clips < 1:
        raise ValueError("new_tokens, batch_size and n_clips must be >= 1")
    torch_dtype = resolve_dtype(dtype)
    cfg_dict = shape_config(shape)
    cfg = QwenAudioConfig.from_dict(cfg_dict, f"bench shape {shape}")
    counts = param_counts(cfg)
    durations = clip_durations(n_clips, seed)
    clips = [synth_clip(d, seed * 100_003 + i) for i, d in enumerate(durations)]
    audio_s = float(sum(len(c) for c in clips) / SAMPLE_RATE)
    log(f"bench: shape {shape}, {n_clips} clips, {audio_s:.1f} s of audio, batch {batch_size}, "
        f"{new_tokens} new tokens, {device} {dtype}, torch threads {torch.get_num_threads()}")
    machine = measure_machine(device, torch_dtype)
    log(f"bench: machine: matmul {machine['matmul_flops_per_s'] / 1e9:.1f} GFLOP/s, "
        f"copy {machine['copy_bytes_per_s'] / 1e9:.1f} GB/s")

    results: dict[str, ModeResult] = {}
    ids_by_mode: dict[str, dict[int, list[int]]] = {}
    doc: dict[str, Any] = {}
    tail_len = None
    prompt_lens: list[int] = []
    e_batches = engine_batches(durations, batch_size)

    # -- engine ---------------------------------------------------------------------------------
    pipe = build_engine(cfg_dict, device, dtype, seed)
    prompt_lens = [len(pipe.prepare(PROMPT, [c]).input_ids) for c in clips]
    span = pipe.prepare(PROMPT, [clips[0]]).lengths[0].span_tokens
    tail_len = prompt_lens[0] - span
    if "engine" in modes:
        run_engine(pipe, clips, [[int(np.argmin(durations))]], 2)  # warm-up
        res, ids = _timed("engine", device, lambda p=pipe: run_engine(p, clips, e_batches, new_tokens),
                          audio_s, new_tokens, log)
        results["engine"], ids_by_mode["engine"] = res, ids
    if "engine-compiled" in modes:
        pipe.compile_step = True
        t0 = time.perf_counter()
        run_engine(pipe, clips, e_batches, new_tokens)  # compiles every shape of the workload
        log(f"bench: engine-compiled warm-up (compilation) {time.perf_counter() - t0:.1f} s")
        res, ids = _timed("engine-compiled", device, lambda p=pipe: run_engine(p, clips, e_batches, new_tokens),
                          audio_s, new_tokens, log)
        results["engine-compiled"], ids_by_mode["engine-compiled"] = res, ids
        pipe.compile_step = False
    # greedy ids of the cached engine vs its own no-cache reference path, float32, same inputs
    check: dict[str, Any] = {"clips": 0, "equal": None}
    if ref_clips > 0:
        if dtype != "float32":
            del pipe
            pipe = build_engine(cfg_dict, device, "float32", seed)
        first = list(range(min(ref_clips, n_clips)))
        prepared = [pipe.prepare(PROMPT, [clips[i]]) for i in first]
        fast = [r.raw_ids for r in pipe.run(prepared, new_tokens, new_tokens, use_cache=True)]
        ref = [r.raw_ids for r in pipe.run(prepared, new_tokens, new_tokens, use_cache=False)]
        check = {"clips": len(first), "new_tokens": new_tokens, "dtype": "float32", "equal": fast == ref,
                 "engine_ids": fast, "reference_ids": ref}
        log(f"bench: engine ids == reference (use_cache=False) ids on {len(first)} clips: {fast == ref}")
    del pipe

    # -- transformers ---------------------------------------------------------------------------
    hf_modes = [m for m in modes if m.startswith("hf-")]
    if hf_modes:
        import gc

        gc.collect()
        model = build_hf(cfg_dict, device, dtype, seed)
        fe = hf_feature_extractor()
        run_hf(model, fe, clips, [[int(np.argmin(durations))]], 2, tail_len, device)  # warm-up
        for mode in hf_modes:
            if mode == "hf-single":
                batches = [[i] for i in range(n_clips)]
            else:
                batches = [list(range(s, min(s + batch_size, n_clips))) for s in range(0, n_clips, batch_size)]
            res, ids = _timed(mode, device, lambda b=batches: run_hf(model, fe, clips, b, new_tokens, tail_len, device),
                              audio_s, new_tokens, log)
            results[mode], ids_by_mode[mode] = res, ids
        del model

    # -- summary --------------------------------------------------------------------------------
    floor = floor_estimate(cfg, counts, durations, prompt_lens, new_tokens, len(e_batches),
                           torch_dtype.itemsize, machine)
    hf_best = min((r.wall_s for m, r in results.items() if m.startswith("hf-")), default=None)
    ratio = (hf_best / results["engine"].wall_s) if hf_best and "engine" in results else None
    doc = {
        "shape": shape, "config": cfg_dict, "params": counts,
        "hf_notes": "Qwen2AudioForConditionalGeneration, same widths/depths, MHA, 128 mel bins, 30 s padded audio",
        "device": device, "dtype": dtype, "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__, "platform": platform.platform(), "cpu_count": os.cpu_count(),
        "batch_size": batch_size, "new_tokens": new_tokens, "n_clips": n_clips,
        "clip_durations_s": durations, "audio_s": audio_s, "prompt_lens": prompt_lens,
        "engine_batches": e_batches, "machine": machine,
        "prefill_padding_fraction": padding_fraction([[prompt_lens[i] for i in b] for b in e_batches]),
        "modes": {m: r.as_dict() for m, r in results.items()},
        "speedup_engine_vs_best_hf": ratio,
        "floor": floor,
        "engine_wall_over_floor": (results["engine"].wall_s / floor["floor_s"]) if "engine" in results else None,
        "reference_check": check,
        "compiled_ids_equal_engine": (ids_by_mode["engine-compiled"] == ids_by_mode["engine"]
                                      if {"engine", "engine-compiled"} <= set(ids_by_mode) else None),
        "tokens_per_clip": {m: sorted({len(v) for v in ids.values()}) for m, ids in ids_by_mode.items()},
    }
    if out_json:
        from qa_eval.store import write_json_atomic

        write_json_atomic(Path(out_json), doc)
    return doc


def format_table(doc: dict[str, Any]) -> str:
    """The result table as text."""
    lines = [f"{'mode':<15} {'wall s':>9} {'RTFx':>8} {'tok/s':>9} {'peak MiB':>9} {'vs best HF':>10}"]
    modes = doc["modes"]
    hf_best = min((r["wall_s"] for m, r in modes.items() if m.startswith("hf-")), default=None)
    for m, r in modes.items():
        ratio = f"{hf_best / r['wall_s']:.2f}x" if hf_best else "-"
        lines.append(f"{m:<15} {r['wall_s']:>9.2f} {r['rtfx']:>8.2f} {r['tokens_per_s']:>9.1f} "
                     f"{r['peak_memory_bytes'] / 2**20:>9.0f} {ratio:>10}")
    f, mach = doc["floor"], doc["machine"]
    lines.append(f"{'floor':<15} {f['floor_s']:>9.2f} {doc['audio_s'] / f['floor_s']:>8.2f} "
                 f"{doc['n_clips'] * doc['new_tokens'] / f['floor_s']:>9.1f}")
    lines.append(
        f"floor: {f['flops'] / 1e12:.2f} TFLOP (LLM {f['llm_flops'] / 1e12:.2f}, encoder {f['encoder_flops'] / 1e12:.3f}) "
        f"at {mach['matmul_flops_per_s'] / 1e9:.1f} GFLOP/s = {f['compute_floor_s']:.2f} s; "
        f"decode weights {f['decode_weight_bytes'] / 1e9:.1f} GB at {mach['copy_bytes_per_s'] / 1e9:.1f} GB/s "
        f"= {f['bandwidth_floor_s']:.2f} s")
    p = doc["params"]
    lines.append(f"params: LLM blocks {p['llm_blocks'] / 1e6:.1f} M, encoder {p['encoder'] / 1e6:.1f} M "
                 f"({p['encoder_fraction_of_non_embedding']:.1%} of non-embedding), embedding {p['embedding'] / 1e6:.1f} M, "
                 f"lm_head {p['lm_head'] / 1e6:.1f} M")
    c = doc["reference_check"]
    lines.append(f"engine ids == no-cache reference ids ({c['clips']} clips, float32): {c['equal']}")
    if doc.get("speedup_engine_vs_best_hf"):
        lines.append(f"engine speed-up over the best transformers mode: {doc['speedup_engine_vs_best_hf']:.2f}x")
    return "\n".join(lines)
