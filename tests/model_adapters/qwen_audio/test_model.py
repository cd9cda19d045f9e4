"""Encoder features, final hidden states and last-position logits vs the official implementation.

Measured on this fixture, CPU, 2 threads (max over all 10 cases):
  float32: audio_feats 3.2e-06, hidden_final 2.8e-06, logits_last 5.7e-06 (max abs);
           asserted with the README's atol 1e-3 / 1e-3 / 2e-3.
  bfloat16 (weights, activations; norms/RoPE/logits in float32): audio_feats 0.041,
           hidden_final 0.047, logits_last 0.151 (max abs; logits std ~2.7, top values ~12);
           asserted with atol 0.08 / 0.1 / 0.3.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model_adapters.qwen_audio.generate import PositionTables, left_pad

from .conftest import CASES, tensor

TOL = {"float32": (1e-3, 1e-3, 2e-3), "bfloat16": (0.08, 0.1, 0.3)}


def forward_one(pipe, prepared):
    """(audio feats list, hidden_final [T, H], logits_last [V]) of one prompt, unpadded."""
    m = pipe.model
    feats = pipe.audio_features([prepared])
    batch = left_pad([prepared.input_ids], 151643, m.device)
    x = m.embed(batch.input_ids, feats)
    n = x.shape[1]
    pos = PositionTables.build(m, batch, n)
    cos, sin, logn = pos.window(n)
    with torch.inference_mode():
        h = m.hidden_states(x, cos, sin, logn, pos.causal_mask(n, m.dtype))
        logits = m.logits(h[0, -1])
    return feats, h[0].float().cpu().numpy(), logits.cpu().numpy()


def check_against_reference(pipe, prepared, case, dtype):
    tol_f, tol_h, tol_l = TOL[dtype]
    feats, hidden, logits = forward_one(pipe, prepared[case["id"]])
    assert len(feats) == len(case["audios"])
    for k, f in enumerate(feats):
        ref = tensor(f"{case['id']}.audio_feats{k}")
        assert f.shape == ref.shape
        np.testing.assert_allclose(f.float().cpu().numpy(), ref, atol=tol_f, rtol=0, err_msg=f"audio_feats{k}")
    np.testing.assert_allclose(hidden, tensor(f"{case['id']}.hidden_final"), atol=tol_h, rtol=0)
    np.testing.assert_allclose(logits, tensor(f"{case['id']}.logits_last"), atol=tol_l, rtol=0)


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_float32_matches_reference(pipe32, prepared32, case):
    check_against_reference(pipe32, prepared32, case, "float32")


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bfloat16_close_to_reference(pipe16, prepared16, case):
    assert pipe16.model.dtype == torch.bfloat16
    check_against_reference(pipe16, prepared16, case, "bfloat16")


def test_multi_audio_context_quirk(pipe32, prepared32):
    """The shorter clip of `two_audios` matches the reference only when its conv sees the one
    extra mel frame the reference's shared encoder batch gives it (README quirk 2)."""
    p = prepared32["two_audios"]
    enc = pipe32.model.transformer.audio
    from model_adapters.qwen_audio.features import log_mel_batch

    mels = log_mel_batch(p.waveforms, pipe32.mel_filters)
    alone = enc.encode(mels, p.lengths)  # each clip on its own
    ref = tensor("two_audios.audio_feats1")
    assert np.abs(alone[1].numpy() - ref).max() > 1e-3  # differs without the quirk
    np.testing.assert_allclose(alone[0].numpy(), tensor("two_audios.audio_feats0"), atol=1e-5)
    # ... and alone it matches the single-audio case of the same clip
    np.testing.assert_allclose(alone[1].numpy(), tensor("aac_glass_mp3.audio_feats0"), atol=1e-5)


def test_encoder_batching_is_exact(pipe32, prepared32):
    """Encoding audios of different prompts together (true lengths, padded to the longest) gives
    each audio the same features as encoding its prompt alone."""
    ids = ["short_0p555s", "two_audios", "long_music_96s", "asr_en_flac"]
    together = pipe32.audio_features([prepared32[i] for i in ids])
    alone = [f for i in ids for f in pipe32.audio_features([prepared32[i]])]
    for a, b in zip(together, alone):
        assert a.shape == b.shape
        assert torch.allclose(a, b, atol=1e-5)
