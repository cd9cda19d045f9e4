"""Fixtures for the Qwen2-Audio adapter tests: a tiny random checkpoint built once per session
(`real_wave` and `sample_wave` come from tests/conftest.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from loading import loaded_adapter


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    from model_adapters.testing.qwen2_audio import make_tiny_qwen2_audio

    return make_tiny_qwen2_audio(tmp_path_factory.mktemp("qwen2_audio_tiny"))


@pytest.fixture(scope="session")
def qwen2(tiny_dir):
    from model_adapters.qwen2_audio.adapter import Qwen2AudioAdapter

    return loaded_adapter(Qwen2AudioAdapter, tiny_dir)


@pytest.fixture(scope="session")
def synth_wave(sample_wave) -> np.ndarray:
    return sample_wave("espeak-004")
