"""The vLLM backend on Voxtral, against the transformers path, on a tiny checkpoint that holds
the same weights in both formats, as the official repositories do: transformers' (config.json,
model.safetensors) for the default backend and Mistral's (params.json, consolidated.safetensors,
tekken.json) for vLLM, which loads Voxtral only from those. The prompt goes to vLLM as the ids
our processor's chat template gives (mistral-common writes the audio placeholders).

Run by `make test-vllm` in .venv-vllm (mistral-common comes with vLLM there). Checked: every
librispeech-sample clip's ids and prediction equal the transformers path's (float32); a folder
without the Mistral-format files is refused before any engine starts, with what to do.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from loading import plan_ids, stored_rows
from qa_eval.adapter import ModelOptions
from qa_eval.errors import AdapterError
from qa_eval.run import RunRequest, evaluate

pytestmark = pytest.mark.vllm

MAX_NEW_TOKENS = 16


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    import vllm  # noqa: F401 - these tests need vLLM: an ImportError fails them

    from model_adapters.testing.hf_audio_lm import build_tiny

    return build_tiny("voxtral", tmp_path_factory.mktemp("voxtral"), for_vllm=True)


def request(checkpoint: Path, out: Path, backend: str) -> RunRequest:
    return RunRequest(task="librispeech-sample", model="voxtral",
                      options=ModelOptions(str(checkpoint), "cpu", "float32", backend=backend), batch_size=8,
                      max_new_tokens=MAX_NEW_TOKENS, out_dir=str(out), results_dir=str(out.parent), num_workers=0)


def test_both_formats_of_the_tiny_checkpoint_hold_the_same_tensors(checkpoint):
    from safetensors.torch import load_file

    from model_adapters.testing.mistral_format import mistral_name

    hf = load_file(str(checkpoint / "model.safetensors"))
    mistral = load_file(str(checkpoint / "consolidated.safetensors"))
    params = json.loads((checkpoint / "params.json").read_text())
    assert params["head_dim"] == 32 and params["multimodal"]["whisper_model_args"]["downsample_args"] == {
        "downsample_factor": 4}
    assert len(mistral) == len(hf) - 1  # all but the audio encoder's position table (sinusoids, computed by vLLM)
    with pytest.raises(ValueError, match="no Mistral name"):
        mistral_name("model.something_new.weight")


def test_every_sample_equals_the_transformers_path(checkpoint, tmp_path):
    got = {}
    for backend in ("default", "vllm"):
        out = tmp_path / backend / "run"
        doc, folder = evaluate(request(checkpoint, out, backend), log=lambda *a: None)
        got[backend] = stored_rows(folder)
        assert doc["meta"]["backend"] == backend
    assert set(got["vllm"]) == set(got["default"]) and len(got["vllm"]) == 31
    for sid, ref in got["default"].items():
        row = got["vllm"][sid]
        assert row["error"] is None and (row["prediction"], row["n_new_tokens"]) == (
            ref["prediction"], ref["n_new_tokens"]), (sid, row, ref)
    assert len({r["prediction"] for r in got["vllm"].values()}) > 1  # the outputs depend on the audio


def test_token_ids_equal_the_transformers_path(checkpoint, tmp_path):
    from qa_eval.run.plan import make_plan

    ids = {b: plan_ids(make_plan(request(checkpoint, tmp_path / b, b))) for b in ("default", "vllm")}
    assert len(ids["vllm"]) == 31 and ids["vllm"] == ids["default"]


def test_a_folder_without_the_mistral_files_is_refused_before_vllm_starts(tmp_path):
    from model_adapters.testing.hf_audio_lm import build_tiny
    from qa_eval.run.plan import make_plan

    transformers_only = build_tiny("voxtral", tmp_path)  # the default builder writes transformers' format only
    plan = make_plan(request(transformers_only, tmp_path / "run", "vllm"))
    with pytest.raises(AdapterError, match="params.json"):
        plan.adapter.load()
