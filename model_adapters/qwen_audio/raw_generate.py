"""``generate_file``: raw-prompt greedy generation from a CASES.jsonl (backs ``qa-eval generate``).

CASES.jsonl: one object per line with ``id`` and ``prompt``; audio paths inside
``<audio>…</audio>`` are relative to the cases file's folder (or absolute).
OUT.jsonl: one object per case, in input order: ``id``, ``token_ids`` (new tokens only, cut
before the first end token), ``text`` (decoded, special tokens kept); a case that cannot run
gets ``token_ids`` null, ``text`` null and an ``error``. Batches go through the run loop's
`BatchRunner` (out-of-memory back-off, failing cases isolated) and are appended as they finish;
an existing OUT.jsonl is never overwritten.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from qa_eval import registry
from qa_eval.adapter import AudioInput, ModelOptions
from qa_eval.audio import load_audio
from qa_eval.errors import AudioError, ConfigError, ManifestError
from qa_eval.jsonl import iter_jsonl
from qa_eval.records import Generation, GenerationConfig, Sample
from qa_eval.run.loop import BatchRunner

from .tokenizer import QwenAudioTokenizer


def read_cases(path: Path) -> list[dict]:
    cases = []
    for where, _, row in iter_jsonl(path, ManifestError, "cases file"):
        if "id" not in row or not isinstance(row.get("prompt"), str):
            raise ManifestError(f"{where}: needs 'id' and a string 'prompt'")
        cases.append(row)
    return cases


def _input(case: dict, base: Path) -> AudioInput | Generation:
    """The case as a run-loop input, or the Generation saying why its audio cannot be read."""
    urls = QwenAudioTokenizer.audio_urls(case["prompt"])
    paths = tuple(str(u if Path(u).is_absolute() else base / u) for u in urls)
    try:
        waves = tuple(load_audio(p) for p in paths)
    except AudioError as exc:
        return Generation(None, str(exc))
    return AudioInput(Sample(str(case["id"]), "raw", paths, ""), case["prompt"], waves)


def _row(case_id: object, gen: Generation) -> dict:
    if gen.error is not None or gen.text is None:
        return {"id": case_id, "token_ids": None, "text": None, "error": gen.error or "no output"}
    return {"id": case_id, "token_ids": list(gen.token_ids or ()), "text": gen.text}


def generate_file(
    checkpoint: str, prompts_path: str, out_path: str, max_new_tokens: int, min_new_tokens: int = 1,
    batch_size: int = 1, device: str = "cpu", dtype: str = "float32", allow_pickle: bool = False,
    compile_step: bool = False, model: str = "qwen-audio",
) -> int:
    """Run every case; returns the number of cases that failed (0 = all written with text)."""
    config = GenerationConfig(max_new_tokens, min_new_tokens)
    if batch_size < 1:
        raise ConfigError(f"--batch-size must be >= 1, got {batch_size}")
    out = Path(out_path)
    if out.is_file() and out.stat().st_size > 0:
        raise ConfigError(f"{out} already exists; choose another --out (nothing is overwritten)")
    cases_path = Path(prompts_path)
    cases = read_cases(cases_path)
    adapter = registry.load("model", model)(ModelOptions(checkpoint, device, dtype, allow_pickle=allow_pickle,
                                                         compile=compile_step))
    adapter.load()
    runner = BatchRunner(adapter, config)
    out.parent.mkdir(parents=True, exist_ok=True)
    n_failed = 0
    with open(out, "a", encoding="utf-8") as f:
        for start in range(0, len(cases), batch_size):
            chunk = cases[start:start + batch_size]
            items = [_input(c, cases_path.parent) for c in chunk]
            ready = [x for x in items if isinstance(x, AudioInput)]
            decoded = iter(runner(ready) if ready else [])
            rows = [_row(c["id"], next(decoded) if isinstance(x, AudioInput) else x) for c, x in zip(chunk, items)]
            n_failed += sum(r.get("error") is not None for r in rows)
            f.write("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
            f.flush()
            os.fsync(f.fileno())
    return n_failed
