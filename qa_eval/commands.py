"""Sub-commands that plugins add to `qa-eval`, and the flag helpers every command shares.

A plugin package registers a `Command` in the `qa_eval.commands` entry-point group (the
Qwen-Audio adapter adds `bench` and `generate` this way); the CLI builds one sub-parser per
registered command and calls its `run`. Flag parsers here turn bad values into one-line
argparse errors, so nothing is checked late.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Callable, Sequence

from qa_eval.adapter import BACKENDS, ModelOptions
from qa_eval.device import resolve_device, resolve_dtype
from qa_eval.errors import ConfigError


@dataclass(frozen=True)
class Command:
    """One `qa-eval NAME` sub-command contributed by a plugin."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]  # returns the exit code


def positive_int(value: str) -> int:
    return _number(value, int, lambda n: n >= 1, "a positive integer")


def non_negative_int(value: str) -> int:
    return _number(value, int, lambda n: n >= 0, "an integer >= 0")


def positive_float(value: str) -> float:
    return _number(value, float, lambda x: x > 0, "a number above 0")


def fraction(value: str) -> float:
    return _number(value, float, lambda x: 0.0 <= x <= 1.0, "a fraction between 0 and 1")


def batch_size_arg(value: str) -> int | str:
    """--batch-size: a positive integer or "auto"."""
    if value == "auto":
        return value
    return _number(value, int, lambda n: n >= 1, "a positive integer or 'auto'")


def _number(value: str, kind: type, ok: Callable[[float], bool], what: str):
    try:
        n = kind(value)
    except ValueError:
        n = None
    if n is None or n != n or not ok(n):  # n != n: NaN
        raise argparse.ArgumentTypeError(f"expected {what}, got {value!r}")
    return n


def key_values(items: Sequence[str], flag: str) -> dict[str, str]:
    """KEY=VALUE items of a repeatable flag; ConfigError naming the flag for a malformed one."""
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"{flag} expects KEY=VALUE, got {item!r}")
        out[key] = value
    return out


def add_model_flags(p: argparse.ArgumentParser, compile_help: str | None = None, backends: bool = True) -> None:
    """--checkpoint, --revision, --device, --dtype, the safety opt-ins, and (`backends`)
    --backend and --tensor-parallel-size."""
    p.add_argument("--checkpoint", help="local checkpoint folder or hub id (default: the adapter's)")
    p.add_argument("--revision", help="model revision to record / load (hub models)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N, mps or auto (default: auto)")
    p.add_argument("--dtype", default="auto", help="float32, bfloat16, float16 or auto "
                   "(auto: bfloat16 on CUDA, float32 elsewhere)")
    p.add_argument("--trust-remote-code", action="store_true",
                   help="allow a hub checkpoint's own Python code to run (off by default)")
    p.add_argument("--allow-pickle", action="store_true",
                   help="accept pickle (.bin) weights; only safetensors are read by default")
    p.add_argument("--model-option", action="append", default=[], metavar="NAME=VALUE",
                   help="an option the model adapter declares (repeatable; `qa-eval models` lists each "
                        "adapter's options)")
    if backends:
        add_backend_flags(p)
    p.add_argument("--compile", action="store_true",
                   help=compile_help or "torch.compile the per-token decode step (CUDA graphs on CUDA; "
                                        "qwen-audio, qwen-audio-chat); the first batches of each shape pay "
                                        "the compilation")


def add_backend_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--backend", default="default", choices=BACKENDS,
                   help="default: the adapter's own generation (transformers generate, the native engine); "
                        "vllm: an offline vLLM engine with continuous batching (the adapters `qa-eval models` "
                        "lists with --backend default|vllm; needs vLLM installed, see README)")
    p.add_argument("--tensor-parallel-size", type=positive_int, default=1,
                   help="split the model over N GPUs (--backend vllm; default 1)")


def model_options(args: argparse.Namespace) -> ModelOptions:
    """ModelOptions from the model flags, with device and dtype resolved (and checked) once."""
    device = resolve_device(args.device)
    extra = key_values(args.model_option, "--model-option")
    return ModelOptions(args.checkpoint, device, resolve_dtype(args.dtype, device), args.revision,
                        args.trust_remote_code, args.allow_pickle, args.compile, extra,
                        getattr(args, "backend", "default"), getattr(args, "tensor_parallel_size", 1))
