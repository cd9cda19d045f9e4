"""Fixtures for the Whisper adapter tests: the embedded model, converted once per session
(`real_wave` and `sample_wave` come from tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from loading import loaded_adapter
from whisper_testdata import CONFIG, item


@pytest.fixture(scope="session")
def cache_root(tmp_path_factory) -> Path:
    """A fresh qa-eval cache folder (`$XDG_CACHE_HOME/qa-eval` layout) for this session."""
    return tmp_path_factory.mktemp("xdg") / "qa-eval"


@pytest.fixture(scope="session")
def converted(cache_root) -> Path:
    """The embedded tiny.en model converted to a transformers checkpoint (once per session)."""
    from model_adapters.whisper.embedded import embedded_checkpoint

    return embedded_checkpoint(cache_root)


@pytest.fixture(scope="session")
def adapter(converted):
    from model_adapters.whisper.adapter import EmbeddedWhisperTinyEn

    return loaded_adapter(EmbeddedWhisperTinyEn, converted)


@pytest.fixture(scope="session")
def synth_waves(sample_wave) -> list[np.ndarray]:
    return [sample_wave(f"espeak-{k:03d}") for k in (1, 8)]


@pytest.fixture(scope="session")
def waves(real_wave, synth_waves) -> list[np.ndarray]:
    """Real utterance (5.9 s), two short synthetic ones, and the real one padded with silence
    to 31 s (Whisper's window is 30 s: the cut drops only silence)."""
    long_wave = np.concatenate([real_wave, np.zeros(31 * 16_000 - len(real_wave), np.float32)])
    return [real_wave, synth_waves[0], synth_waves[1], long_wave]


@pytest.fixture(scope="session")
def batched(adapter, waves):
    """One batched greedy run over `waves`, shared by the tests that check it."""
    return adapter.generate([item(w) for w in waves], CONFIG)
