"""`qa-eval bench --end-to-end`: a whole LibriSpeech-test-clean-shaped evaluation, timed.

Unlike `qa-eval bench` (the engine on clips already in memory), this goes through everything a
user's run does: a random Qwen-Audio checkpoint at `--shape` written in the original on-disk
format and read by the real loader, `--clips` audio files (FLAC, LibriSpeech-test-clean-like
durations; 2,620 clips are about 5.4 h) listed in an official-shape manifest, `qa-eval run`'s
evaluate() with audio decoding in worker processes, log-mel and encoder on the device, the
engine's batched greedy decoding (`--new-tokens` forced tokens per clip), predictions written
and flushed per batch, scoring and metrics.json.

Reported: `end_to_end_s` = evaluate()'s wall time minus the one-time model load (so audio
decoding, features, generation, writing and scoring are all in it), RTFx = audio seconds over
that, plus the generation-only time and the batches used. Checkpoint and audio are cached in
`--workdir` between runs (keyed by shape, dtype and clip count); each run gets a fresh run folder.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path
from typing import Any, Callable

import soundfile as sf

from qa_eval.audio import SAMPLE_RATE

from .workload import clip_durations, shape_config, synth_clip

DEFAULT_WORKDIR = Path.home() / ".cache" / "qa-eval" / "bench-e2e"
SOURCE = "librispeech_test_clean"


def random_checkpoint(workdir: Path, shape: str, dtype: str, seed: int = 0) -> Path:
    """A random Qwen-Audio checkpoint at `shape` in the original format (written once)."""
    from model_adapters.testing.qwen_audio import write_random_checkpoint

    out = workdir / f"checkpoint-{shape}-{dtype}-{seed}"
    if not (out / "config.json").is_file():
        tmp = out.with_name(out.name + ".part")
        shutil.rmtree(tmp, ignore_errors=True)
        write_random_checkpoint(tmp, shape_config(shape), seed=seed, dtype=dtype)
        tmp.rename(out)
    return out


def synthetic_manifest(workdir: Path, n_clips: int, seed: int = 0) -> tuple[Path, float]:
    """`n_clips` FLAC files and their manifest (written once); returns (manifest, audio seconds)."""
    folder = workdir / f"audio-{n_clips}-{seed}"
    manifest = folder / "manifest.jsonl"
    durations = clip_durations(n_clips, seed)
    if not manifest.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        rows = []
        for i, d in enumerate(durations):
            name = f"clip{i:05d}.flac"
            sf.write(folder / name, synth_clip(d, seed * 100_003 + i), SAMPLE_RATE)
            rows.append({"audio": name, "gt": "mister quilter is the apostle of the middle classes",
                         "source": SOURCE, "id": f"clip{i:05d}"})
        tmp = manifest.with_suffix(".part")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
        tmp.rename(manifest)
    return manifest, sum(round(d * SAMPLE_RATE) for d in durations) / SAMPLE_RATE


def run_end_to_end(
    shape: str, n_clips: int, batch_size: int | str, new_tokens: int, device: str, dtype: str,
    workdir: str | Path | None = None, compile_step: bool = False, num_workers: int | None = None,
    log: Callable[..., None] = print,
) -> dict[str, Any]:
    """Run the timed end-to-end evaluation; returns the result document."""
    from qa_eval.adapter import ModelOptions
    from qa_eval.run import RunRequest, evaluate

    work = Path(workdir) if workdir else DEFAULT_WORKDIR
    work.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    checkpoint = random_checkpoint(work, shape, dtype)
    manifest, audio_s = synthetic_manifest(work, n_clips)
    log(f"bench e2e: checkpoint and {n_clips} clips ({audio_s / 3600:.2f} h) ready in "
        f"{time.perf_counter() - t0:.1f} s under {work}")
    workers = num_workers if num_workers is not None else max(1, min(8, (os.cpu_count() or 2) - 1))
    run_dir = work / "runs" / time.strftime("%Y%m%d-%H%M%S")
    req = RunRequest(
        task="librispeech", model="qwen-audio",
        options=ModelOptions(str(checkpoint), device, dtype, compile=compile_step),
        batch_size=batch_size, max_new_tokens=new_tokens, min_new_tokens=new_tokens,
        manifest=str(manifest), out_dir=str(run_dir), results_dir=str(work / "runs"),
        num_workers=workers, max_failed_fraction=0.0, show_progress=False,
    )
    t1 = time.perf_counter()
    metrics, _ = evaluate(req, log=log)
    assert metrics is not None  # one process
    total = time.perf_counter() - t1
    timing = metrics["meta"]["timing"]
    e2e = total - timing["model_load_s"]
    doc = {
        "shape": shape, "device": device, "dtype": dtype, "batch_size": batch_size, "compile": compile_step,
        "n_clips": n_clips, "audio_s": audio_s, "new_tokens": new_tokens, "num_workers": workers,
        "evaluate_wall_s": total, "model_load_s": timing["model_load_s"], "end_to_end_s": e2e,
        "rtfx_end_to_end": audio_s / e2e, "generate_wall_s": timing["wall_s"], "rtfx_generate": timing["rtfx"],
        "batches": timing.get("batches"), "auto_batch": timing.get("auto_batch"),
        "n_failed": sum(m["n_failed"] for m in metrics["per_source"].values()),
        "run_dir": str(run_dir), "hardware": metrics["meta"]["hardware"],
    }
    log(f"bench e2e: {n_clips} clips, {audio_s:.0f} s of audio: end to end {e2e:.1f} s (RTFx "
        f"{doc['rtfx_end_to_end']:.1f}); generation alone {timing['wall_s']:.1f} s; model load "
        f"{timing['model_load_s']:.1f} s (not counted)")
    return doc
