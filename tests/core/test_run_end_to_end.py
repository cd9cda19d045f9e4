"""`qa-eval run` end to end with the real embedded Whisper tiny.en and real audio.

No mocks: the model is the real converted checkpoint, audio is decoded from real files, the
scorer is the real paper WER. These tests prove resume after SIGKILL, loud per-sample failures,
the failure threshold, scoring as its own step, the leaderboard files and `compare`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from qa_eval import registry

DATA = Path(__file__).resolve().parent.parent / "data"
SAMPLE_TASK = registry.load("task", "librispeech-sample")
QA_EVAL = [sys.executable, "-m", "qa_eval"]


def run_cli(*args: str, cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run([*QA_EVAL, *args], cwd=cwd, capture_output=True, text=True, timeout=900)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def reference_run(tmp_path_factory) -> Path:
    """One uninterrupted run over the first 8 samples of librispeech-sample, batch size 2."""
    work = tmp_path_factory.mktemp("ref")
    run_cli("run", "--task", "librispeech-sample", "--model", "whisper-tiny.en", "--device", "cpu",
            "--limit", "8", "--batch-size", "2", "--out", str(work / "run"), "--results", str(work),
            "--no-leaderboard", cwd=work)
    return work / "run"


def test_run_writes_predictions_and_real_wer(reference_run: Path) -> None:
    preds = rows(reference_run / "predictions.jsonl")
    assert len(preds) == 8 and all(p["error"] is None for p in preds)
    real = next(p for p in preds if "1272-128104-0000" in p["audio"])
    assert "quilter" in real["prediction"].lower() and "gospel" in real["prediction"].lower()
    metrics = json.loads((reference_run / "metrics.json").read_text())
    entry = metrics["per_source"]["librispeech_sample"]
    assert 0.0 < entry["wer"] < 0.5 and entry["n"] == 8 and entry["n_failed"] == 0
    meta = metrics["meta"]
    for key in ("model_id", "revision", "dtype", "device", "batch_size", "prompt_hash",
                "manifest_sha256", "qa_eval_version", "hardware", "generation"):
        assert meta.get(key) is not None, key
    timing = meta["timing"]
    assert timing["audio_s"] > 10 and timing["wall_s"] > 0
    assert timing["rtfx"] == pytest.approx(timing["audio_s"] / timing["wall_s"], rel=1e-2)
    assert metrics["scorer"]["name"] == "wer" and metrics["scorer"]["version"]


@pytest.mark.slow
def test_sigkill_then_rerun_resumes_without_loss_or_duplicates(reference_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [*QA_EVAL, "run", "--task", "librispeech-sample", "--model", "whisper-tiny.en", "--device", "cpu",
           "--limit", "8", "--batch-size", "2", "--out", str(out), "--results", str(tmp_path),
           "--no-leaderboard", "--num-workers", "0"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pred_file = out / "predictions.jsonl"
    deadline = time.time() + 600
    while time.time() < deadline:
        if pred_file.is_file() and pred_file.read_text().count("\n") >= 2:
            break
        if proc.poll() is not None:
            pytest.fail("run ended before it could be killed")
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    n_before = pred_file.read_text().count("\n")
    assert 2 <= n_before < 8, "the kill should land mid-run"
    rerun = run_cli(*cmd[3:], cwd=tmp_path)
    assert f"{n_before} already done" in rerun.stderr
    got = rows(pred_file)
    want = rows(reference_run / "predictions.jsonl")
    assert [r["id"] for r in got] == [r["id"] for r in want]  # none lost, none twice, same order
    assert {r["id"]: r["prediction"] for r in got} == {r["id"]: r["prediction"] for r in want}


def test_bad_audio_is_recorded_and_counted(tmp_path: Path) -> None:
    shutil.copy(DATA / "1272-128104-0000.flac", tmp_path / "good.flac")
    (tmp_path / "text.wav").write_text("not audio")
    sf.write(tmp_path / "empty.wav", np.zeros(0, dtype=np.float32), 16000)
    (tmp_path / "cut.flac").write_bytes((DATA / "1272-128104-0000.flac").read_bytes()[:300])
    gt = "MISTER QUILTER IS THE APOSTLE OF THE MIDDLE CLASSES AND WE ARE GLAD TO WELCOME HIS GOSPEL"
    manifest = tmp_path / "m.jsonl"
    lines = [{"audio": a, "gt": gt, "source": "librispeech_sample", "id": a}
             for a in ["good.flac", "missing.flac", "text.wav", "empty.wav", "cut.flac"]]
    manifest.write_text("".join(json.dumps(x) + "\n" for x in lines))
    proc = run_cli("run", "--task", "librispeech-sample", "--model", "whisper-tiny.en", "--device", "cpu",
                   "--manifest", str(manifest), "--out", str(tmp_path / "run"), "--results", str(tmp_path),
                   "--no-leaderboard", "--json", cwd=tmp_path, check=False)
    assert proc.returncode == 3, proc.stderr  # 80 % failed > 5 % threshold: non-zero exit
    assert "failed (threshold 5.0%)" in proc.stderr
    preds = {r["id"]: r for r in rows(tmp_path / "run" / "predictions.jsonl")}
    assert preds["good.flac"]["error"] is None and "quilter" in preds["good.flac"]["prediction"].lower()
    for bad, why in [("missing.flac", "not found"), ("text.wav", "not a readable audio"),
                     ("empty.wav", "empty"), ("cut.flac", "")]:
        assert preds[bad]["prediction"] is None and why in preds[bad]["error"], preds[bad]
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    entry = metrics["per_source"]["librispeech_sample"]
    assert entry["n"] == 5 and entry["n_failed"] == 4
    assert entry["wer"] < 0.2  # failures are not scored as empty predictions (that would be ~0.8)
    # A generous threshold lets the same run pass (it resumes: nothing is generated again).
    again = run_cli("run", "--task", "librispeech-sample", "--model", "whisper-tiny.en", "--device", "cpu",
                    "--manifest", str(manifest), "--out", str(tmp_path / "run"), "--results", str(tmp_path),
                    "--no-leaderboard", "--max-failed", "0.9", cwd=tmp_path)
    assert "5 already done" in again.stderr


def test_bad_manifest_line_names_file_and_line(tmp_path: Path) -> None:
    manifest = tmp_path / "m.jsonl"
    manifest.write_text('{"audio": "a.flac", "gt": "x", "source": "librispeech_sample"}\n{"gt": "y"}\n')
    proc = run_cli("run", "--task", "librispeech-sample", "--model", "whisper-tiny.en", "--device", "cpu",
                   "--manifest", str(manifest), "--results", str(tmp_path), cwd=tmp_path, check=False)
    assert proc.returncode == 2
    assert f"{manifest}:2: field 'audio' missing" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_score_leaderboard_and_compare(reference_run: Path, tmp_path: Path) -> None:
    scored = run_cli("score", "--task", "librispeech-sample", "--predictions",
                     str(reference_run / "predictions.jsonl"), "--json", cwd=tmp_path)
    doc = json.loads(scored.stdout)
    original = json.loads((reference_run / "metrics.json").read_text())
    assert doc["per_source"] == original["per_source"]  # scoring is its own, repeatable step

    results = tmp_path / "results"
    (results / "a").mkdir(parents=True)
    shutil.copy(reference_run / "metrics.json", results / "a" / "metrics.json")
    run_cli("leaderboard", "--results", str(results), "--out", str(tmp_path / "lb"), cwd=tmp_path)
    md = (tmp_path / "lb" / "leaderboard.md").read_text()
    assert "whisper-tiny.en" in md and "librispeech_sample" in md
    assert (tmp_path / "lb" / "leaderboard.csv").read_text().startswith("model,task,source,metric")
    assert (tmp_path / "lb" / "radar.png").read_bytes()[:4] == b"\x89PNG"
    assert "<table>" in (tmp_path / "lb" / "leaderboard.html").read_text()

    same = run_cli("compare", str(reference_run / "metrics.json"), str(reference_run / "metrics.json"), cwd=tmp_path)
    assert "0 regression(s)" in same.stdout
    worse = json.loads(json.dumps(original))
    worse["per_source"]["librispeech_sample"]["wer"] += 0.02
    (tmp_path / "worse.json").write_text(json.dumps(worse))
    bad = run_cli("compare", str(reference_run / "metrics.json"), str(tmp_path / "worse.json"), cwd=tmp_path, check=False)
    assert bad.returncode == 1 and "REGRESSION" in bad.stdout
    tolerant = run_cli("compare", str(reference_run / "metrics.json"), str(tmp_path / "worse.json"),
                       "--tolerance", "wer=0.05", cwd=tmp_path)
    assert "0 regression(s)" in tolerant.stdout


@pytest.mark.slow
def test_distributed_gloo_matches_single_process(reference_run: Path, tmp_path: Path) -> None:
    """Three CPU processes under torchrun (gloo): the same predictions file as one process."""
    out = tmp_path / "dist"
    run_cli("run", "--task", "librispeech-sample", "--model", "whisper-tiny.en", "--device", "cpu",
            "--limit", "8", "--batch-size", "2", "--out", str(out), "--results", str(tmp_path),
            "--no-leaderboard", "--num-workers", "0", "--launcher", "torchrun", "--nproc-per-node", "3",
            cwd=tmp_path)
    got, want = rows(out / "predictions.jsonl"), rows(reference_run / "predictions.jsonl")
    assert [r["id"] for r in got] == [r["id"] for r in want]
    assert [r["prediction"] for r in got] == [r["prediction"] for r in want]
    assert not list(out.glob("predictions.rank*.jsonl"))  # shards merged away
    m_dist = json.loads((out / "metrics.json").read_text())
    m_one = json.loads((reference_run / "metrics.json").read_text())
    assert m_dist["per_source"] == m_one["per_source"] and m_dist["meta"]["world_size"] == 3


def test_hugging_face_dataset_folder_as_source(tmp_path: Path) -> None:
    """A local `save_to_disk` dataset (audio stored as bytes) runs like a manifest."""
    datasets = pytest.importorskip("datasets")
    audio = {"bytes": (DATA / "1272-128104-0000.flac").read_bytes(), "path": "1272-128104-0000.flac"}
    gt = "MISTER QUILTER IS THE APOSTLE OF THE MIDDLE CLASSES AND WE ARE GLAD TO WELCOME HIS GOSPEL"
    ds = datasets.Dataset.from_dict({"audio": [audio], "text": [gt], "id": ["utt1"]})
    datasets.DatasetDict({"test": ds.cast_column("audio", datasets.Audio(decode=False))}).save_to_disk(tmp_path / "hf")
    run_cli("run", "--task", "librispeech-sample", "--model", "whisper-tiny.en", "--device", "cpu",
            "--hf-dataset", str(tmp_path / "hf"), "--hf-split", "test", "--out", str(tmp_path / "run"),
            "--results", str(tmp_path / "results"), "--no-leaderboard", cwd=tmp_path)
    (pred,) = rows(tmp_path / "run" / "predictions.jsonl")
    assert pred["id"] == "utt1" and pred["reference"] == gt and "quilter" in pred["prediction"].lower()


@pytest.mark.slow
def test_a_dying_rank_fails_the_run_and_a_rerun_resumes_from_the_shards(reference_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "dist"
    args = ["run", "--task", "librispeech-sample", "--model", "whisper-tiny.en", "--device", "cpu",
            "--limit", "8", "--batch-size", "1", "--out", str(out), "--results", str(tmp_path),
            "--no-leaderboard", "--num-workers", "0", "--launcher", "torchrun", "--nproc-per-node", "2"]
    proc = subprocess.Popen([*QA_EVAL, *args], cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    shard = out / "predictions.rank1.jsonl"
    deadline = time.time() + 600
    while not (shard.is_file() and shard.read_text().count("\n") >= 1):
        assert time.time() < deadline and proc.poll() is None, "rank 1 never wrote a prediction"
        time.sleep(0.05)
    # Kill rank 1 (the worker whose environment says RANK=1) with SIGKILL.
    victim = None
    for pid in _descendants(proc.pid):
        try:
            env = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"RANK=1" in env and b"LOCAL_RANK=1" in env:
            victim = pid
    assert victim is not None
    os.kill(victim, signal.SIGKILL)
    output, _ = proc.communicate(timeout=300)
    assert proc.returncode != 0, output  # the run fails, loudly
    assert "FAILED" in output or "failed" in output.lower()
    kept = out / "predictions.rank1.jsonl"
    assert kept.read_text().count("\n") >= 1  # finished work stays on disk
    rerun = run_cli(*args, cwd=tmp_path)
    assert "already done" in rerun.stderr
    got, want = rows(out / "predictions.jsonl"), rows(reference_run / "predictions.jsonl")
    assert [(r["id"], r["prediction"]) for r in got] == [(r["id"], r["prediction"]) for r in want]


def _descendants(root: int) -> list[int]:
    """All processes below `root` (read from /proc)."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    out, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def _children(pid: int) -> list[int]:
    """Every descendant of `pid` (from /proc)."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        kids = [c for c, pp in parents.items() if pp == p]
        found += kids
        todo += kids
    return found


def _alive(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its exit status is left


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_decoding_workers_end_with_the_run(tmp_path: Path, sig) -> None:
    cmd = [*QA_EVAL, "run", "--task", "librispeech-sample", "--model", "whisper-tiny.en", "--device", "cpu",
           "--batch-size", "1", "--out", str(tmp_path / "run"), "--results", str(tmp_path), "--no-leaderboard",
           "--num-workers", "2", "--no-progress"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    pred_file = tmp_path / "run" / "predictions.jsonl"
    deadline = time.time() + 600
    while time.time() < deadline and not (pred_file.is_file() and pred_file.read_text().count("\n") >= 1):
        if proc.poll() is not None:
            pytest.fail("run ended before it could be killed")
        time.sleep(0.05)
    workers = _children(proc.pid)
    assert len(workers) >= 2, workers  # the decoding workers (and the resource tracker)
    os.kill(proc.pid, sig)
    proc.wait()
    time.sleep(5)
    assert [w for w in workers if _alive(w)] == []
