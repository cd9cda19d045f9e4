"""Small helpers shared by the task plugins (no torch, no adapters, no scorers)."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from qa_eval.errors import ConfigError

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".m4a")
_CJK = re.compile(r"[\u4e00-\u9fff]")


def sample_lang(fields: Mapping[str, Any], default: str) -> str:
    """The `lang` field of a sample's manifest row, else `default`."""
    lang = fields.get("lang")
    return str(lang) if lang else default


def guess_text_lang(text: str) -> str:
    """"zh" when the text holds CJK characters, else "en" (for manifests without `lang`)."""
    return "zh" if _CJK.search(text) else "en"


def audio_files(root: Path) -> Iterator[Path]:
    """Every audio file under `root`, in sorted order."""
    for p in sorted(root.rglob("*")):
        if p.suffix.lower() in AUDIO_SUFFIXES and p.is_file():
            yield p


def first_file(folders: Iterable[Path], name: str) -> Path | None:
    """`folder / name` for the first of `folders` where that file exists, else None."""
    return next((d / name for d in folders if (d / name).is_file()), None)


def read_csv(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    """Rows of a CSV/TSV file with a header line (utf-8, BOM tolerated, no quoting for TSV)."""
    with open(path, encoding="utf-8-sig", newline="") as f:
        if delimiter == "\t":
            reader = csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE)
        else:
            reader = csv.DictReader(f, delimiter=delimiter)
        return [dict(row) for row in reader]


def pick_split(split: str | None, choices: dict[str, str], what: str) -> dict[str, str]:
    """Restrict a {split name: source} table to `split` (a split name or a source), if given."""
    if split is None:
        return choices
    for name, source in choices.items():
        if split in (name, source):
            return {name: source}
    raise ConfigError(f"{what}: unknown split {split!r}; choose one of {sorted(choices)}")
