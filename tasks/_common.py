"""Small helpers shared by the task plugins' data preparation (no torch, no adapters, no scorers).

Prompt intents and the other family pieces live in qa_eval.task_families.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from pathlib import Path

from qa_eval.errors import ConfigError

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".m4a")


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


def missing_split(raw: Path, wanted: str, present: Iterable[str]) -> ConfigError:
    """The error for a split a release folder lacks, listing the splits it has."""
    have = sorted(set(present))
    return ConfigError(f"{raw}: no {wanted}; splits present: {', '.join(have) if have else 'none'}")


def split_file(raw: Path, split: str, pattern: str) -> Path:
    """The file named `pattern.format(split)` under `raw` (searched recursively); else a
    ConfigError listing the splits of the files named `pattern.format(ANY)`."""
    hits = sorted(raw.rglob(pattern.format(split)))
    if hits:
        return hits[0]
    prefix, suffix = pattern.split("{}")
    present = (p.name[len(prefix): len(p.name) - len(suffix)] for p in raw.rglob(pattern.format("*")))
    raise missing_split(raw, f"{pattern.format(split)} (split {split!r})", present)
