"""Loader of the official Qwen2-Audio goldens (see goldens/README.md for their derivation)."""

from __future__ import annotations

import json
from pathlib import Path

GOLDENS = Path(__file__).resolve().parent / "goldens"


def load(name: str) -> list[dict]:
    """The records of goldens/NAME, without the leading `_about` line."""
    lines = (GOLDENS / name).read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    assert rows and "_about" in rows[0], f"{name}: first line must say how it was derived"
    return rows[1:]
