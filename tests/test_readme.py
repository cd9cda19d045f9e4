"""The README stays true to the code: its task-file examples are the files the tests load, its
commands exist, and its adapter table names registered adapters."""

from __future__ import annotations

import re
from pathlib import Path

from qa_eval import registry
from qa_eval.cli import build_parser

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_task_file_examples_are_the_committed_files() -> None:
    blocks = re.findall(r"```toml\n(.*?)```", README, flags=re.S)
    files = [(ROOT / "docs" / "examples" / name).read_text(encoding="utf-8") for name in ("my_srwt.toml", "inhouse_asr.toml")]
    assert [b.strip() for b in blocks] == [f.strip() for f in files]


def test_every_listed_command_exists() -> None:
    listed = set(re.findall(r"^    qa-eval ([a-z-]+)", README, flags=re.M))
    subparsers = next(a for a in build_parser()._actions if a.dest == "command")
    assert listed and listed <= set(subparsers.choices), listed - set(subparsers.choices)


def test_the_adapter_table_names_registered_adapters() -> None:
    table = README[README.index("| adapter | what |"):README.index("The `hf-audio-lm` family")]
    named = set(re.findall(r"`([a-z0-9.-]+)`", "\n".join(line.split("|")[1] for line in table.splitlines()[2:] if "|" in line)))
    assert named == set(registry.names("model")), named ^ set(registry.names("model"))
