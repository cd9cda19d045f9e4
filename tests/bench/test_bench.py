"""`qa-eval bench` at the tiny shape: runs through the CLI, writes the JSON, engine ids == reference."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from toolchain import cpp_toolchain_missing

from qa_eval import cli
from model_adapters.qwen_audio.bench.workload import clip_durations, engine_batches, shape_config


# engine-compiled needs a C++ toolchain for torch.compile's CPU kernels (.ci/run installs one)
MODES = ("engine", "hf-single", "hf-batched") + (() if cpp_toolchain_missing() else ("engine-compiled",))


@pytest.fixture(scope="module", autouse=True)
def _threads():
    import torch

    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))


@pytest.mark.slow
def test_bench_tiny_cli(tmp_path, capsys):
    out = tmp_path / "bench.json"
    rc = cli.main(["bench", "--model", "qwen-audio", "--random-weights", "--shape", "tiny", "--clips", "3",
                   "--batch-size", "2", "--new-tokens", "4", "--device", "cpu", "--dtype", "float32",
                   "--modes", ",".join(MODES), "--out", str(out)])
    assert rc == 0
    doc = json.loads(out.read_text())
    assert set(doc["modes"]) == set(MODES)
    assert doc["compiled_ids_equal_engine"] is (True if "engine-compiled" in MODES else None)
    assert 0.0 <= doc["prefill_padding_fraction"] < 1.0
    for r in doc["modes"].values():
        assert r["n_tokens"] == 3 * 4  # exactly new_tokens per clip in every mode
        for key in ("wall_s", "rtfx", "tokens_per_s", "peak_memory_bytes"):
            assert r[key] > 0
    assert all(v == [4] for v in doc["tokens_per_clip"].values())
    assert doc["reference_check"]["equal"] is True and doc["reference_check"]["clips"] == 2
    for key in ("flops", "decode_weight_bytes", "floor_s", "compute_floor_s", "bandwidth_floor_s"):
        assert doc["floor"][key] > 0
    assert doc["machine"]["matmul_flops_per_s"] > 0 and doc["machine"]["copy_bytes_per_s"] > 0
    assert doc["speedup_engine_vs_best_hf"] > 0
    assert doc["params"]["lm_head"] == 155947 * 64
    printed = capsys.readouterr().out
    assert "engine" in printed and "hf-batched" in printed and "floor" in printed


def test_cli_refuses_without_random_weights(capsys):
    assert cli.main(["bench", "--shape", "tiny"]) != 0
    assert "--random-weights" in capsys.readouterr().err


def test_clips_and_batches_are_deterministic():
    d = clip_durations(200)
    assert d == clip_durations(200)
    assert all(1.3 <= x <= 35.0 for x in d)
    assert 6.0 < sum(d) / len(d) < 9.0
    batches = engine_batches(d, 16)
    flat = [i for b in batches for i in b]
    assert sorted(flat) == list(range(200)) and all(len(b) <= 16 for b in batches)
    assert [d[i] for i in flat] == sorted(d, reverse=True)


def test_small_shape_structure():
    from model_adapters.qwen_audio.config import QwenAudioConfig
    from model_adapters.qwen_audio.bench.workload import param_counts

    counts = param_counts(QwenAudioConfig.from_dict(shape_config("small")))
    assert counts["embedding"] == counts["lm_head"] == 155947 * 1024
    assert 0.08 < counts["encoder_fraction_of_non_embedding"] < 0.12


def test_end_to_end_bench_runs_the_whole_evaluation(tmp_path, capsys):
    """--end-to-end: random checkpoint in the original format, FLAC clips, qa-eval run's path."""
    out = tmp_path / "e2e.json"
    rc = cli.main(["bench", "--random-weights", "--end-to-end", "--shape", "tiny", "--clips", "6",
                   "--batch-size", "auto", "--new-tokens", "5", "--device", "cpu", "--workdir", str(tmp_path),
                   "--num-workers", "0", "--out", str(out)])
    assert rc == 0
    doc = json.loads(out.read_text())
    assert doc["n_failed"] == 0 and doc["n_clips"] == 6 and doc["batch_size"] == "auto"
    assert 0 < doc["end_to_end_s"] <= doc["evaluate_wall_s"] and doc["rtfx_end_to_end"] > 0
    assert (tmp_path / "checkpoint-tiny-float32-0" / "config.json").is_file()
    preds = [json.loads(x) for x in (Path(doc["run_dir"]) / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == 6 and all(p["n_new_tokens"] == 5 and p["error"] is None for p in preds)
    assert json.loads((Path(doc["run_dir"]) / "metrics.json").read_text())["meta"]["batch_size"] == "auto"
    assert cli.main(["bench", "--random-weights", "--batch-size", "auto"]) != 0  # engine modes need a number


def test_qwen2_audio_bench_cli_times_the_transformers_modes(tmp_path, capsys):
    """`qa-eval bench --model qwen2-audio` without vLLM: hf-single and hf-batched on the same clips
    of one random checkpoint, ids equal; the vllm mode says where vLLM is when it is missing."""
    from qa_eval.adapter import backend_distribution

    out = tmp_path / "bench.json"
    rc = cli.main(["bench", "--model", "qwen2-audio", "--random-weights", "--shape", "tiny", "--clips", "3",
                   "--batch-size", "2", "--new-tokens", "4", "--device", "cpu", "--dtype", "float32",
                   "--modes", "hf-single,hf-batched", "--workdir", str(tmp_path), "--out", str(out)])
    assert rc == 0
    doc = json.loads(out.read_text())
    assert doc["modes"]["hf-single"]["ids_equal_hf_batched"] is True
    assert all(r["n_tokens"] == 3 * 4 for r in doc["modes"].values())
    assert "vs hf-batched" in capsys.readouterr().out
    if backend_distribution("vllm") is None:
        rc = cli.main(["bench", "--model", "qwen2-audio", "--random-weights", "--device", "cpu",
                       "--modes", "hf-batched,vllm", "--workdir", str(tmp_path)])
        assert rc == 2 and "run it from .venv-vllm" in capsys.readouterr().err
