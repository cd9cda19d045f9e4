"""Clotho-AQA audio question answering (exact-match accuracy, plus the yes/no subset).

Official eval list: `clothoaqa_eval.jsonl` with a `question` field per row (QwenLM/Qwen-Audio
evaluate_aqa.py puts the question inside the prompt).
Release layout (zenodo 6473207): `clotho_aqa_<split>.csv` (columns file_name, QuestionText,
answer, confidence; three annotator rows per question) and the audio in `audio_files/`.
Every annotator row becomes one manifest row (the answers of one question may differ); its id is
the release's `<csv name>:<line>`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from qa_eval.prepare import PrepareReport, Row, Skip, require_dir, write_manifest
from qa_eval.task import TaskSpec
from qa_eval.task_families import aqa_intent
from tasks._common import first_file, read_csv, split_file

SOURCE = "clothoaqa"


def prepare_clothoaqa(raw: Path, out: Path, split: str | None = None) -> PrepareReport:
    require_dir(raw, "a Clotho-AQA release")
    split = split or "test"
    table = split_file(raw, split, "clotho_aqa_{}.csv")
    audio_dirs = sorted(d for d in raw.rglob("audio_files") if d.is_dir()) + [table.parent]
    return write_manifest("clothoaqa", out, _clothoaqa_items(table, audio_dirs))


def _clothoaqa_items(table: Path, audio_dirs: list[Path]) -> Iterator[Row | Skip]:
    for lineno, row in enumerate(read_csv(table), start=2):
        question, answer = (row.get("QuestionText") or "").strip(), (row.get("answer") or "").strip()
        audio = first_file(audio_dirs, row["file_name"])
        if not question or not answer:
            yield Skip("empty question or answer", f"{table}:{lineno}")
        elif audio is None:
            yield Skip("audio file missing", row["file_name"])
        else:
            yield Row(audio, answer, SOURCE, {"id": f"{table.name}:{lineno}", "question": question})


CLOTHOAQA = TaskSpec(
    name="clothoaqa",
    description="Clotho-AQA audio question answering (accuracy; yes/no subset as acc_binary)",
    version="1",
    scorer="aqa-accuracy",
    max_new_tokens=4,
    sources=(SOURCE,),
    intent=aqa_intent("en"),
    paper={SOURCE: {"acc": 0.579, "acc_binary": 0.749}},
    manifest_name="clothoaqa_eval.jsonl",
    prepare=prepare_clothoaqa,
    hf_columns={"audio": "audio", "gt": "answer", "question": "question"},
    family="aqa",
)
