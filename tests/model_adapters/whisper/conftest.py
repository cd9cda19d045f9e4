"""Fixtures for the Whisper adapter tests: the embedded model, converted once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa_eval.adapter import ModelOptions
from qa_eval.audio import load_audio
from whisper_testdata import CONFIG, REAL, SAMPLE_DIR, item


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

    model = EmbeddedWhisperTinyEn(ModelOptions(str(converted), "cpu", "float32"))
    model.load()
    return model


@pytest.fixture(scope="session")
def real_wave() -> np.ndarray:
    path = REAL if REAL.is_file() else SAMPLE_DIR / "audio" / "1272-128104-0000.flac"
    return load_audio(path)


@pytest.fixture(scope="session")
def synth_waves() -> list[np.ndarray]:
    return [load_audio(SAMPLE_DIR / "audio" / f"espeak-{k:03d}.flac") for k in (1, 8)]


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
