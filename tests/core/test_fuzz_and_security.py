"""Fuzzing (hypothesis) of manifest lines and audio bytes, and the security guarantees."""

from __future__ import annotations

import pytest

import json
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa_eval.audio import load_audio, probe_duration
from qa_eval.errors import AudioError, ManifestError
from qa_eval.leaderboard import to_html
from qa_eval.manifest import load_manifest
from qa_eval.report import ResultRow

DATA = Path(__file__).resolve().parent.parent / "data"
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
manifest_rows = st.dictionaries(
    st.sampled_from(["audio", "gt", "source", "id", "question", "lang"]) | st.text(max_size=6),
    json_values, max_size=6,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(lines=st.lists(manifest_rows.map(json.dumps) | st.text(max_size=40), min_size=1, max_size=4))
def test_manifest_lines_load_or_fail_cleanly(tmp_path: Path, lines: list[str]) -> None:
    path = tmp_path / "fuzz.jsonl"
    path.write_text("\n".join(line.replace("\n", " ") for line in lines) + "\n")
    try:
        samples = load_manifest(path)
    except ManifestError as exc:
        assert str(path) in str(exc)  # the message names the file (and line)
        return
    for s in samples:  # whatever loads is well-formed; unreadable audio is recorded, not raised
        assert s.audio and all(isinstance(a, str) for a in s.audio)
        assert (s.duration_s is None) == (s.audio_error is not None)


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=4096), prefix=st.sampled_from([b"", b"RIFF", b"fLaC", b"ID3", b"OggS"]),
       suffix=st.sampled_from([".wav", ".flac", ".mp3", ".ogg"]))
def test_audio_bytes_decode_or_fail_cleanly(tmp_path: Path, data: bytes, prefix: bytes, suffix: str) -> None:
    path = tmp_path / f"fuzz{suffix}"
    path.write_bytes(prefix + data)
    try:
        wav = load_audio(path)
    except AudioError as exc:
        assert str(path) in str(exc)
    else:
        assert wav.dtype == np.float32 and wav.ndim == 1 and np.isfinite(wav).all()
    try:
        assert probe_duration(path) > 0
    except AudioError:
        pass


def test_real_file_with_corrupted_middle(tmp_path: Path) -> None:
    data = bytearray((DATA / "es.mp3").read_bytes())
    data[2000:6000] = bytes(4000)
    path = tmp_path / "broken.mp3"
    path.write_bytes(bytes(data))
    try:
        wav = load_audio(path)  # mp3 decoders skip bad frames: either finite audio or an AudioError
    except AudioError:
        return
    assert np.isfinite(wav).all()


def test_html_leaderboard_escapes_every_string() -> None:
    evil = '<script>alert("x")</script>'
    row = ResultRow(evil, "task&co", "src\"'", "wer", 0.1, None, None, 1, 0)
    page = to_html([row], None)
    assert "<script>" not in page and "&lt;script&gt;" in page and "task&amp;co" in page
