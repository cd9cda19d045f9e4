"""The `qa-eval` command line: parses flags into records, calls the engine, prints one line per error.

Core commands are defined here; plugins add theirs through the `qa_eval.commands` entry-point
group (see `qa_eval.commands`). Every mistake a user can make ends as one `qa-eval: error:` line
with exit code 2, before any model loads where it can be found that early.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from pathlib import Path
from typing import Sequence

from qa_eval import __version__, registry
from qa_eval.commands import add_model_flags, batch_size_arg, fraction, key_values, model_options, \
    non_negative_int, positive_float, positive_int
from qa_eval.errors import QaEvalError
from qa_eval.run.request import DEFAULT_BATCH_SIZE, DEFAULT_MAX_FAILED_FRACTION, DEFAULT_NUM_WORKERS, \
    DEFAULT_RESULTS_DIR

LEADERBOARD_DIR = Path("results") / "leaderboard"
EPILOG = """\
examples:
  qa-eval run --task librispeech-sample --model whisper-tiny.en
  qa-eval run --task librispeech --model qwen-audio --checkpoint /models/Qwen-Audio \\
      --data-root /data/qwen_audio_eval --device cuda --batch-size 32
  qa-eval run --task-file my_task.toml --model qwen-audio --manifest my_data.jsonl
  qa-eval score --task librispeech --predictions runs/librispeech/.../predictions.jsonl --json
  qa-eval leaderboard --results runs --out results/leaderboard
  qa-eval paper-table --results runs --out results/paper
  qa-eval compare baseline/metrics.json runs/.../metrics.json
"""
# Third-party deprecation warnings a user cannot act on (message regexes).
SILENCED_WARNINGS = (
    r".*past_key_values.*",
    r".*`resume_download` is deprecated.*",
)


def parse_options(items: Sequence[str]) -> dict[str, object]:
    """--scorer-option KEY=VALUE pairs; VALUE parsed as JSON when it is JSON, else kept as a string."""
    out: dict[str, object] = {}
    for key, value in key_values(items, "--scorer-option").items():
        try:
            out[key] = json.loads(value)
        except json.JSONDecodeError:
            out[key] = value
    return out


def _add_task_flags(p: argparse.ArgumentParser) -> None:
    task = p.add_mutually_exclusive_group(required=True)
    task.add_argument("--task", help="task name (see `qa-eval tasks`)")
    task.add_argument("--task-file", help="a task declared in a TOML file (see the README: custom tasks)")


def _add_scorer_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--scorer", help="score with this scorer instead of the task's (e.g. wer-normalized)")
    p.add_argument("--scorer-option", action="append", default=[], metavar="KEY=VALUE",
                   help="scorer option, e.g. first_segment=prepend-prompt-timestamp (srwt), "
                        "label_normalization=lower-strip, spice_dir=/jars (repeatable; VALUE is JSON or a string)")
    p.add_argument("--seed", type=int, default=0, help="seed of the bootstrap intervals (default 0)")


def _add_run_parser(sub) -> None:
    p = sub.add_parser("run", help="generate predictions for a task with a model, then score them")
    _add_task_flags(p)
    p.add_argument("--model", required=True, help="model adapter name (see `qa-eval models`)")
    add_model_flags(p)
    p.add_argument("--manifest", help="JSONL manifest (official Qwen-Audio shape); default: the task's")
    p.add_argument("--data-root", help="folder holding the official eval lists and audio "
                   "(relative audio paths resolve against it)")
    p.add_argument("--hf-dataset", help="Hugging Face dataset: a local folder or a hub id")
    p.add_argument("--hf-split", default="test", help="split of --hf-dataset (default: test)")
    p.add_argument("--hf-config", help="configuration of --hf-dataset (e.g. 'clean' of librispeech_asr)")
    p.add_argument("--hf-source", help="the task source the dataset split is (default: from the task, "
                   "or the dataset's 'source' column)")
    p.add_argument("--batch-size", type=batch_size_arg, default=DEFAULT_BATCH_SIZE,
                   help="samples per batch, or 'auto': as many as the device's free memory allows for "
                        f"each batch's clip lengths (adapters with a memory estimate; default: {DEFAULT_BATCH_SIZE}); "
                        "with --backend vllm: the chunk handed to the engine and stored at once (auto: 256)")
    p.add_argument("--max-audio-s", type=positive_float, help="also cap a batch at this many padded audio seconds")
    p.add_argument("--max-new-tokens", type=positive_int, help="override the task's generation budget")
    p.add_argument("--min-new-tokens", type=non_negative_int,
                   help="(default: the model family's official recipe: 1 for Qwen-Audio, Qwen2-Audio and "
                        "Whisper as their eval scripts, 0 for the chat models of hf-audio-lm as their model cards)")
    p.add_argument("--limit", type=positive_int, help="only the first N samples (predictions already stored for "
                   "other samples are kept; a replaced metrics.json is kept under previous/)")
    p.add_argument("--out", help="run folder (default: RESULTS/TASK/MODEL-FINGERPRINT)")
    p.add_argument("--results", default=DEFAULT_RESULTS_DIR, help=f"results folder (default: ./{DEFAULT_RESULTS_DIR})")
    p.add_argument("--num-workers", type=non_negative_int, default=DEFAULT_NUM_WORKERS,
                   help=f"audio decoding processes (0: inline; default {DEFAULT_NUM_WORKERS})")
    p.add_argument("--max-failed", type=fraction, default=DEFAULT_MAX_FAILED_FRACTION,
                   help=f"fail (exit 3) when more than this fraction of samples failed (default {DEFAULT_MAX_FAILED_FRACTION})")
    p.add_argument("--retry-failed", action="store_true", help="on resume, run failed samples again")
    _add_scorer_flags(p)
    p.add_argument("--no-leaderboard", action="store_true", help=f"do not rewrite {LEADERBOARD_DIR}")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--launcher", choices=["none", "torchrun"], default="none",
                   help="torchrun: start --nproc-per-node processes (torch.distributed; same predictions "
                        "as one process). Equivalent: torchrun --nproc-per-node N -m qa_eval run ...")
    p.add_argument("--nproc-per-node", type=positive_int, default=2, help="processes for --launcher torchrun (default 2)")
    p.add_argument("--json", action="store_true", help="print metrics.json instead of the table")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="qa-eval",
        description="Evaluate audio-language models on the Qwen-Audio paper's benchmarks.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"qa-eval {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_run_parser(sub)

    p = sub.add_parser("score", help="score a predictions file (no model, no GPU, no network)")
    _add_task_flags(p)
    p.add_argument("--predictions", required=True, help="predictions.jsonl")
    p.add_argument("--out", help="write metrics.json here")
    p.add_argument("--model", help="model name to record (default: the model of the run.json beside the "
                   "predictions, else 'unknown')")
    _add_scorer_flags(p)
    p.add_argument("--json", action="store_true", help="print the metrics object as JSON")

    sub.add_parser("tasks", help="list installed tasks (and task files in $QA_EVAL_TASKS_DIR)")
    sub.add_parser("models", help="list installed model adapters")

    p = sub.add_parser("leaderboard", help="collect metrics.json files into Markdown/CSV/HTML + radar chart")
    p.add_argument("--results", default=DEFAULT_RESULTS_DIR, help="folder searched for metrics.json (default: runs)")
    p.add_argument("--out", default=str(LEADERBOARD_DIR), help=f"output folder (default: {LEADERBOARD_DIR})")

    p = sub.add_parser("paper-table", help="a paper's results table with your models as extra columns, and its radar")
    p.add_argument("--paper",
                   help="qwen-audio: the Qwen-Audio paper's Table 3 and Figure 1 (default); qwen2-audio: the "
                        "Qwen2-Audio report's table and radar")
    p.add_argument("--results", default=DEFAULT_RESULTS_DIR, help="folder searched for metrics.json (default: runs)")
    p.add_argument("--out", help="output folder (default: results/paper for qwen-audio, results/paper-PAPER otherwise)")

    p = sub.add_parser("compare", help="per-metric differences with paired 95%% intervals; exit 1 on a "
                       "regression, 2 when the two results are not comparable")
    p.add_argument("baseline", help="metrics.json (or a folder of them)")
    p.add_argument("candidate", help="metrics.json (or a folder of them)")
    p.add_argument("--tolerance", action="append", default=[], metavar="METRIC=VALUE",
                   help="override a tolerance, e.g. wer=0.005 (repeatable)")
    p.add_argument("--fail-on", choices=["tolerance", "significant", "both"], default="tolerance",
                   help="which regressions fail: worse beyond the tolerance (default), significantly worse "
                        "(the paired bootstrap 95%% interval of the difference lies on the worse side of 0), "
                        "or both at once")
    p.add_argument("--allow-different-data", action="store_true",
                   help="compare even when the two runs scored different data (sample counts, digests)")
    p.add_argument("--format", choices=["text", "markdown", "json"], default="text",
                   help="text (default), a Markdown summary for a pull-request comment, or JSON")
    p.add_argument("--json", action="store_true", help="same as --format json")
    p.add_argument("--seed", type=int, default=0, help="seed of the paired bootstrap (default 0)")

    p = sub.add_parser("data", help="data preparation")
    data_sub = p.add_subparsers(dest="data_command", required=True, metavar="ACTION")
    d = data_sub.add_parser("prepare", help="build a manifest from a dataset's public release layout")
    d.add_argument("task")
    d.add_argument("--from", dest="raw", required=True, help="the unpacked release folder (or HF dataset folder)")
    d.add_argument("--out", required=True, help="manifest to write (.jsonl)")
    d.add_argument("--split", help="only this split / source")
    d.add_argument("--hf-config", help="configuration of a Hugging Face dataset")

    for name in registry.names("command"):
        command = registry.load("command", name)
        command.add_arguments(sub.add_parser(name, help=command.help))
    return parser


def cmd_run(args: argparse.Namespace, argv: Sequence[str]) -> int:
    if args.launcher == "torchrun" and "WORLD_SIZE" not in os.environ:
        import subprocess

        from qa_eval.distributed import torchrun_command

        return subprocess.call(torchrun_command(argv, args.nproc_per_node))
    from qa_eval.report import print_table
    from qa_eval.run import RunRequest, evaluate
    from qa_eval.run.evaluate import stderr_log
    from qa_eval.store import check_writable

    req = RunRequest(
        task=args.task or "", task_file=args.task_file, model=args.model, options=model_options(args),
        batch_size=args.batch_size, max_new_tokens=args.max_new_tokens, min_new_tokens=args.min_new_tokens,
        manifest=args.manifest, data_root=args.data_root, hf_dataset=args.hf_dataset, hf_split=args.hf_split,
        hf_config=args.hf_config, hf_source=args.hf_source, limit=args.limit, out_dir=args.out,
        results_dir=args.results, num_workers=args.num_workers, max_audio_s=args.max_audio_s,
        max_failed_fraction=args.max_failed, retry_failed=args.retry_failed, seed=args.seed,
        scorer=args.scorer, scorer_options=parse_options(args.scorer_option), show_progress=not args.no_progress,
    )
    main_rank = os.environ.get("RANK", "0") == "0"
    leaderboard = main_rank and not args.no_leaderboard
    if leaderboard:
        check_writable(LEADERBOARD_DIR, "leaderboard folder (or pass --no-leaderboard)")
    doc, out_dir = evaluate(req, log=stderr_log)  # a failed run raises: the leaderboard stays as it was
    if leaderboard:
        _refresh_leaderboard(Path(args.results))
    if doc is None:  # a non-zero rank: rank 0 reports
        return 0
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        print_table([doc])
        print(f"\nwrote {out_dir / 'predictions.jsonl'} and {out_dir / 'metrics.json'}")
    return 0


def _refresh_leaderboard(results: Path) -> None:
    from qa_eval.leaderboard import write_leaderboard

    if results.is_dir():
        try:
            files = write_leaderboard(results, LEADERBOARD_DIR)
        except (OSError, QaEvalError) as exc:
            print(f"qa-eval: warning: leaderboard not refreshed: {exc}", file=sys.stderr)
            return
        print("leaderboard: " + ", ".join(str(f) for f in files), file=sys.stderr)


def cmd_score(args: argparse.Namespace) -> int:
    from qa_eval.metrics import metrics_document, score_predictions
    from qa_eval.report import print_table
    from qa_eval.run.plan import load_task
    from qa_eval.store import check_writable, read_predictions, read_run_info, write_json_atomic

    task = load_task(args.task, args.task_file)
    if args.out:
        check_writable(Path(args.out).parent, "folder of --out")
    predictions = Path(args.predictions).resolve()
    preds = read_predictions(predictions)
    scored = score_predictions(task, preds, args.seed, scorer_name=args.scorer,
                               options=parse_options(args.scorer_option))
    run = read_run_info(predictions.parent)  # the run that made the predictions, when they sit in its folder
    meta = {"predictions": str(predictions), "model_id": run.get("checkpoint"), "revision": run.get("revision"),
            **{k: run[k] for k in ("fingerprint", "data_sha256", "prompt_hash", "dtype", "libraries") if k in run}}
    doc = metrics_document(task, args.model or run.get("model") or "unknown", scored, meta)
    if args.out:
        write_json_atomic(Path(args.out), doc)
    if args.json:
        print(json.dumps(doc, indent=2, ensure_ascii=False))
    else:
        print_table([doc])
    return 0


def cmd_list(kind: str) -> int:
    items = [(name, registry.load(kind, name)) for name in registry.names(kind)]
    if kind == "task":
        from qa_eval.task_file import default_tasks_dir, task_files_in

        items += [(t.name, t) for t in task_files_in(default_tasks_dir())]
    installed = set(registry.names(kind))
    for name, obj in items:
        desc = getattr(obj, "description", "") or ""
        extra = f"  [{', '.join(obj.sources)}]" if kind == "task" else ""
        origin = getattr(obj, "origin", None)
        origin = "" if not origin else f"  ({origin}{'; ignored: an installed task has this name' if name in installed else ''})"
        print(f"{name:20s} {desc}{extra}{origin}")
        for option in getattr(obj, "options_declared", ()) if kind == "model" else ():
            print(f"{'':20s}   --model-option {option.describe()}")
        if kind == "model" and len(getattr(obj, "backends", ())) > 1:
            print(f"{'':20s}   --backend {'|'.join(obj.backends)}")
    return 0


def cmd_leaderboard(args: argparse.Namespace) -> int:
    from qa_eval.leaderboard import write_leaderboard
    from qa_eval.results import results_folder
    from qa_eval.store import check_writable

    results_folder(Path(args.results))
    check_writable(Path(args.out), "--out folder")
    for f in write_leaderboard(Path(args.results), Path(args.out)):
        print(f)
    return 0


def cmd_paper_table(args: argparse.Namespace) -> int:
    from qa_eval.paper import DEFAULT_PAPER, write_paper_table
    from qa_eval.paper.data import paper_file
    from qa_eval.results import results_folder
    from qa_eval.store import check_writable

    paper = args.paper or DEFAULT_PAPER
    paper_file(paper)  # an unknown --paper fails before anything is read
    out = Path(args.out or ("results/paper" if paper == DEFAULT_PAPER else f"results/paper-{paper}"))
    results_folder(Path(args.results))
    check_writable(out, "--out folder")
    for f in write_paper_table(Path(args.results), out, paper):
        print(f)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from qa_eval.compare import compare_paths, markdown_comparison, print_comparison

    rows = compare_paths(Path(args.baseline), Path(args.candidate), args.tolerance, args.allow_different_data,
                         args.fail_on, args.seed)
    fmt = "json" if args.json else args.format
    if fmt == "json":
        print(json.dumps([r.to_dict() for r in rows], indent=2))
    elif fmt == "markdown":
        print(markdown_comparison(rows, args.fail_on), end="")
    else:
        print_comparison(rows)
    return 1 if any(r.regressed for r in rows) else 0


def cmd_data(args: argparse.Namespace) -> int:
    from qa_eval.prepare import prepare

    print(prepare(args.task, Path(args.raw), Path(args.out), args.split, args.hf_config))
    return 0


def _one_line_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Warnings as one `qa-eval: warning:` line (no file path, no source line)."""
    name = "" if category.__module__.startswith("qa_eval") else f"{category.__name__}: "
    print(f"qa-eval: warning: {name}{message}", file=file or sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    warnings.showwarning = _one_line_warning
    for pattern in SILENCED_WARNINGS:
        warnings.filterwarnings("ignore", message=pattern)
    commands = {
        "run": lambda a: cmd_run(a, argv), "score": cmd_score, "leaderboard": cmd_leaderboard,
        "paper-table": cmd_paper_table, "compare": cmd_compare, "data": cmd_data,
        "tasks": lambda a: cmd_list("task"), "models": lambda a: cmd_list("model"),
    }
    try:
        args = build_parser().parse_args(argv)
        run = commands.get(args.command) or registry.load("command", args.command).run
        return run(args)
    except QaEvalError as exc:
        print(f"qa-eval: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("qa-eval: interrupted; predictions written so far are kept (rerun to resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
