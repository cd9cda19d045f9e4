"""``generate_file``: raw-prompt greedy generation from a CASES.jsonl (backs ``qa-eval generate``).

CASES.jsonl: one object per line with ``id`` and ``prompt``; audio paths inside
``<audio>…</audio>`` are relative to the cases file's folder (or absolute).
OUT.jsonl: one object per case, in input order: ``id``, ``token_ids`` (new tokens only, cut
before the first <|endoftext|>), ``text`` (decoded, special tokens kept); a case that cannot
run gets ``token_ids`` null, ``text`` null and an ``error``.
"""

from __future__ import annotations

import json
from pathlib import Path

from qa_eval.errors import AdapterError, AudioError, ConfigError, ManifestError

from .pipeline import PreparedPrompt, QwenAudioPipeline
from .tokenizer import QwenAudioTokenizer


def _read_cases(path: Path) -> list[dict]:
    if not path.is_file():
        raise ManifestError(f"{path}: cases file not found")
    cases = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            raise ManifestError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
        if not isinstance(row, dict) or "id" not in row or not isinstance(row.get("prompt"), str):
            raise ManifestError(f"{path}:{lineno}: needs 'id' and a string 'prompt'")
        cases.append(row)
    return cases


def generate_file(
    checkpoint: str,
    prompts_path: str,
    out_path: str,
    max_new_tokens: int,
    min_new_tokens: int = 1,
    batch_size: int = 1,
    device: str = "cpu",
    dtype: str = "float32",
    allow_pickle: bool = False,
    compile_step: bool = False,
) -> int:
    """Run every case; returns the number of cases that failed (0 = all written with text)."""
    from qa_eval.audio import load_audio

    if max_new_tokens < 1 or not 0 <= min_new_tokens <= max_new_tokens or batch_size < 1:
        raise ConfigError("need max_new_tokens >= 1, 0 <= min_new_tokens <= max_new_tokens, batch_size >= 1")
    cases_path = Path(prompts_path)
    cases = _read_cases(cases_path)
    pipe = QwenAudioPipeline.from_checkpoint(checkpoint, device, dtype, allow_pickle, compile_step)
    base = cases_path.parent
    rows: list[dict | None] = [None] * len(cases)
    ready: list[tuple[int, PreparedPrompt]] = []
    for i, case in enumerate(cases):
        try:
            urls = QwenAudioTokenizer.audio_urls(case["prompt"])
            waves = [load_audio(u if Path(u).is_absolute() else base / u) for u in urls]
            ready.append((i, pipe.prepare(case["prompt"], waves)))
        except (AdapterError, AudioError) as exc:
            rows[i] = {"id": case["id"], "token_ids": None, "text": None, "error": str(exc)}
    for s in range(0, len(ready), batch_size):
        chunk = ready[s : s + batch_size]
        try:
            outs = pipe.run([p for _, p in chunk], max_new_tokens, min_new_tokens)
        except (AdapterError, RuntimeError) as exc:
            for i, _ in chunk:
                rows[i] = {"id": cases[i]["id"], "token_ids": None, "text": None, "error": str(exc)}
            continue
        for (i, _), out in zip(chunk, outs):
            rows[i] = {"id": cases[i]["id"], "token_ids": out.token_ids, "text": out.text}
    Path(out_path).parent.mkdir(parents=True, exist_ok=True)
    with open(out_path, "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return sum(1 for r in rows if r is not None and r.get("error"))
