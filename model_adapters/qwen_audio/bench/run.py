"""run_bench: every mode on the same clips in one process; the result document and its table.

The engine's greedy ids are checked against its no-cache reference path (float32, same inputs),
and the compiled engine's against the eager engine's. Timed work includes feature extraction
and tokenisation; compilation is done in an untimed pass first.
"""

from __future__ import annotations

import gc
import os
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from qa_eval.audio import SAMPLE_RATE
from qa_eval.errors import ConfigError

from .floor import floor_estimate
from .machine import measure_machine, peak_memory, reset_peak, sync
from .modes import build_engine, build_hf, hf_feature_extractor, run_engine, run_hf
from .workload import PROMPT, clip_durations, engine_batches, padding_fraction, param_counts, shape_config, synth_clip

MODES = ("engine", "engine-compiled", "hf-single", "hf-batched")
Ids = dict[int, list[int]]


@dataclass
class ModeResult:
    mode: str
    wall_s: float
    rtfx: float
    tokens_per_s: float
    peak_memory_bytes: int
    n_tokens: int


@dataclass(frozen=True)
class Workload:
    """The clips of one benchmark and how they are cut."""

    durations: list[float]
    clips: list[np.ndarray]
    batch_size: int
    new_tokens: int

    @property
    def audio_s(self) -> float:
        return float(sum(len(c) for c in self.clips) / SAMPLE_RATE)


def timed(mode: str, device: str, fn: Callable[[], Ids], work: Workload, log) -> tuple[ModeResult, Ids]:
    gc.collect()
    reset_peak(device)
    sync(device)
    t0 = time.perf_counter()
    ids = fn()
    sync(device)
    wall = time.perf_counter() - t0
    n_tok = sum(len(v) for v in ids.values())
    res = ModeResult(mode, wall, work.audio_s / wall, n_tok / wall, peak_memory(device), n_tok)
    log(f"bench: {mode}: {wall:.2f} s, RTFx {res.rtfx:.2f}, {res.tokens_per_s:.1f} tok/s")
    return res, ids


def engine_modes(pipe, work: Workload, modes: Sequence[str], device: str, log) -> tuple[dict, dict]:
    """Time the engine (and the compiled engine) on the workload."""
    results: dict[str, ModeResult] = {}
    ids: dict[str, Ids] = {}
    batches = engine_batches(work.durations, work.batch_size)
    run = lambda: run_engine(pipe, work.clips, batches, work.new_tokens)  # noqa: E731
    if "engine" in modes:
        run_engine(pipe, work.clips, [[int(np.argmin(work.durations))]], 2)  # warm-up
        results["engine"], ids["engine"] = timed("engine", device, run, work, log)
    if "engine-compiled" in modes:
        pipe.compile_step = True
        t0 = time.perf_counter()
        run()  # compiles every shape of the workload
        log(f"bench: engine-compiled warm-up (compilation) {time.perf_counter() - t0:.1f} s")
        results["engine-compiled"], ids["engine-compiled"] = timed("engine-compiled", device, run, work, log)
        pipe.compile_step = False
    return results, ids


def reference_check(pipe, work: Workload, n_clips: int, log) -> dict[str, Any]:
    """Engine ids vs its no-cache reference path on the first clips (a float32 pipeline)."""
    if n_clips <= 0:
        return {"clips": 0, "equal": None}
    prepared = [pipe.prepare(PROMPT, [work.clips[i]]) for i in range(min(n_clips, len(work.clips)))]
    fast = [r.raw_ids for r in pipe.run(prepared, work.new_tokens, work.new_tokens, use_cache=True)]
    ref = [r.raw_ids for r in pipe.run(prepared, work.new_tokens, work.new_tokens, use_cache=False)]
    log(f"bench: engine ids == reference (use_cache=False) ids on {len(prepared)} clips: {fast == ref}")
    return {"clips": len(prepared), "new_tokens": work.new_tokens, "dtype": "float32", "equal": fast == ref,
            "engine_ids": fast, "reference_ids": ref}


def hf_modes(cfg_dict: dict, work: Workload, modes: Sequence[str], tail_len: int, device: str, dtype: str,
             seed: int, log) -> tuple[dict, dict]:
    """Time transformers' generate, one clip at a time and batched in manifest order."""
    results: dict[str, ModeResult] = {}
    ids: dict[str, Ids] = {}
    wanted = [m for m in modes if m.startswith("hf-")]
    if not wanted:
        return results, ids
    gc.collect()
    model, fe = build_hf(cfg_dict, device, dtype, seed), hf_feature_extractor()
    run_hf(model, fe, work.clips, [[int(np.argmin(work.durations))]], 2, tail_len, device)  # warm-up
    n = len(work.clips)
    for mode in wanted:
        size = 1 if mode == "hf-single" else work.batch_size
        batches = [list(range(s, min(s + size, n))) for s in range(0, n, size)]
        results[mode], ids[mode] = timed(
            mode, device, lambda b=batches: run_hf(model, fe, work.clips, b, work.new_tokens, tail_len, device),
            work, log)
    return results, ids


def run_bench(shape: str = "tiny", batch_size: int = 16, new_tokens: int = 32, n_clips: int = 32,
              device: str = "cpu", dtype: str = "float32", modes: Sequence[str] = MODES,
              out_json: str | Path | None = None, ref_clips: int = 2, seed: int = 0,
              log: Callable[..., None] = print) -> dict[str, Any]:
    """Run the benchmark; returns (and writes to out_json) the result document."""
    import torch

    from model_adapters.qwen_audio.config import QwenAudioConfig
    from model_adapters.qwen_audio.weights import resolve_dtype

    bad = [m for m in modes if m not in MODES]
    if bad:
        raise ConfigError(f"unknown bench mode(s) {bad}; expected {MODES}")
    if new_tokens < 1 or batch_size < 1 or n_clips < 1:
        raise ConfigError("--new-tokens, --batch-size and --clips must be >= 1")
    cfg_dict = shape_config(shape)
    cfg = QwenAudioConfig.from_dict(cfg_dict, f"bench shape {shape}")
    durations = clip_durations(n_clips, seed)
    work = Workload(durations, [synth_clip(d, seed * 100_003 + i) for i, d in enumerate(durations)],
                    batch_size, new_tokens)
    log(f"bench: shape {shape}, {n_clips} clips, {work.audio_s:.1f} s of audio, batch {batch_size}, "
        f"{new_tokens} new tokens, {device} {dtype}, torch threads {torch.get_num_threads()}")
    machine = measure_machine(device, resolve_dtype(dtype))
    log(f"bench: machine: matmul {machine['matmul_flops_per_s'] / 1e9:.1f} GFLOP/s, "
        f"copy {machine['copy_bytes_per_s'] / 1e9:.1f} GB/s")

    pipe = build_engine(cfg_dict, device, dtype, seed)
    prompt_lens = [len(pipe.prepare(PROMPT, [c]).input_ids) for c in work.clips]
    tail_len = prompt_lens[0] - pipe.prepare(PROMPT, [work.clips[0]]).lengths[0].span_tokens
    results, ids = engine_modes(pipe, work, modes, device, log)
    if dtype != "float32" and ref_clips > 0:
        del pipe
        pipe = build_engine(cfg_dict, device, "float32", seed)
    check = reference_check(pipe, work, ref_clips, log)
    del pipe
    hf_results, hf_ids = hf_modes(cfg_dict, work, modes, tail_len, device, dtype, seed, log)
    results.update(hf_results)
    ids.update(hf_ids)

    e_batches = engine_batches(durations, batch_size)
    floor = floor_estimate(cfg, param_counts(cfg), durations, prompt_lens, new_tokens, len(e_batches),
                           resolve_dtype(dtype).itemsize, machine)
    hf_best = min((r.wall_s for m, r in results.items() if m.startswith("hf-")), default=None)
    doc = {
        "shape": shape, "config": cfg_dict, "params": param_counts(cfg),
        "hf_notes": "Qwen2AudioForConditionalGeneration, same widths/depths, MHA, 128 mel bins, 30 s padded audio",
        "device": device, "dtype": dtype, "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__, "platform": platform.platform(), "cpu_count": os.cpu_count(),
        "batch_size": batch_size, "new_tokens": new_tokens, "n_clips": n_clips,
        "clip_durations_s": durations, "audio_s": work.audio_s, "prompt_lens": prompt_lens,
        "engine_batches": e_batches, "machine": machine,
        "prefill_padding_fraction": padding_fraction([[prompt_lens[i] for i in b] for b in e_batches]),
        "modes": {m: asdict(r) for m, r in results.items()},
        "speedup_engine_vs_best_hf": hf_best / results["engine"].wall_s if hf_best and "engine" in results else None,
        "floor": floor,
        "engine_wall_over_floor": results["engine"].wall_s / floor["floor_s"] if "engine" in results else None,
        "reference_check": check,
        "compiled_ids_equal_engine": (ids["engine-compiled"] == ids["engine"]
                                      if {"engine", "engine-compiled"} <= set(ids) else None),
        "tokens_per_clip": {m: sorted({len(v) for v in got.values()}) for m, got in ids.items()},
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
