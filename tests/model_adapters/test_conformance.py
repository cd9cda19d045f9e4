"""The adapter conformance suite: every registered model adapter, on its own tiny checkpoint.

An adapter gets these tests by registering in the `qa_eval.models` entry-point group and
building a tiny checkpoint in `conformance_checkpoint`. Each test goes through the run loop's
`BatchRunner` (the one place that owns batching, out-of-memory back-off and isolation):

* batch 1 == batch N;
* out of memory above k rows: the size is learnt, no sample fails, none is lost or repeated;
* out of memory at one row: `OutOfMemoryAtBatchSizeOne`;
* a corrupt sample fails alone.

Out of memory is simulated where a GPU would raise it: `model_adapters.testing.oom.AllocationLimit`
(a TorchDispatchMode) makes every allocation above a byte limit raise torch.cuda.OutOfMemoryError
inside the adapter's own torch calls. The limit is calibrated per adapter between the largest
allocation of k and k + 1 rows. (`make gpu-check` runs the same back-off with a real CUDA cap.)
"""

from __future__ import annotations

import numpy as np
import pytest

from model_adapters.testing.oom import AllocationLimit, peak_bytes
from qa_eval import registry
from qa_eval.adapter import AudioInput, ModelOptions
from qa_eval.errors import OutOfMemoryAtBatchSizeOne, PrerequisiteError
from qa_eval.intent import PromptIntent
from qa_eval.records import GenerationConfig, Sample
from qa_eval.run.loop import BatchRunner

CONFIG = GenerationConfig(max_new_tokens=6, min_new_tokens=1)
N_INPUTS, FITS = 5, 2  # five inputs, a simulated device that fits two rows
CLIP_S = 2.0
CLIPS = ("espeak-001", "espeak-004", "espeak-008", "espeak-012", "espeak-020")


def _adapter_names() -> list[str]:
    return registry.names("model")


@pytest.fixture(scope="module", params=_adapter_names())
def adapter(request, tmp_path_factory):
    cls = registry.load("model", request.param)
    try:
        checkpoint = cls.conformance_checkpoint(tmp_path_factory.mktemp(request.param))
    except PrerequisiteError as exc:  # a family whose own libraries are not installed here
        pytest.skip(f"{request.param}: {exc}")
    model = cls(ModelOptions(checkpoint, "cpu", "float32"))
    model.load()
    return model


@pytest.fixture(scope="module")
def inputs(adapter, sample_wave) -> list[AudioInput]:
    """Five real clips cut to the same length (allocations then depend on the row count only)."""
    prompt = adapter.render_prompt(PromptIntent("transcribe", audio_lang="en", output_lang="en"), 1)
    n = int(CLIP_S * 16_000)
    return [AudioInput(Sample(name, "conformance", (f"{name}.flac",), "ref"), prompt,
                       (np.ascontiguousarray(sample_wave(name)[:n]),)) for name in CLIPS[:N_INPUTS]]


@pytest.fixture(scope="module")
def expected(adapter, inputs) -> list[str]:
    """Each input decoded alone, without any memory limit."""
    out = [BatchRunner(adapter, CONFIG)([x])[0] for x in inputs]
    assert all(g.error is None and g.text is not None for g in out), [g.error for g in out]
    return [g.text for g in out]


def test_batch_one_equals_batch_n(adapter, inputs, expected):
    got = BatchRunner(adapter, CONFIG)(inputs)
    assert [g.text for g in got] == expected


LENGTHS_S = (1.0, 4.5, 11.0, 19.5, 30.0)  # from a word to the longest window any family takes


def test_batch_one_equals_batch_n_on_clips_of_very_different_lengths(adapter, sample_wave):
    """One batch of clips from 1 s to 30 s (real speech, repeated to length) gives every clip what
    it gets alone: padding never reaches a clip's features or its answer."""
    prompt = adapter.render_prompt(PromptIntent("transcribe", audio_lang="en", output_lang="en"), 1)
    speech = np.concatenate([sample_wave(name) for name in CLIPS])
    clips = [np.ascontiguousarray(np.resize(speech, int(s * 16_000)).astype(np.float32)) for s in LENGTHS_S]
    inputs = [AudioInput(Sample(f"len{s}", "conformance", (f"len{s}.flac",), "ref"), prompt, (c,))
              for s, c in zip(LENGTHS_S, clips)]
    alone = [BatchRunner(adapter, CONFIG)([x])[0] for x in inputs]
    together = BatchRunner(adapter, CONFIG)(inputs)
    assert all(g.error is None for g in alone), [g.error for g in alone]
    assert [g.token_ids for g in together] == [g.token_ids for g in alone]


def test_out_of_memory_above_k_rows_learns_the_size(adapter, inputs, expected):
    fits, too_many = peak_bytes(adapter, inputs[:FITS], CONFIG), peak_bytes(adapter, inputs[:FITS + 1], CONFIG)
    assert too_many > fits, "the largest allocation must grow with the rows for this test to bite"
    runner = BatchRunner(adapter, CONFIG)
    with AllocationLimit((fits + too_many) // 2):
        got = runner(inputs)
        assert runner.n_backoffs >= 1 and runner.max_batch is not None and runner.max_batch <= FITS
        assert [g.text for g in got] == expected  # none failed, lost, repeated or reordered
        before = runner.n_backoffs
        assert [g.text for g in runner(inputs)] == expected and runner.n_backoffs == before  # size learnt


def test_out_of_memory_at_one_row_is_a_clear_error(adapter, inputs):
    one = peak_bytes(adapter, inputs[:1], CONFIG)
    with AllocationLimit(one - 1), pytest.raises(OutOfMemoryAtBatchSizeOne, match="out of memory at batch size 1"):
        BatchRunner(adapter, CONFIG)(inputs[:2])


def test_a_corrupt_sample_fails_alone(adapter, inputs, expected):
    bad = np.array(inputs[1].waveforms[0])
    bad[100:200] = np.nan
    batch = list(inputs)
    batch[1] = AudioInput(inputs[1].sample, inputs[1].prompt, (bad,))
    got = BatchRunner(adapter, CONFIG)(batch)
    assert got[1].text is None and "NaN" in got[1].error
    assert [g.text for i, g in enumerate(got) if i != 1] == [t for i, t in enumerate(expected) if i != 1]


def test_a_sample_the_model_fails_on_fails_alone(adapter, inputs, expected, monkeypatch):
    """The model itself fails on one sample of the batch: the run loop halves the batch until
    that sample stands alone, records it as failed, and decodes every other sample as usual."""
    real = adapter.generate_batch
    poisoned = inputs[2].sample.id

    def failing(batch, config):
        if any(item.sample.id == poisoned for item in batch):
            raise RuntimeError("kernel failed on this sample")
        return real(batch, config)

    monkeypatch.setattr(adapter, "generate_batch", failing)
    got = BatchRunner(adapter, CONFIG)(list(inputs))
    assert got[2].text is None and "kernel failed on this sample" in got[2].error
    assert [g.text for i, g in enumerate(got) if i != 2] == [t for i, t in enumerate(expected) if i != 2]
