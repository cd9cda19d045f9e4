"""A new user's workflows (issue 15), through the real CLI, with real audio and real tiny models.

Reruns never delete, custom tasks without Python, Hugging Face folders from anywhere, honest
compare and leaderboard, errors found early as one line, and progress. Models: the embedded
Whisper tiny.en, and the tiny Qwen-Audio fixture checkpoint (original format) where a task needs a
model that can do it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "qwen_audio_tiny"
SAMPLE = ROOT / "tasks" / "data" / "librispeech_sample"
QWEN = ["--model", "qwen-audio", "--checkpoint", str(FIXTURE), "--device", "cpu", "--max-new-tokens", "4"]
WHISPER = ["--model", "whisper-tiny.en", "--device", "cpu"]


def qa_eval(*args: str, cwd: Path, timeout: float = 900, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "qa_eval", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def one_error_line(proc: subprocess.CompletedProcess) -> str:
    """The single `qa-eval: error:` line of a refused command (exit 2, no traceback)."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr[-3000:])
    assert "Traceback" not in proc.stderr, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if line.startswith("qa-eval: error:")]
    assert len(errors) == 1, proc.stderr
    return errors[0]


# --- 1. reruns never delete --------------------------------------------------------------------


@pytest.mark.slow
def test_an_explicit_out_folder_keeps_every_prediction_of_every_setting(tmp_path: Path) -> None:
    """The four runs of issue 20 in one --out folder: all 7 distinct predictions stay on disk,
    and the settings that come back reuse their 6 rows."""
    run = ["run", "--task", "librispeech-sample", *WHISPER, "--out", str(tmp_path / "O"), "--no-leaderboard",
           "--num-workers", "0", "--no-progress", "--results", str(tmp_path / "R")]
    short = ["--max-new-tokens", "5"]
    for extra, done in ((short + ["--limit", "6"], 0), (["--limit", "1"], 0), (short + ["--limit", "1"], 1),
                        (["--limit", "1"], 1)):
        proc = qa_eval(*run, *extra, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr[-2000:]
        assert f"{done} already done" in proc.stderr, proc.stderr
    stored = {(r["id"], r["prediction"]) for f in (tmp_path / "O").glob("*.jsonl") for r in rows(f)}
    assert len(stored) == 7, stored


@pytest.mark.slow
def test_a_limit_rerun_keeps_every_prediction_and_the_earlier_metrics(tmp_path: Path) -> None:
    args = ["run", "--task", "librispeech-sample", *WHISPER, "--results", str(tmp_path / "R"), "--no-leaderboard",
            "--num-workers", "0", "--no-progress"]
    first = qa_eval(*args, "--limit", "12", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    (run_dir,) = (tmp_path / "R" / "librispeech-sample").iterdir()
    before = rows(run_dir / "predictions.jsonl")
    full_metrics = json.loads((run_dir / "metrics.json").read_text())
    second = qa_eval(*args, "--limit", "5", cwd=tmp_path)
    assert second.returncode == 0, second.stderr
    assert [p.name for p in (tmp_path / "R" / "librispeech-sample").iterdir()] == [run_dir.name]  # same folder
    after = rows(run_dir / "predictions.jsonl")
    assert len(before) == 12 and after == before  # nothing cut, nothing generated twice
    assert "5 samples selected, 5 already done, 0 to run" in second.stderr
    assert json.loads((run_dir / "metrics.json").read_text())["meta"]["n_samples"] == 5
    (kept,) = (run_dir / "previous").glob("metrics.*.json")
    assert json.loads(kept.read_text())["per_source"] == full_metrics["per_source"]


@pytest.mark.slow
def test_a_second_manifest_in_the_same_results_folder_keeps_the_first(tmp_path: Path) -> None:
    manifest = [json.loads(line) for line in (SAMPLE / "manifest.jsonl").read_text().splitlines()]
    for name, part in (("a", manifest[:3]), ("b", manifest[3:6])):
        (tmp_path / f"{name}.jsonl").write_text(
            "".join(json.dumps({**r, "audio": str(SAMPLE / r["audio"])}) + "\n" for r in part))
    for name in ("a", "b"):
        proc = qa_eval("run", "--task", "librispeech-sample", *WHISPER, "--manifest", str(tmp_path / f"{name}.jsonl"),
                       "--results", str(tmp_path / "R"), "--no-leaderboard", "--num-workers", "0", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    folders = sorted((tmp_path / "R" / "librispeech-sample").iterdir())
    assert len(folders) == 2
    assert sorted(len(rows(f / "predictions.jsonl")) for f in folders) == [3, 3]


# --- 3. Hugging Face datasets ------------------------------------------------------------------


def _hf_folder(path: Path, columns: dict, split: str = "test") -> None:
    datasets = pytest.importorskip("datasets")
    audio = {"bytes": (ROOT / "tests" / "data" / "1272-128104-0000.flac").read_bytes(), "path": "utt.flac"}
    ds = datasets.Dataset.from_dict({"audio": [audio], **{k: [v] for k, v in columns.items()}})
    datasets.DatasetDict({split: ds.cast_column("audio", datasets.Audio(decode=False))}).save_to_disk(str(path))


def test_hf_folder_with_a_relative_results_folder_from_another_directory(tmp_path: Path) -> None:
    _hf_folder(tmp_path / "data" / "librispeech_asr", {"text": "MISTER QUILTER", "id": "u1"})
    work = tmp_path / "work"
    work.mkdir()
    proc = qa_eval("run", "--task", "librispeech", *QWEN, "--hf-dataset", "../data/librispeech_asr",
                   "--hf-config", "clean", "--hf-split", "test", "--results", "runs", "--no-leaderboard", cwd=work)
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = (work / "runs" / "librispeech").iterdir()
    (pred,) = rows(run_dir / "predictions.jsonl")
    assert pred["error"] is None and pred["source"] == "librispeech_test_clean"  # config + split -> the source
    assert Path(pred["audio"]).is_absolute() and Path(pred["audio"]).is_file()


def test_hf_folder_honours_the_task_columns_and_names_the_splits(tmp_path: Path) -> None:
    _hf_folder(tmp_path / "aqa", {"answer": "yes", "question": "Is there speech?"})
    proc = qa_eval("run", "--task", "clothoaqa", *QWEN, "--hf-dataset", str(tmp_path / "aqa"),
                   "--results", str(tmp_path / "runs"), "--no-leaderboard", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    (run_dir,) = (tmp_path / "runs" / "clothoaqa").iterdir()
    (pred,) = rows(run_dir / "predictions.jsonl")
    assert pred["reference"] == "yes" and pred["question"] == "Is there speech?" and pred["error"] is None
    wrong = qa_eval("run", "--task", "clothoaqa", *QWEN, "--hf-dataset", str(tmp_path / "aqa"), "--hf-split",
                    "validation", "--results", str(tmp_path / "runs"), cwd=tmp_path)
    assert "no split 'validation'" in one_error_line(wrong) and "test" in wrong.stderr


def test_hf_source_option_names_the_source(tmp_path: Path) -> None:
    _hf_folder(tmp_path / "ds", {"text": "MISTER QUILTER"})
    proc = qa_eval("run", "--task", "librispeech", *QWEN, "--hf-dataset", str(tmp_path / "ds"), "--hf-source",
                   "librispeech_dev_other", "--results", str(tmp_path / "runs"), "--no-leaderboard", "--json",
                   cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert list(json.loads(proc.stdout)["per_source"]) == ["librispeech_dev_other"]


# --- 4. compare and leaderboard ------------------------------------------------------------------


def _metrics(tmp_path: Path, limit: int, name: str) -> Path:
    out = tmp_path / name
    proc = qa_eval("run", "--task", "librispeech-sample", *QWEN, "--limit", str(limit), "--out", str(out),
                   "--results", str(tmp_path / "R"), "--no-leaderboard", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    return out / "metrics.json"


def test_compare_refuses_different_data_and_unknown_tolerances(tmp_path: Path) -> None:
    base, small = _metrics(tmp_path, 6, "base"), _metrics(tmp_path, 3, "small")
    refused = qa_eval("compare", str(base), str(small), cwd=tmp_path)
    assert "different data" in one_error_line(refused) and "6 vs 3 samples" in refused.stderr
    allowed = qa_eval("compare", str(base), str(small), "--allow-different-data", cwd=tmp_path)
    assert allowed.returncode in (0, 1) and "comparison(s)" in allowed.stdout
    typo = qa_eval("compare", str(base), str(base), "--tolerance", "werr=1", cwd=tmp_path)
    assert "werr" in one_error_line(typo)
    bad_value = qa_eval("compare", str(base), str(base), "--tolerance", "wer=-1", cwd=tmp_path)
    assert "METRIC=NUMBER" in one_error_line(bad_value)


def test_leaderboard_keeps_one_row_per_checkpoint_and_says_which_run_wins(tmp_path: Path) -> None:
    doc = json.loads(_metrics(tmp_path, 3, "one").read_text())
    results = tmp_path / "results"
    for k, (revision, wer) in enumerate((("sha256:aaaa", 0.5), ("sha256:bbbb", 0.25))):
        copy = json.loads(json.dumps(doc))
        copy["meta"]["revision"], copy["per_source"]["librispeech_sample"]["wer"] = revision, wer
        (results / f"run{k}").mkdir(parents=True)
        (results / f"run{k}" / "metrics.json").write_text(json.dumps(copy))
    proc = qa_eval("leaderboard", "--results", str(results), "--out", str(tmp_path / "lb"), cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    md = (tmp_path / "lb" / "leaderboard.md").read_text()
    wer_rows = [line for line in md.splitlines() if "| wer |" in line]
    assert len(wer_rows) == 2 and any("aaaa" in r and "0.5000" in r for r in wer_rows)
    assert any("bbbb" in r and "0.2500" in r for r in wer_rows)
    assert "the run over the most samples, then the newest, wins a row" in md and "checkpoint" in md.splitlines()[2]


# --- 5. errors found early, one line each ----------------------------------------------------


@pytest.mark.parametrize("extra, message", [
    (["--scorer", "nope"], "unknown scorer 'nope'"),
    (["--scorer-option", "foo=bar"], "unknown option(s) foo"),
    (["--device", "cuda"], "--device cuda"),
    (["--device", "cuda:1"], "--device cuda:1"),
    (["--device", "mps"], "--device mps"),
    (["--limit", "-1"], "--limit"),
    (["--max-new-tokens", "0"], "--max-new-tokens"),
    (["--max-failed", "-1"], "--max-failed"),
    (["--max-audio-s", "0"], "--max-audio-s"),
])
def test_bad_options_fail_before_the_model_loads(tmp_path: Path, extra: list[str], message: str) -> None:
    if "cuda" in " ".join(extra):
        import torch

        if torch.cuda.is_available():
            pytest.skip("this machine has CUDA")
    proc = qa_eval("run", "--task", "librispeech-sample", *QWEN, "--results", str(tmp_path / "R"), *extra,
                   cwd=tmp_path)
    if proc.returncode == 2 and "usage:" in proc.stderr:  # argparse's own one-line error
        assert message in proc.stderr and "Traceback" not in proc.stderr
    else:
        assert message in one_error_line(proc)
    assert not (tmp_path / "R").exists() or not list((tmp_path / "R").rglob("predictions.jsonl"))


def _manifest(tmp_path: Path, text: bytes) -> Path:
    path = tmp_path / "m.jsonl"
    path.write_bytes(text)
    return path


def test_manifest_encodings_and_empty_references(tmp_path: Path) -> None:
    audio = str(SAMPLE / "audio" / "espeak-001.flac")
    line = json.dumps({"audio": audio, "gt": "hello world"}).encode()
    bom = qa_eval("run", "--task", "librispeech-sample", *QWEN, "--manifest",
                  str(_manifest(tmp_path, b"\xef\xbb\xbf" + line + b"\n")), "--results", str(tmp_path / "R"),
                  "--no-leaderboard", cwd=tmp_path)
    assert bom.returncode == 0, bom.stderr
    latin = qa_eval("run", "--task", "librispeech-sample", *QWEN, "--manifest",
                    str(_manifest(tmp_path, line.replace(b"hello", b"h\xe9llo") + b"\n")), cwd=tmp_path)
    assert "m.jsonl:1: not UTF-8" in one_error_line(latin)
    empty = qa_eval("run", "--task", "librispeech-sample", *QWEN, "--manifest",
                    str(_manifest(tmp_path, json.dumps({"audio": audio, "gt": " "}).encode() + b"\n")), cwd=tmp_path)
    assert "m.jsonl:1: 'gt' is empty" in one_error_line(empty)


def test_outputs_under_a_file_are_one_line_errors(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    preds = tmp_path / "p.jsonl"
    preds.write_text(json.dumps({"id": "1", "source": "librispeech_sample", "reference": "a b", "prediction": "a b",
                                 "error": None}) + "\n")
    score = qa_eval("score", "--task", "librispeech-sample", "--predictions", str(preds), "--out",
                    str(tmp_path / "afile" / "m.json"), cwd=tmp_path)
    assert "not writable" in one_error_line(score)
    board = qa_eval("leaderboard", "--results", str(tmp_path), "--out", str(tmp_path / "afile" / "lb"), cwd=tmp_path)
    assert "not writable" in one_error_line(board)
    (tmp_path / "results").write_text("a file where the leaderboard folder would go")
    run = qa_eval("run", "--task", "librispeech-sample", *QWEN, "--limit", "1", "--results", str(tmp_path / "R"),
                  cwd=tmp_path)
    assert "--no-leaderboard" in one_error_line(run)
    assert not (tmp_path / "R").exists() or not list((tmp_path / "R").rglob("predictions.jsonl"))


def test_failed_threshold_names_the_reasons_and_the_way_out(tmp_path: Path) -> None:
    lines = [{"audio": str(SAMPLE / "audio" / "espeak-001.flac"), "gt": "hello", "id": "ok"}]
    lines += [{"audio": str(tmp_path / f"missing{k}.flac"), "gt": "hello", "id": f"m{k}"} for k in range(2)]
    manifest = _manifest(tmp_path, "".join(json.dumps(r) + "\n" for r in lines).encode())
    proc = qa_eval("run", "--task", "librispeech-sample", *QWEN, "--manifest", str(manifest), "--results",
                   str(tmp_path / "R"), "--no-leaderboard", cwd=tmp_path)
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    assert "2 x audio file not found" in proc.stderr and "--retry-failed" in proc.stderr


def test_ctrl_c_stops_cleanly_without_worker_tracebacks(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "qa_eval", "run", "--task", "librispeech-sample", *WHISPER,
                             "--results", str(tmp_path / "R"), "--no-leaderboard", "--num-workers", "2",
                             "--batch-size", "1", "--no-progress"],
                            cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and not list((tmp_path / "R").rglob("predictions.jsonl")):
        time.sleep(0.5)
    while time.time() < deadline:
        found = list((tmp_path / "R").rglob("predictions.jsonl"))
        if found and found[0].stat().st_size > 0:
            break
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err and "interrupted; predictions written so far are kept" in err


# --- 6. progress and warnings ------------------------------------------------------------------


def test_progress_lines_without_a_terminal_and_no_third_party_warnings(tmp_path: Path) -> None:
    proc = qa_eval("run", "--task", "librispeech-sample", *WHISPER, "--limit", "4", "--results", str(tmp_path / "R"),
                   "--no-leaderboard", "--num-workers", "0", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    progress = [line for line in proc.stderr.splitlines() if line.startswith("progress:")]
    assert progress and progress[-1].startswith("progress: 4/4 samples, 0 failed")
    assert "elapsed" in progress[-1] and "left ~0:00" in progress[-1]
    assert "%|" not in proc.stderr, proc.stderr  # no third-party progress bar (transformers' weight loading)
    # transformers' past_key_values deprecation (a FutureWarning, or its logger's line) is gone
    assert "Warning" not in proc.stderr and "deprecated" not in proc.stderr, proc.stderr


def test_progress_bar_on_a_terminal(tmp_path: Path) -> None:
    import pty

    pid, fd = pty.fork()
    if pid == 0:  # the child: qa-eval with its stderr on a terminal of 120 x 40
        import fcntl
        import struct
        import termios

        fcntl.ioctl(2, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 120, 0, 0))
        os.chdir(tmp_path)
        os.execv(sys.executable, [sys.executable, "-m", "qa_eval", "run", "--task", "librispeech-sample", *QWEN,
                                  "--limit", "3", "--results", str(tmp_path / "R"), "--no-leaderboard"])
    out = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    os.waitpid(pid, 0)
    text = out.decode("utf-8", "replace")
    assert "generating" in text and "3/3" in text and "audio s/s" in text, text[-2000:]


# --- 2. custom tasks without Python ---------------------------------------------------------------


def test_task_file_run_score_and_tasks_folder(tmp_path: Path) -> None:
    folder = tmp_path / "qa_eval_tasks"
    folder.mkdir()
    (folder / "calls.toml").write_text(
        'name = "my-calls"\nfamily = "asr"\nsources = ["my_calls_test"]\nlanguage = "en"\n'
        f'manifest = "{tmp_path / "calls.jsonl"}"\n[paper.my_calls_test]\nwer = 0.5\n')
    (tmp_path / "calls.jsonl").write_text("".join(
        json.dumps({"audio": str(SAMPLE / "audio" / f"espeak-00{k}.flac"), "gt": "hello world",
                    "source": "my_calls_test"}) + "\n" for k in (1, 2)))
    listed = qa_eval("tasks", cwd=tmp_path)
    assert "my-calls" in listed.stdout and "calls.toml" in listed.stdout
    by_name = qa_eval("run", "--task", "my-calls", *QWEN, "--results", str(tmp_path / "R"), "--no-leaderboard",
                      "--json", cwd=tmp_path)
    assert by_name.returncode == 0, by_name.stderr
    doc = json.loads(by_name.stdout)
    assert doc["task"] == "my-calls" and doc["meta"]["task_paper"] == {"my_calls_test": {"wer": 0.5}}
    (run_dir,) = (tmp_path / "R" / "my-calls").iterdir()
    by_file = qa_eval("score", "--task-file", str(folder / "calls.toml"), "--predictions",
                      str(run_dir / "predictions.jsonl"), cwd=tmp_path / "R")
    assert by_file.returncode == 0 and "my_calls_test" in by_file.stdout and "0.5000" in by_file.stdout
