"""The sub-commands the Qwen-Audio adapter adds to `qa-eval` (entry-point group `qa_eval.commands`).

    qa-eval bench      the engine against plain transformers, or a whole timed evaluation;
                       --model qwen2-audio: its transformers and vLLM backends
    qa-eval generate   raw Qwen-Audio prompts (CASES.jsonl) -> greedy ids and text (OUT.jsonl)
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from qa_eval.commands import Command, add_model_flags, batch_size_arg, model_options, non_negative_int, positive_int
from qa_eval.device import resolve_device, resolve_dtype
from qa_eval.errors import ConfigError


def _log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


def bench_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="qwen-audio", choices=["qwen-audio", "qwen2-audio"],
                   help="qwen-audio (default): the native engine against transformers; qwen2-audio: its backends "
                        "(hf-single, hf-batched, vllm) on one random checkpoint")
    p.add_argument("--random-weights", action="store_true",
                   help="random weights at --shape (the only mode: no checkpoint is read)")
    p.add_argument("--shape", default="tiny", choices=["tiny", "small", "full"],
                   help="tiny: toy; small: the CPU shape (qwen-audio: 8+8 layers, hidden 1024/320; qwen2-audio: "
                        "4+4 layers, hidden 512/256); full: real Qwen-Audio")
    p.add_argument("--batch-size", type=batch_size_arg, default=16,
                   help="(default: 16; 'auto' only with --end-to-end)")
    p.add_argument("--new-tokens", type=positive_int, default=32, help="forced new tokens per clip (default: 32)")
    p.add_argument("--end-to-end", action="store_true",
                   help="time a whole evaluation instead: random checkpoint written in the original format, "
                        "--clips FLAC files (2620 = LibriSpeech test-clean's shape), qa-eval run's full path")
    p.add_argument("--workdir", help="--end-to-end: where the checkpoint, audio and runs are cached "
                                     "(default: ~/.cache/qa-eval/bench-e2e)")
    p.add_argument("--compile", action="store_true", help="--end-to-end: run with --compile")
    p.add_argument("--num-workers", type=non_negative_int,
                   help="--end-to-end: audio decoding processes (default: cores - 1, max 8)")
    p.add_argument("--clips", type=positive_int, default=32, help="number of synthetic clips (default: 32)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default: auto)")
    p.add_argument("--dtype", default="auto", help="float32, bfloat16, float16 or auto")
    p.add_argument("--modes", help="comma-separated; qwen-audio: engine,engine-compiled,hf-single,hf-batched "
                                   "(default: engine,hf-single,hf-batched); qwen2-audio: hf-single,hf-batched,vllm "
                                   "(default: hf-batched,vllm)")
    p.add_argument("--ref-clips", type=non_negative_int, default=2,
                   help="clips whose engine ids are checked against the no-cache reference path (default: 2)")
    p.add_argument("--out", help="write the result JSON here")


def run_bench_command(args: argparse.Namespace) -> int:
    if not args.random_weights:
        raise ConfigError("qa-eval bench needs --random-weights (benchmarks build random models at --shape)")
    device = resolve_device(args.device)
    dtype = resolve_dtype(args.dtype, device)
    if args.model == "qwen2-audio":
        return _bench_backends(args, device, dtype)
    if args.end_to_end:
        from .bench.end_to_end import run_end_to_end

        doc = run_end_to_end(args.shape, args.clips, args.batch_size, args.new_tokens, device, dtype,
                             args.workdir, args.compile, args.num_workers, _log)
        print(json.dumps({k: v for k, v in doc.items() if k != "hardware"}, indent=2))
        if args.out:
            from qa_eval.store import write_json_atomic

            write_json_atomic(Path(args.out), doc)
        return 0 if doc["n_failed"] == 0 else 1
    if args.batch_size == "auto":
        raise ConfigError("qa-eval bench: --batch-size auto needs --end-to-end (the engine modes use a fixed size)")
    from .bench.run import format_table, run_bench

    modes = _modes(args.modes, "engine,hf-single,hf-batched")
    doc = run_bench(args.shape, args.batch_size, args.new_tokens, args.clips, device, dtype, modes, args.out,
                    ref_clips=args.ref_clips, log=_log)
    print(format_table(doc))
    if args.out:
        print(f"\nwrote {args.out}")
    ok = doc["reference_check"]["equal"] in (True, None) and doc["compiled_ids_equal_engine"] in (True, None)
    return 0 if ok else 1


def _modes(given: str | None, default: str) -> list[str]:
    return [m.strip() for m in (given or default).split(",") if m.strip()]


def _bench_backends(args: argparse.Namespace, device: str, dtype: str) -> int:
    """qwen2-audio: its backends on the same clips (bench/backends.py)."""
    from .bench.backends import format_backend_table, run_backend_bench

    if device != "cpu" or args.end_to_end or args.batch_size == "auto" or args.shape == "full":
        raise ConfigError("qa-eval bench --model qwen2-audio runs on --device cpu, shapes tiny or small, a fixed "
                          "--batch-size, without --end-to-end")
    modes = _modes(args.modes, "hf-batched,vllm")
    if "vllm" in modes:
        from qa_eval.adapter import backend_distribution

        if backend_distribution("vllm") is None:
            raise ConfigError("bench mode vllm needs vLLM installed: run it from .venv-vllm (`make venv-vllm`)")
    doc = run_backend_bench(args.shape, args.batch_size, args.new_tokens, args.clips, dtype, modes, args.workdir, _log)
    print(format_backend_table(doc))
    if args.out:
        from qa_eval.store import write_json_atomic

        write_json_atomic(Path(args.out), doc)
        print(f"\nwrote {args.out}")
    ids_equal = all(r["ids_equal_hf_batched"] in (True, None) for r in doc["modes"].values())
    return 0 if ids_equal or dtype != "float32" else 1  # different ids are a failure in float32 only


def generate_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", default="qwen-audio", choices=["qwen-audio", "qwen-audio-chat"],
                   help="(default: qwen-audio)")
    add_model_flags(p, backends=False)
    p.add_argument("--prompts", required=True, help="JSONL with id and prompt; audio paths relative to it")
    p.add_argument("--out", required=True, help="JSONL to write (must not exist yet)")
    p.add_argument("--max-new-tokens", type=positive_int, required=True)
    p.add_argument("--min-new-tokens", type=non_negative_int, default=1)
    p.add_argument("--batch-size", type=positive_int, default=1)


def run_generate_command(args: argparse.Namespace) -> int:
    from .raw_generate import generate_file

    options = model_options(args)
    n_failed = generate_file(options.checkpoint, args.prompts, args.out, args.max_new_tokens, args.min_new_tokens,
                             args.batch_size, options.device, options.dtype, options.allow_pickle, options.compile,
                             model=args.model)
    _log(f"wrote {args.out}" + (f"; {n_failed} case(s) failed (see their 'error')" if n_failed else ""))
    return 1 if n_failed else 0


BENCH = Command("bench", "speed: qa-eval's engine vs transformers generate, random weights",
                bench_arguments, run_bench_command)
GENERATE = Command("generate", "raw-prompt Qwen-Audio inference: CASES.jsonl (id, prompt) -> OUT.jsonl",
                   generate_arguments, run_generate_command)
