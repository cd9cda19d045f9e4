"""The `qa-eval` command line. Parses flags into records, resolves `auto` once, calls the engine."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Sequence

from qa_eval import __version__, registry
from qa_eval.errors import ConfigError, QaEvalError

EPILOG = """\
examples:
  qa-eval run --task librispeech-sample --model whisper-tiny.en
  qa-eval run --task librispeech --model qwen-audio --checkpoint /models/Qwen-Audio \\
      --data-root /data/qwen_audio_eval --device cuda --batch-size 32
  qa-eval score --task librispeech --predictions runs/librispeech/.../predictions.jsonl --json
  qa-eval leaderboard --results runs --out results/leaderboard
  qa-eval compare baseline/metrics.json runs/.../metrics.json
"""


def resolve_device(device: str) -> str:
    if device != "auto":
        return device
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def resolve_dtype(dtype: str, device: str) -> str:
    if dtype != "auto":
        return dtype  # checked by ModelOptions
    return "bfloat16" if device.startswith("cuda") else "float32"


def _add_model_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--checkpoint", help="local checkpoint folder or hub id (default: the adapter's)")
    p.add_argument("--revision", help="model revision to record / load (hub models)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default: auto)")
    p.add_argument("--dtype", default="auto", help="float32, bfloat16, float16 or auto "
                   "(auto: bfloat16 on CUDA, float32 on CPU)")
    p.add_argument("--trust-remote-code", action="store_true",
                   help="allow a hub checkpoint's own Python code to run (off by default)")
    p.add_argument("--allow-pickle", action="store_true",
                   help="accept pickle (.bin) weights; only safetensors are read by default")
    p.add_argument("--compile", action="store_true",
                   help="torch.compile the per-token decode step (CUDA graphs on CUDA; qwen-audio, "
                        "qwen-audio-chat); the first batches of each shape pay the compilation")


def _add_scorer_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scorer", help="score with this scorer instead of the task's (e.g. wer-normalized)")
    p.add_argument("--scorer-option", action="append", default=[], metavar="KEY=VALUE",
                   help="scorer option, e.g. first_segment=keep (srwt), label_normalization=lower-strip, "
                        "spice_dir=/jars (repeatable; VALUE is JSON or a plain string)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap intervals (default 0)")


def parse_options(items: Sequence[str]) -> dict[str, object]:
    """KEY=VALUE pairs; VALUE parsed as JSON when it is JSON, else kept as a string."""
    out: dict[str, object] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"expected KEY=VALUE, got {item!r}")
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def batch_size_arg(value: str) -> int | str:
    """--batch-size: a positive integer or "auto"."""
    if value == "auto":
        return value
    try:
        n = int(value)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer or 'auto', got {value!r}")
    return n


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa-eval",
        description="Evaluate audio-language models on the Qwen-Audio paper's benchmarks.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"qa-eval {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("run", help="generate predictions for a task with a model, then score them")
    p.add_argument("--task", required=True, help="task name (see `qa-eval tasks`)")
    p.add_argument("--model", required=True, help="model adapter name (see `qa-eval models`)")
    _add_model_flags(p)
    p.add_argument("--manifest", help="JSONL manifest (official Qwen-Audio shape); default: the task's")
    p.add_argument("--data-root", help="folder holding the official eval lists and audio "
                   "(relative audio paths resolve against it)")
    p.add_argument("--hf-dataset", help="Hugging Face dataset: a local folder or a hub id")
    p.add_argument("--hf-split", default="test", help="split of --hf-dataset (default: test)")
    p.add_argument("--batch-size", type=batch_size_arg, default=8,
                   help="samples per batch, or 'auto': as many as the device's free memory allows for "
                        "each batch's clip lengths (adapters with a memory estimate; default: 8)")
    p.add_argument("--max-audio-s", type=float, help="also cap a batch at this many padded audio seconds")
    p.add_argument("--max-new-tokens", type=int, help="override the task's generation budget")
    p.add_argument("--min-new-tokens", type=int, default=1, help="(default: 1, as the official scripts)")
    p.add_argument("--limit", type=int, help="only the first N samples of the manifest")
    p.add_argument("--out", help="run folder (default: RESULTS/TASK/MODEL-FINGERPRINT)")
    p.add_argument("--results", default="runs", help="results folder (default: ./runs)")
    p.add_argument("--num-workers", type=int, default=2, help="audio decoding processes (0: inline)")
    p.add_argument("--max-failed", type=float, default=0.05,
                   help="fail (exit 3) when more than this fraction of samples failed (default 0.05)")
    p.add_argument("--retry-failed", action="store_true", help="on resume, run failed samples again")
    _add_scorer_flags(p)
    p.add_argument("--no-leaderboard", action="store_true", help="do not rewrite the leaderboard files")
    p.add_argument("--launcher", choices=["none", "torchrun"], default="none",
                   help="torchrun: start --nproc-per-node processes (torch.distributed; same predictions "
                        "as one process). Equivalent: torchrun --nproc-per-node N -m qa_eval run ...")
    p.add_argument("--nproc-per-node", type=int, default=2, help="processes for --launcher torchrun (default 2)")
    p.add_argument("--json", action="store_true", help="print metrics.json instead of the table")

    p = sub.add_parser("score", help="score a predictions file (no model, no GPU, no network)")
    p.add_argument("--task", required=True)
    p.add_argument("--predictions", required=True, help="predictions.jsonl")
    p.add_argument("--out", help="write metrics.json here")
    p.add_argument("--model", default="unknown", help="model name to record")
    _add_scorer_flags(p)
    p.add_argument("--json", action="store_true", help="print the metrics object as JSON")

    sub.add_parser("tasks", help="list installed tasks")
    sub.add_parser("models", help="list installed model adapters")

    p = sub.add_parser("leaderboard", help="collect metrics.json files into Markdown/CSV/HTML + radar chart")
    p.add_argument("--results", default="runs", help="folder searched for metrics.json (default: runs)")
    p.add_argument("--out", default="results/leaderboard", help="output folder (default: results/leaderboard)")

    p = sub.add_parser("compare", help="per-metric differences; exit 1 on a regression beyond tolerance")
    p.add_argument("baseline", help="metrics.json (or a folder of them)")
    p.add_argument("candidate", help="metrics.json (or a folder of them)")
    p.add_argument("--tolerance", action="append", default=[], metavar="METRIC=VALUE",
                   help="override a tolerance, e.g. wer=0.005 (repeatable)")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("generate", help="raw-prompt inference: CASES.jsonl (id, prompt) -> OUT.jsonl")
    p.add_argument("--model", default="qwen-audio", help="(default: qwen-audio)")
    _add_model_flags(p)
    p.add_argument("--prompts", required=True, help="JSONL with id and prompt; audio paths relative to it")
    p.add_argument("--out", required=True)
    p.add_argument("--max-new-tokens", type=int, required=True)
    p.add_argument("--min-new-tokens", type=int, default=1)
    p.add_argument("--batch-size", type=int, default=1)

    p = sub.add_parser("bench", help="speed: qa-eval's engine vs transformers generate, random weights")
    p.add_argument("--model", default="qwen-audio", help="(default: qwen-audio; the only one benchmarked)")
    p.add_argument("--random-weights", action="store_true",
                   help="random weights at --shape (the only mode: no checkpoint is read)")
    p.add_argument("--shape", default="tiny", choices=["tiny", "small", "full"],
                   help="tiny: toy; small: the CPU shape (8+8 layers, hidden 1024/320); full: real Qwen-Audio")
    p.add_argument("--batch-size", type=batch_size_arg, default=16,
                   help="(default: 16; 'auto' only with --end-to-end)")
    p.add_argument("--new-tokens", type=int, default=32, help="forced new tokens per clip (default: 32)")
    p.add_argument("--end-to-end", action="store_true",
                   help="time a whole evaluation instead: random checkpoint written in the original format, "
                        "--clips FLAC files (2620 = LibriSpeech test-clean's shape), qa-eval run's full path")
    p.add_argument("--workdir", help="--end-to-end: where the checkpoint, audio and runs are cached "
                                     "(default: ~/.cache/qa-eval/bench-e2e)")
    p.add_argument("--compile", action="store_true", help="--end-to-end: run with --compile")
    p.add_argument("--num-workers", type=int, help="--end-to-end: audio decoding processes (default: cores - 1, max 8)")
    p.add_argument("--clips", type=int, default=32, help="number of synthetic clips (default: 32)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default: auto)")
    p.add_argument("--dtype", default="auto", help="float32, bfloat16, float16 or auto")
    p.add_argument("--modes", default="engine,hf-single,hf-batched",
                   help="comma-separated subset of engine,engine-compiled,hf-single,hf-batched "
                        "(default: engine,hf-single,hf-batched)")
    p.add_argument("--ref-clips", type=int, default=2,
                   help="clips whose engine ids are checked against the no-cache reference path (default: 2)")
    p.add_argument("--out", help="write the result JSON here")

    p = sub.add_parser("data", help="data preparation")
    data_sub = p.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    d = data_sub.add_parser("prepare", help="build a manifest from a dataset's public release layout")
    d.add_argument("task")
    d.add_argument("--from", dest="raw", required=True, help="the unpacked release folder (or HF dataset folder)")
    d.add_argument("--out", required=True, help="manifest to write (.jsonl)")
    d.add_argument("--split", help="only this split / source")
    return parser


def cmd_run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    if args.launcher == "torchrun" and "WORLD_SIZE" not in os.environ:
        import subprocess

        from qa_eval.distributed import torchrun_command

        return subprocess.call(torchrun_command(argv, args.nproc_per_node))
    from qa_eval.adapter import ModelOptions
    from qa_eval.evaluate import RunRequest, evaluate
    from qa_eval.report import print_table

    device = resolve_device(args.device)
    options = ModelOptions(args.checkpoint, device, resolve_dtype(args.dtype, device), args.revision,
                           args.trust_remote_code, args.allow_pickle, args.compile)
    req = RunRequest(
        task=args.task, model=args.model, options=options, batch_size=args.batch_size,
        max_new_tokens=args.max_new_tokens, min_new_tokens=args.min_new_tokens,
        manifest=args.manifest, data_root=args.data_root, hf_dataset=args.hf_dataset,
        hf_split=args.hf_split, limit=args.limit, out_dir=args.out, results_dir=args.results,
        num_workers=args.num_workers, max_audio_s=args.max_audio_s,
        max_failed_fraction=args.max_failed, retry_failed=args.retry_failed, seed=args.seed,
        scorer=args.scorer, scorer_options=parse_options(args.scorer_option),
    )
    log = (lambda *a: print(*a, file=sys.stderr))
    main_rank = os.environ.get("RANK", "0") == "0"
    try:
        doc, out_dir = evaluate(req, log=log)
    finally:
        if main_rank and not args.no_leaderboard:
            _refresh_leaderboard(Path(args.results), log)
    if doc is None:  # a non-zero rank: rank 0 reports
        return 0
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        print_table([doc])
        print(f"\nwrote {out_dir}/predictions.jsonl and {out_dir}/metrics.json")
    return 0


def _refresh_leaderboard(results: Path, log) -> None:
    from qa_eval.leaderboard import write_leaderboard

    if results.is_dir():
        files = write_leaderboard(results, Path("results") / "leaderboard")
        log("leaderboard: " + ", ".join(str(f) for f in files))


def cmd_score(args: argparse.Namespace) -> int:
    from qa_eval.metrics import metrics_document, score_predictions
    from qa_eval.report import print_table
    from qa_eval.store import read_predictions, write_json_atomic

    task = registry.load("task", args.task)
    preds = read_predictions(Path(args.predictions))
    scored = score_predictions(task, preds, args.seed, scorer_name=args.scorer,
                               options=parse_options(args.scorer_option))
    doc = metrics_document(task, args.model, scored, {"predictions": args.predictions})
    if args.out:
        write_json_atomic(Path(args.out), doc)
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        print_table([doc])
    return 0


def cmd_list(kind: str) -> int:
    for name in registry.names(kind):
        obj = registry.load(kind, name)
        desc = getattr(obj, "description", "") or ""
        extra = f"  [{', '.join(obj.sources)}]" if kind == "task" else ""
        print(f"{name:20s} {desc}{extra}")
    return 0


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from qa_eval.leaderboard import write_leaderboard

    for f in write_leaderboard(Path(args.results), Path(args.out)):
        print(f)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from qa_eval.compare import compare_paths, parse_tolerances, print_comparison

    rows = compare_paths(Path(args.baseline), Path(args.candidate), parse_tolerances(args.tolerance))
    if args.json:
        print(json.dumps([r.__dict__ for r in rows], indent=2))
    else:
        print_comparison(rows)
    return 1 if any(r.regressed for r in rows) else 0


def cmd_generate(args: argparse.Namespace) -> int:
    if args.model not in ("qwen-audio", "qwen-audio-chat"):
        raise ConfigError("qa-eval generate supports --model qwen-audio (raw Qwen-Audio prompts)")
    from model_adapters.qwen_audio.raw_generate import generate_file

    device = resolve_device(args.device)
    n_failed = generate_file(args.checkpoint, args.prompts, args.out, args.max_new_tokens, args.min_new_tokens,
                             args.batch_size, device, resolve_dtype(args.dtype, device), args.allow_pickle,
                             args.compile)
    print(f"wrote {args.out}" + (f"; {n_failed} case(s) failed (see their 'error')" if n_failed else ""),
          file=sys.stderr)
    return 1 if n_failed else 0


def cmd_bench(args: argparse.Namespace) -> int:
    if args.model != "qwen-audio":
        raise ConfigError("qa-eval bench supports --model qwen-audio")
    if not args.random_weights:
        raise ConfigError("qa-eval bench needs --random-weights (benchmarks build random models at --shape)")
    device = resolve_device(args.device)
    log = (lambda *a: print(*a, file=sys.stderr))
    if args.end_to_end:
        from qa_eval.bench_e2e import run_end_to_end

        doc = run_end_to_end(args.shape, args.clips, args.batch_size, args.new_tokens, device,
                             resolve_dtype(args.dtype, device), args.workdir, args.compile, args.num_workers, log)
        print(json.dumps({k: v for k, v in doc.items() if k != "hardware"}, indent=2))
        if args.out:
            from qa_eval.store import write_json_atomic

            write_json_atomic(Path(args.out), doc)
        return 0 if doc["n_failed"] == 0 else 1
    if args.batch_size == "auto":
        raise ConfigError("qa-eval bench: --batch-size auto needs --end-to-end (the engine modes use a fixed size)")
    from qa_eval.bench import format_table, run_bench

    modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    try:
        doc = run_bench(args.shape, args.batch_size, args.new_tokens, args.clips, device,
                        resolve_dtype(args.dtype, device), modes, args.out, ref_clips=args.ref_clips, log=log)
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    print(format_table(doc))
    if args.out:
        print(f"\nwrote {args.out}")
    ok = doc["reference_check"]["equal"] in (True, None) and doc["compiled_ids_equal_engine"] in (True, None)
    return 0 if ok else 1


def cmd_data(args: argparse.Namespace) -> int:
    from qa_eval.prepare import prepare

    report = prepare(args.task, Path(args.raw), Path(args.out), args.split)
    print(report)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    commands = {
        "run": lambda a: cmd_run(a, argv), "score": cmd_score, "leaderboard": cmd_leaderboard, "compare": cmd_compare,
        "generate": cmd_generate, "data": cmd_data, "bench": cmd_bench,
        "tasks": lambda a: cmd_list("task"), "models": lambda a: cmd_list("model"),
    }
    try:
        return commands[args.command](args)
    except QaEvalError as exc:
        print(f"qa-eval: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("qa-eval: interrupted; predictions written so far are kept (rerun to resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
