"""Nothing written is ever lost: random sequences of runs with other settings, other limits and
kills, in one explicit --out folder, through the store calls a run makes (claim, resume, append
per batch, merge and finalize), keep every prediction ever written on disk; and the settings
that come back reuse their predictions."""

from __future__ import annotations

import json
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qa_eval.records import Prediction
from qa_eval.store import PredictionStore, finalize, merge_ordered, read_run_folder

IDS = [f"id{i}" for i in range(6)]
FINGERPRINTS = ["a" * 64, "b" * 64, "c" * 64]


def _run(out: Path, fingerprint: str, limit: int, kill_after: int | None, written: set[tuple[str, str]]) -> int:
    """One run as `evaluate` makes it, killed before its `kill_after`-th prediction if it gets
    that far; returns how many predictions it generated (-1: killed)."""
    store = PredictionStore(out, fingerprint, {"settings": fingerprint[0]})
    done = {p.id for p in store.done()}
    todo = [i for i in IDS[:limit] if i not in done]
    for n, sample_id in enumerate(todo):
        if kill_after is not None and n == kill_after:
            with open(store.path, "a", encoding="utf-8") as f:  # SIGKILL in the middle of a write
                f.write('{"id": "' + sample_id + '", "sou')
            store.close()
            return -1
        text = f"{fingerprint[0]}:{sample_id}"
        store.append([Prediction(sample_id, "src", "ref", text, None, {})])
        written.add((sample_id, text))
    store.close()
    finalize(out, merge_ordered(read_run_folder(out), IDS))
    return len(todo)


def _on_disk(out: Path) -> set[tuple[str, str]]:
    found = set()
    for path in out.rglob("*.jsonl"):
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                assert line == path.read_text(encoding="utf-8").splitlines()[-1]  # only a torn last line
                continue
            found.add((row["id"], row["prediction"]))
    return found


step = st.tuples(st.sampled_from(FINGERPRINTS), st.integers(1, len(IDS)), st.none() | st.integers(0, 3))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(step, min_size=1, max_size=8))
def test_every_prediction_ever_written_stays_on_disk(tmp_path_factory, steps) -> None:
    out = tmp_path_factory.mktemp("out")
    written: set[tuple[str, str]] = set()
    for fingerprint, limit, kill_after in steps:
        had = {i for i, text in written if text.startswith(fingerprint[0])}
        generated = _run(out, fingerprint, limit, kill_after, written)
        if generated >= 0:  # a fingerprint that comes back generates only what it never wrote
            assert generated == len(set(IDS[:limit]) - had)
        assert written <= _on_disk(out), written - _on_disk(out)
    assert json.loads((out / "run.json").read_text())["fingerprint"] == steps[-1][0]


def test_the_issue_sequence_keeps_all_seven_predictions(tmp_path: Path) -> None:
    """--max-new-tokens 5 --limit 6; --limit 1; --max-new-tokens 5 --limit 1; --limit 1."""
    written: set[tuple[str, str]] = set()
    assert _run(tmp_path, "a" * 64, 6, None, written) == 6
    assert _run(tmp_path, "b" * 64, 1, None, written) == 1
    assert _run(tmp_path, "a" * 64, 1, None, written) == 0  # the 6 rows set aside are reused
    assert _run(tmp_path, "b" * 64, 1, None, written) == 0
    assert len(written) == 7 and written <= _on_disk(tmp_path)
    aside = [json.loads(line)["id"] for line in (tmp_path / ("a" * 12 + ".predictions.jsonl")).read_text().splitlines()]
    assert sorted(aside) == IDS
