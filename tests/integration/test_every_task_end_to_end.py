"""Every task end to end: fake release -> `qa-eval data prepare` -> run with the tiny Qwen-Audio
checkpoint -> metrics.json -> leaderboard with the paper's number beside each measured one.

For each task with a `prepare`, a small fake release laid out as the public one
(tests/fake_layouts.py) is turned into a manifest by the CLI's `data prepare` (in-process), and
that manifest is run with qwen-audio on the CPU (real checkpoint format, real loader, real
scorer). `srwt` has no public release, so it runs a hand-written timestamped manifest;
`librispeech-sample` ships its own manifest (covered by the demo and the CLI tests).
The tiny model's text is random, so only the plumbing is asserted here; the numbers themselves
are proven by the scorer goldens and the fixture parity tests.
"""

from __future__ import annotations

import json
import math
import shutil
import warnings
from pathlib import Path

import fake_layouts
import pytest

from qa_eval import cli, registry
from qa_eval.adapter import ModelOptions
from qa_eval.run import RunRequest, evaluate
from qa_eval.leaderboard import HEADER, write_leaderboard

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = ROOT / "fixtures" / "qwen_audio_tiny"
SPEECH = ROOT / "data" / "1272-128104-0000.flac"  # LibriSpeech dev-clean 1272-128104-0000
NO_RELEASE = {"librispeech-sample": "bundled manifest", "srwt": "no public release"}
TASKS = [n for n in registry.names("task") if n != "librispeech-sample"]
NOT_SCORED = {"n", "n_failed", "ci95", "details"}
# Metrics that may be null, and the `details` entry that then says why: SPICE needs the CoreNLP
# jars (absent offline); AAS is undefined when no predicted word matches a reference word, which
# the tiny model's random text never does.
UNDEFINED = {("clotho", "spice"): "spice_status", ("clotho", "spider"): "spice_status", ("srwt", "aas_ms"): "note"}


def test_every_preparable_task_has_a_fake_release():
    preparable = {n for n in registry.names("task") if registry.load("task", n).prepare is not None}
    assert preparable == set(fake_layouts.BUILDERS)
    assert not preparable & set(NO_RELEASE)


def _srwt_manifest(folder: Path) -> tuple[Path, dict[str, int]]:
    """Two timestamped references on real speech (SRWT has no public release to prepare from)."""
    shutil.copy(SPEECH, folder / SPEECH.name)
    gts = ["<|0.00|>mister<|0.42|>quilter<|0.90|>is<|1.10|>", "<|0.00|>mister<|0.40|>quilter<|0.88|>"]
    manifest = folder / "manifest.jsonl"
    manifest.write_text("".join(
        json.dumps({"audio": SPEECH.name, "gt": gt, "source": "industrial_srwt", "id": f"srwt-{i}", "lang": "en"}) + "\n"
        for i, gt in enumerate(gts)))
    return manifest, {"industrial_srwt": len(gts)}


def _prepared_manifest(task_name: str, folder: Path, capsys: pytest.CaptureFixture[str]) -> tuple[Path, dict[str, int]]:
    """Build the task's fake release and run `qa-eval data prepare` on it; rows per source."""
    release = fake_layouts.BUILDERS[task_name](folder / "raw")
    manifest = folder / "manifest.jsonl"
    assert cli.main(release.prepare_argv(manifest)) == 0
    printed = capsys.readouterr().out
    rows = [json.loads(line) for line in manifest.read_text(encoding="utf-8").splitlines()]
    counts = {s: sum(r["source"] == s for r in rows) for s in dict.fromkeys(r["source"] for r in rows)}
    assert tuple(counts) == release.sources
    assert f"{task_name}: wrote {len(rows)} rows to {manifest}" in printed
    if task_name == "meld" and fake_layouts.ffmpeg_available():
        assert any(r["audio"] == "manifest_audio/dia0_utt1.wav" for r in rows)  # extracted from the mp4
    return manifest, counts


def _leaderboard_rows(md: str) -> dict[tuple[str, str, str], dict[str, str]]:
    """(task, source, metric) -> the leaderboard.md cells of that row, by column name."""
    table = {}
    for line in md.splitlines()[4:]:  # title, blank line, header, separator
        cells = dict(zip(HEADER, (c.strip() for c in line.strip("|").split(" | "))))
        table[cells["task"], cells["source"], cells["metric"]] = cells
    return table


@pytest.mark.parametrize("task_name", TASKS)
def test_task_prepares_runs_and_reaches_the_leaderboard(
    task_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    task = registry.load("task", task_name)
    if task_name == "srwt":
        manifest, counts = _srwt_manifest(tmp_path)
    else:
        manifest, counts = _prepared_manifest(task_name, tmp_path, capsys)

    req = RunRequest(
        task=task_name, model="qwen-audio", options=ModelOptions(str(FIXTURE), "cpu", "float32"),
        batch_size=2, max_new_tokens=4, manifest=str(manifest), out_dir=str(tmp_path / "run"),
        results_dir=str(tmp_path / "results"), num_workers=0, max_failed_fraction=0.0,
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        doc, out_dir = evaluate(req, log=lambda *a: None)

    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics == json.loads(json.dumps(doc))
    assert metrics["meta"]["prompt_hash"] and metrics["meta"]["revision"]
    assert set(metrics["per_source"]) == set(counts)
    for source, n in counts.items():
        entry = metrics["per_source"][source]
        assert (entry["n"], entry["n_failed"]) == (n, 0), source
        numbers = {k: v for k, v in entry.items() if k not in NOT_SCORED}
        assert set(task.paper.get(source, {})) <= set(numbers), source
        for metric, value in numbers.items():
            if value is None:  # only where the scorer says why (see UNDEFINED)
                assert entry["details"][UNDEFINED[task_name, metric]], (source, metric)
                if metric in ("spice", "spider"):
                    assert any("SPICE" in str(w.message) for w in caught)
            else:
                assert isinstance(value, (int, float)) and math.isfinite(value), (source, metric, value)
    preds = [json.loads(line) for line in (out_dir / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == sum(counts.values())
    assert all(p["prediction"] is not None and p["prompt"].startswith(("<audio>", "Audio 1:")) for p in preds)

    (tmp_path / "results" / "r").mkdir(parents=True, exist_ok=True)
    shutil.copy(out_dir / "metrics.json", tmp_path / "results" / "r" / "metrics.json")
    write_leaderboard(tmp_path / "results", tmp_path / "lb")
    board = _leaderboard_rows((tmp_path / "lb" / "leaderboard.md").read_text(encoding="utf-8"))
    for source in counts:
        for metric, paper in task.paper.get(source, {}).items():
            cells = board[task_name, source, metric]
            value = metrics["per_source"][source][metric]
            if value is None:
                assert cells["value"] == "n/a"
            else:
                assert float(cells["value"]) == pytest.approx(value, abs=0.01), (source, metric)
            assert float(cells["paper"]) == pytest.approx(paper, abs=1e-4), (source, metric)
            assert cells["n"] == str(counts[source]) and cells["failed"] == "0"
