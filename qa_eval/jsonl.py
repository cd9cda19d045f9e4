"""JSON-lines files (manifests, predictions, raw-generation cases), read the same way everywhere.

UTF-8 (a byte-order mark is accepted), one JSON object per line, blank lines skipped; every
problem is the caller's error type naming `file:line`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

BOM = b"\xef\xbb\xbf"


def json_object(line: str, where: str, error: type[Exception]) -> dict[str, Any]:
    """One line parsed as a JSON object, else `error` naming `where`."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as exc:
        raise error(f"{where}: not valid JSON ({exc.msg})") from None
    if not isinstance(row, dict):
        raise error(f"{where}: expected a JSON object, got {type(row).__name__}")
    return row


def iter_jsonl(path: Path, error: type[Exception], what: str = "file",
               skip_torn_tail: bool = False) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """(where, line number, object) per non-blank line of `path`. `skip_torn_tail`: a last line
    without its newline (a write cut by a crash) is left out instead of parsed."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise error(f"{path}: {what} not found") from None
    except OSError as exc:
        raise error(f"{path}: cannot read the {what} ({exc.strerror or exc})") from None
    lines = data.removeprefix(BOM).split(b"\n")
    if skip_torn_tail and lines and lines[-1]:
        lines = lines[:-1]
    for lineno, raw in enumerate(lines, start=1):
        where = f"{path}:{lineno}"
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise error(f"{where}: not UTF-8 text (byte {exc.start} of the line); save the {what} as UTF-8") from None
        if line.strip():
            yield where, lineno, json_object(line, where, error)
