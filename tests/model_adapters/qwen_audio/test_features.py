"""Log-mel front end and length arithmetic vs the reference's recorded mels.

Measured (float32, CPU, 2 threads): max abs error of the mel vs tensors/*.mel*.npy = 0.0
(bit-identical) on every stored mel; asserted with the README's atol 1e-4.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_adapters.qwen_audio.features import MAX_SAMPLES, AudioLengths, load_mel_filters, log_mel_batch
from qa_eval.errors import AdapterError

from .conftest import CASES, FIXTURE

STORED_MELS = [
    (c["id"], k) for c in CASES for k in range(len(c["audios"]))
    if (FIXTURE / "tensors" / f"{c['id']}.mel{k}.npy").is_file()
]


@pytest.fixture(scope="module")
def filters():
    return load_mel_filters(FIXTURE)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_lengths_match_reference(case, waveforms):
    for a, w in zip(case["audios"], waveforms[case["id"]]):
        assert w.shape[0] == a["num_samples"]
        n = AudioLengths.from_num_samples(w.shape[0])
        assert (n.num_samples_used, n.mel_len, n.after_cnn_len, n.audio_token_num, n.span_tokens) == (
            a["num_samples_used"], a["mel_len"], a["after_cnn_len"], a["audio_token_num"], a["audio_span_tokens"]
        )
        assert n.truncated == (a["num_samples"] > MAX_SAMPLES)


def test_mels_match_reference_batched(filters, waveforms):
    assert len(STORED_MELS) >= 6
    waves = [waveforms[cid][k] for cid, k in STORED_MELS]
    mels = log_mel_batch(waves, filters, "cpu", chunk=3)  # several chunks, mixed lengths
    assert mels.shape == (len(waves), 80, 3000) and mels.dtype == torch.float32
    for (cid, k), mel in zip(STORED_MELS, mels):
        ref = np.load(FIXTURE / "tensors" / f"{cid}.mel{k}.npy")
        np.testing.assert_allclose(mel.numpy(), ref, atol=1e-4, rtol=0, err_msg=f"{cid} mel{k}")


def test_batched_equals_single(filters, waveforms):
    waves = [waveforms["short_0p555s"][0], waveforms["long_music_96s"][0]]
    both = log_mel_batch(waves, filters)
    for i, w in enumerate(waves):
        assert torch.allclose(both[i], log_mel_batch([w], filters)[0], atol=1e-5)


def test_too_short_audio_is_refused():
    with pytest.raises(AdapterError, match="too short"):
        AudioLengths.from_num_samples(300)
    assert AudioLengths.from_num_samples(480).span_tokens == 3


def test_missing_filters(tmp_path):
    with pytest.raises(AdapterError, match="mel_filters.npz"):
        load_mel_filters(tmp_path)
