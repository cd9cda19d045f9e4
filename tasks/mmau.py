"""MMAU test-mini: multiple-choice questions about sound, music and speech (scorer "mmau").

Release layout (github.com/Sakshi113/MMAU; audio from the MMAU-test-mini dataset on the
Hugging Face hub): `mmau-test-mini.json`, a JSON list of questions with `id`, `audio_id` (a
path relative to the JSON file, `./test-mini-audios/<id>.wav`), `question`, `choices` (option
texts), `answer` (the text of the right option), `task` (sound, music or speech), `category`
(Reasoning or Information Extraction), `sub-category`, `difficulty` and `dataset`; and the
folder `test-mini-audios/`. Only test-mini can be scored: the answers of MMAU's test split are
withheld.

Each question becomes one manifest row: `gt` = the answer, `question`, `choices`, and the fields
the official script reports accuracy for, named as the multiple-choice family reads them:
`category` = MMAU's `task`, `sub_category`, `difficulty`. MMAU's own `category` is kept as
`question_type` and `dataset` as is (neither is scored). Audio is looked up at `audio_id`
beside the JSON file, else by file name in any `test-mini-audios/` folder of the release.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from qa_eval.errors import ConfigError
from qa_eval.prepare import PrepareReport, Row, Skip, find_one, require_dir, write_manifest
from qa_eval.task import TaskSpec
from qa_eval.task_families import FAMILIES, choice_intent
from tasks._common import first_file, missing_split

SOURCE = "mmau_test_mini"
SPLIT = "test-mini"
RELEASE_JSON = "mmau-test-mini.json"
AUDIO_FOLDER = "test-mini-audios"
# MMAU field -> manifest field (the multiple-choice family's names), copied when present
RENAMED = {"task": "category", "sub-category": "sub_category", "difficulty": "difficulty",
           "category": "question_type", "dataset": "dataset"}


def prepare_mmau_test_mini(raw: Path, out: Path, split: str | None = None) -> PrepareReport:
    """`mmau-test-mini.json` + `test-mini-audios/` -> one row per question, id = MMAU's id."""
    require_dir(raw, f"an MMAU release ({RELEASE_JSON} and {AUDIO_FOLDER}/)")
    if split not in (None, SPLIT):
        raise missing_split(raw, f"MMAU {split} questions with answers (split {split!r})", [SPLIT])
    listing = find_one(raw, RELEASE_JSON, "the MMAU test-mini questions")
    questions = _read_list(listing)
    audio_dirs = [listing.parent, raw, *sorted(d for d in raw.rglob(AUDIO_FOLDER) if d.is_dir())]
    return write_manifest("mmau-test-mini", out, _items(listing, questions, audio_dirs))


def _read_list(path: Path) -> list[Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: not a JSON file ({exc})") from None
    if not isinstance(data, list):
        raise ConfigError(f"{path}: expected a JSON list of questions, got {type(data).__name__}")
    return data


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _items(listing: Path, questions: list[Any], audio_dirs: list[Path]) -> Iterator[Row | Skip]:
    for k, item in enumerate(questions):
        where = f"{listing}[{k}]"
        if not isinstance(item, dict):
            yield Skip("not a JSON object", where)
            continue
        choices = item.get("choices")
        if not (_is_text(item.get("question")) and _is_text(item.get("answer"))):
            yield Skip("empty question or answer", where)
        elif not (isinstance(choices, list) and len(choices) >= 2 and all(_is_text(c) for c in choices)):
            yield Skip("fewer than two option texts in 'choices'", where)
        else:
            audio = _audio(item.get("audio_id"), audio_dirs)
            if audio is None:
                yield Skip("audio file missing", item.get("audio_id") or where)
            else:
                yield Row(audio, item["answer"], SOURCE, _fields(item, audio))


def _audio(audio_id: Any, audio_dirs: list[Path]) -> Path | None:
    if not _is_text(audio_id):
        return None
    return first_file(audio_dirs, audio_id) or first_file(audio_dirs, Path(audio_id).name)


def _fields(item: dict[str, Any], audio: Path) -> dict[str, Any]:
    fields: dict[str, Any] = {"id": str(item.get("id") or audio.stem), "question": item["question"],
                              "choices": list(item["choices"])}
    fields.update({ours: item[theirs] for theirs, ours in RENAMED.items() if _is_text(item.get(theirs))})
    return fields


MMAU_TEST_MINI = TaskSpec(
    name="mmau-test-mini",
    description="MMAU test-mini multiple-choice audio understanding (accuracy, per category)",
    version="1",
    scorer="mmau",
    max_new_tokens=FAMILIES["multiple-choice"].max_new_tokens,
    sources=(SOURCE,),
    intent=choice_intent("en"),
    prepare=prepare_mmau_test_mini,
    family="multiple-choice",
)
