"""The prediction store: whole-line appends, torn tails after a crash, fingerprint changes."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from qa_eval.errors import ConfigError, ScorerError
from qa_eval.records import Prediction
from qa_eval.store import PredictionStore, check_writable, merge_ordered, read_predictions


def _pred(i: int, text: str | None = "hello", error: str | None = None) -> Prediction:
    return Prediction(f"id{i}", "src", "hello", text, error, {"lang": "en"})


def test_append_resume_and_torn_tail(tmp_path: Path) -> None:
    store = PredictionStore(tmp_path, "fp1", {})
    store.append([_pred(0), _pred(1)])
    store.close()
    with open(tmp_path / "predictions.jsonl", "a") as f:  # a write cut by SIGKILL
        f.write('{"id": "id2", "source": "sr')
    store = PredictionStore(tmp_path, "fp1", {})
    assert [p.id for p in store.done()] == ["id0", "id1"]
    store.append([_pred(2)])
    store.close()
    rows = [json.loads(line) for line in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert [r["id"] for r in rows] == ["id0", "id1", "id2"]
    assert rows[0]["lang"] == "en" and rows[0]["error"] is None


def test_changed_fingerprint_starts_a_new_file(tmp_path: Path) -> None:
    store = PredictionStore(tmp_path, "a" * 64, {})
    store.append([_pred(0)])
    store.close()
    store = PredictionStore(tmp_path, "b" * 64, {})
    assert store.done() == []
    store.close()
    assert (tmp_path / ("a" * 12 + ".predictions.jsonl")).is_file()  # kept aside, not mixed
    assert json.loads((tmp_path / "run.json").read_text())["fingerprint"] == "b" * 64


def test_failed_prediction_round_trip(tmp_path: Path) -> None:
    store = PredictionStore(tmp_path, "fp", {})
    store.append([_pred(0, None, "audio file not found")])
    store.close()
    (p,) = read_predictions(tmp_path / "predictions.jsonl")
    assert p.failed and p.prediction is None and p.error == "audio file not found"


@pytest.mark.parametrize(
    "line, message",
    [
        ('{"id": "a", "source": "s"}', "field 'reference' missing"),
        ('{"id": "a", "source": "s", "reference": 3, "prediction": "x"}', "'reference' must be"),
        ('{"id": "a", "source": "s", "reference": "r", "prediction": 7}', "'prediction' must be"),
        ('{"id": "a", "source": "s", "reference": "r", "prediction": null}', "no 'error' says why"),
        ("nope", "not valid JSON"),
    ],
)
def test_bad_prediction_lines_name_the_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "p.jsonl"
    path.write_text(_pred(0).to_json() + "\n" + line + "\n")
    with pytest.raises(ScorerError, match=rf"p.jsonl:2: .*{message}"):
        read_predictions(path)


def test_merge_keeps_manifest_order_without_duplicates() -> None:
    preds = [_pred(2), _pred(0), _pred(2, "again")]
    merged = merge_ordered(preds, ["id0", "id1", "id2"])
    assert [p.id for p in merged] == ["id0", "id2"] and merged[1].prediction == "again"


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_unwritable_output_folder(tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    with pytest.raises(ConfigError, match="not writable"):
        check_writable(ro / "run")


def test_output_path_that_is_a_file(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match="not writable"):
        check_writable(tmp_path / "f" / "run")


def test_full_disk_is_refused_before_the_run(tmp_path: Path, monkeypatch) -> None:
    """A disk with less free space than the floor is refused up front (the floor is raised
    above this disk's real free space, so the check runs against the real filesystem)."""
    import shutil

    import qa_eval.store as store

    monkeypatch.setattr(store, "MIN_FREE_BYTES", shutil.disk_usage(tmp_path).free + 2**40)
    with pytest.raises(ConfigError, match="MiB free"):
        check_writable(tmp_path / "run")


def test_append_writes_a_batch_and_fsyncs_it_once(tmp_path: Path, monkeypatch) -> None:
    """Each batch reaches the disk before the next starts: one write of whole lines, one fsync."""
    import qa_eval.store as store

    synced: list[int] = []
    monkeypatch.setattr(store.os, "fsync", lambda fd: synced.append(fd))
    s = PredictionStore(tmp_path, "fp", {})
    s.append([_pred(0), _pred(1), _pred(2)])
    assert len(synced) == 1
    assert (tmp_path / "predictions.jsonl").read_text().count("\n") == 3  # flushed, visible to readers
    s.append([_pred(3)])
    s.append([])
    assert len(synced) == 2
    s.close()
