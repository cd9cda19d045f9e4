"""Clotho audio captioning (CIDEr, SPICE, SPIDEr against five references).

Official eval list: `clotho_eval.jsonl` (QwenLM/Qwen-Audio eval_audio/EVALUATION.md;
evaluate_caption.py asks for the "clotho" caption style).
Release layout (zenodo 3490684 / 4783391): `clotho_captions_evaluation.csv` (columns file_name,
caption_1 .. caption_5) and the audio in `evaluation/<file_name>`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from qa_eval.prepare import PrepareReport, Row, Skip, require_dir, write_manifest
from qa_eval.task import TaskSpec
from qa_eval.task_families import caption_intent
from tasks._common import first_file, read_csv, split_file

SOURCE = "clotho"
N_CAPTIONS = 5


def prepare_clotho(raw: Path, out: Path, split: str | None = None) -> PrepareReport:
    """`clotho_captions_<split>.csv` + `<split>/` audio -> rows with a list of five references
    (id = the file name)."""
    require_dir(raw, "a Clotho release")
    split = split or "evaluation"
    captions = split_file(raw, split, "clotho_captions_{}.csv")
    audio_dirs = [d for d in raw.rglob(split) if d.is_dir()] + [captions.parent]
    return write_manifest("clotho", out, _clotho_items(captions, audio_dirs))


def _clotho_items(captions: Path, audio_dirs: list[Path]) -> Iterator[Row | Skip]:
    for lineno, row in enumerate(read_csv(captions), start=2):
        refs = [(row.get(f"caption_{k}") or "").strip() for k in range(1, N_CAPTIONS + 1)]
        audio = first_file(audio_dirs, row["file_name"])
        if not all(refs):
            yield Skip(f"fewer than {N_CAPTIONS} captions", f"{captions}:{lineno}")
        elif audio is None:
            yield Skip("audio file missing", row["file_name"])
        else:
            yield Row(audio, refs, SOURCE, {"id": row["file_name"]})


CLOTHO = TaskSpec(
    name="clotho",
    description="Clotho audio captioning (CIDEr, SPICE, SPIDEr; five references)",
    version="1",
    scorer="caption",
    max_new_tokens=30,
    sources=(SOURCE,),
    intent=caption_intent("clotho"),
    paper={SOURCE: {"cider": 0.441, "spice": 0.136, "spider": 0.288}},
    manifest_name="clotho_eval.jsonl",
    prepare=prepare_clotho,
    family="caption",
)
