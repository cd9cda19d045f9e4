"""Manifests in the official Qwen-Audio shape: paths, ids, and errors that name file and line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from qa_eval.errors import ManifestError
from qa_eval.manifest import load_manifest

DATA = Path(__file__).resolve().parent.parent / "data"


def _write(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def test_official_shape_relative_paths_and_durations(tmp_path: Path) -> None:
    (tmp_path / "audio").mkdir()
    shutil.copy(DATA / "1272-128104-0000.flac", tmp_path / "audio" / "a.flac")
    m = _write(tmp_path / "librispeech_eval.jsonl", [
        {"audio": "audio/a.flac", "gt": "MISTER QUILTER", "source": "librispeech_dev_clean"},
        {"audio": "audio/missing.flac", "gt": "X", "source": "librispeech_dev_clean", "lang": "en"},
    ])
    s = load_manifest(m)
    assert s[0].audio == (str(tmp_path / "audio" / "a.flac"),)
    assert s[0].duration_s == pytest.approx(5.855, abs=0.01)
    assert s[0].id == "000001:audio/a.flac"  # derived from line number and audio path
    assert s[1].duration_s is None and "not found" in s[1].audio_error  # recorded, not fatal
    assert s[1].fields == {"lang": "en"}


def test_data_root_overrides_manifest_folder(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "audio").mkdir(parents=True)
    shutil.copy(DATA / "es.mp3", root / "audio" / "es.mp3")
    m = _write(tmp_path / "m.jsonl", [{"audio": "audio/es.mp3", "gt": "hola", "source": "s", "id": "x1"}])
    s = load_manifest(m, data_root=root)
    assert s[0].id == "x1" and s[0].audio_error is None


def test_caption_references_are_tuples(tmp_path: Path) -> None:
    m = _write(tmp_path / "m.jsonl", [{"audio": "a.wav", "gt": ["one", "two"], "source": "clotho"}])
    assert load_manifest(m)[0].reference == ("one", "two")


@pytest.mark.parametrize(
    "bad_line, message",
    [
        ("{not json", r"m.jsonl:2: not valid JSON"),
        ('{"gt": "x", "source": "s"}', r"m.jsonl:2: field 'audio' missing"),
        ('{"audio": "a.wav", "source": "s"}', r"m.jsonl:2: field 'gt' missing"),
        ('{"audio": "a.wav", "gt": 5, "source": "s"}', r"m.jsonl:2: 'gt' must be"),
        ('{"audio": "", "gt": "x", "source": "s"}', r"m.jsonl:2: 'audio' must be"),
        ('[1, 2]', r"m.jsonl:2: expected a JSON object"),
    ],
)
def test_bad_lines_name_file_and_line(tmp_path: Path, bad_line: str, message: str) -> None:
    m = _write(tmp_path / "m.jsonl", [{"audio": "a.wav", "gt": "x", "source": "s"}, bad_line])
    with pytest.raises(ManifestError, match=message):
        load_manifest(m)


def test_duplicate_ids_are_refused(tmp_path: Path) -> None:
    m = _write(tmp_path / "m.jsonl", [
        {"audio": "a.wav", "gt": "x", "source": "s", "id": "same"},
        {"audio": "b.wav", "gt": "y", "source": "s", "id": "same"},
    ])
    with pytest.raises(ManifestError, match=r"m.jsonl:2: duplicate id 'same' \(first at .*m.jsonl:1\)"):
        load_manifest(m)


def test_missing_source_uses_task_default_or_fails(tmp_path: Path) -> None:
    m = _write(tmp_path / "m.jsonl", [{"audio": "a.wav", "gt": "x"}])
    assert load_manifest(m, default_source="only")[0].source == "only"
    with pytest.raises(ManifestError, match="source"):
        load_manifest(m)


def test_missing_manifest(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="manifest not found"):
        load_manifest(tmp_path / "nope.jsonl")
