"""The engine on CUDA (marked `gpu`: skipped without a CUDA device, as in CI).

Same checks as on the CPU, against the official implementation's recorded tensors and ids:
float32 parity of features / hidden states / logits, greedy ids single and batched (up to the
first step whose recorded margin is too small for float32 rounding to decide), bfloat16 within
the CPU bfloat16 tolerances, the compiled (CUDA graph) decode step equal to the eager one, and
the `--batch-size auto` estimate above the memory a batch really allocates.
"""

from __future__ import annotations

import pytest
import torch

from model_adapters.qwen_audio.pipeline import QwenAudioPipeline

from .conftest import BATCHED, CASES, FIXTURE
from .test_model import check_against_reference

pytestmark = pytest.mark.gpu

EOD = 151643
MARGIN_F32 = 1e-3  # a recorded top1 - top2 margin below this may flip under float32 rounding


@pytest.fixture(scope="module", autouse=True)
def _exact_float32():
    """cuDNN's TF32 convolutions would move the encoder's float32 outputs by ~1e-3."""
    old = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = old


@pytest.fixture(scope="module")
def cuda32(waveforms):
    pipe = QwenAudioPipeline.from_checkpoint(FIXTURE, "cuda", "float32")
    return pipe, {c["id"]: pipe.prepare(c["prompt"], waveforms[c["id"]]) for c in CASES}


@pytest.fixture(scope="module")
def cuda16(waveforms):
    pipe = QwenAudioPipeline.from_checkpoint(FIXTURE, "cuda", "bfloat16")
    return pipe, {c["id"]: pipe.prepare(c["prompt"], waveforms[c["id"]]) for c in CASES}


def _decidable(case) -> int:
    return next((i for i, m in enumerate(case["greedy_margins_single"]) if m < MARGIN_F32),
                len(case["greedy_ids_single"]))


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_cuda_matches_reference_tensors(cuda32, cuda16, case, dtype):
    pipe, prepared = cuda32 if dtype == "float32" else cuda16
    check_against_reference(pipe, prepared, case, dtype)


def test_cuda_greedy_ids_single_and_batched(cuda32):
    pipe, prepared = cuda32
    batched = pipe.run([prepared[c["id"]] for c in BATCHED], 24, 24)
    for case, r in zip(BATCHED, batched):
        n = _decidable(case)
        assert r.raw_ids[:n] == case["greedy_ids_single"][:n], case["id"]
    for case in CASES:
        n = _decidable(case)
        assert pipe.run([prepared[case["id"]]], 24, 24)[0].raw_ids[:n] == case["greedy_ids_single"][:n], case["id"]


def test_cuda_compiled_step_equals_eager(cuda32):
    pipe, prepared = cuda32
    compiled = QwenAudioPipeline(pipe.model, pipe.tokenizer, pipe.mel_filters, compile_step=True)
    batch = [prepared[c["id"]] for c in BATCHED]
    eager = [r.raw_ids for r in pipe.run(batch, 24, 24)]
    for _ in range(2):  # the second pass replays the recorded CUDA graphs
        assert [r.raw_ids for r in compiled.run(batch, 24, 24)] == eager


def test_cuda_auto_batch_estimate_covers_the_real_peak():
    from model_adapters.qwen_audio.bench.modes import build_engine
    from model_adapters.qwen_audio.bench.workload import PROMPT, shape_config, synth_clip
    from model_adapters.qwen_audio.memory import encoder_reserve, row_bytes

    pipe = build_engine(shape_config("small"), "cuda", "bfloat16")
    cfg = pipe.model.config
    for rows, seconds, new in [(32, 30.0, 64), (128, 5.0, 32)]:
        prepared = [pipe.prepare(PROMPT, [synth_clip(seconds, i)]) for i in range(rows)]
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        base = torch.cuda.memory_allocated()
        torch.cuda.reset_peak_memory_stats()
        pipe.run(prepared, new, new)
        torch.cuda.synchronize()
        measured = torch.cuda.max_memory_allocated() - base
        estimate = rows * row_bytes(cfg, 2, new, seconds) + encoder_reserve(cfg, 2)
        assert measured <= estimate <= 4 * measured, (rows, seconds, measured, estimate)
