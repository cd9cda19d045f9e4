"""Out-of-memory back-off in the run loop, with the real Whisper tiny.en and real audio.

CUDA cannot run here, so the allocator limit is simulated: the adapter raises
torch.cuda.OutOfMemoryError (the exception PyTorch raises) for batches above a size. The model,
audio and decoding are real; the outputs must equal an unconstrained run's, in order.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from model_adapters.whisper.adapter import EmbeddedWhisperTinyEn
from qa_eval import registry
from qa_eval.adapter import AudioInput, ModelOptions
from qa_eval.audio import load_audio
from qa_eval.manifest import load_manifest
from qa_eval.records import GenerationConfig
from qa_eval.errors import OutOfMemoryAtBatchSizeOne
from qa_eval.run.loop import BatchRunner as BatchGenerator


class LimitedMemoryWhisper(EmbeddedWhisperTinyEn):
    """The real model on a 'GPU' that fits at most `limit` samples per batch."""

    limit = 2

    def generate(self, batch, config):
        if len(batch) > self.limit:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return super().generate(batch, config)


class NoMemoryWhisper(LimitedMemoryWhisper):
    limit = 0


@pytest.fixture(scope="module")
def inputs() -> list[AudioInput]:
    task = registry.load("task", "librispeech-sample")
    samples = load_manifest(Path(task.manifest))[:5]
    prompt = "<|startoftranscript|><|notimestamps|>"
    return [AudioInput(s, prompt, tuple(load_audio(a) for a in s.audio)) for s in samples]


def _adapter(cls):
    adapter = cls(ModelOptions(None, "cpu", "float32"))
    adapter.load()
    return adapter


def test_backoff_gives_the_same_outputs(inputs) -> None:
    config = GenerationConfig(max_new_tokens=40)
    want = [g.text for g in BatchGenerator(_adapter(EmbeddedWhisperTinyEn), config)(inputs)]
    limited = BatchGenerator(_adapter(LimitedMemoryWhisper), config)
    got = [g.text for g in limited(inputs)]
    assert got == want and all(got)
    assert limited.n_backoffs >= 1 and limited.max_batch <= 2
    # The learnt size is used for the next batch straight away (no new out-of-memory).
    before = limited.n_backoffs
    assert [g.text for g in limited(inputs)] == want and limited.n_backoffs == before


def test_out_of_memory_at_batch_size_one_is_a_clear_error(inputs) -> None:
    gen = BatchGenerator(_adapter(NoMemoryWhisper), GenerationConfig(max_new_tokens=8))
    with pytest.raises(OutOfMemoryAtBatchSizeOne, match=r"out of memory at batch size 1 \(sample"):
        gen(inputs[:2])
