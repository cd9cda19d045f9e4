"""Fixtures for the Qwen2-Audio adapter tests: a tiny random checkpoint built once per session."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from qa_eval.adapter import ModelOptions
from qa_eval.audio import load_audio

REAL = Path(__file__).resolve().parents[2] / "data" / "1272-128104-0000.flac"
SAMPLE_DIR = Path(__file__).resolve().parents[3] / "tasks" / "data" / "librispeech_sample"


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    from model_adapters.qwen2_audio.tiny import make_tiny_qwen2_audio

    return make_tiny_qwen2_audio(tmp_path_factory.mktemp("qwen2_audio_tiny"))


@pytest.fixture(scope="session")
def qwen2(tiny_dir):
    from model_adapters.qwen2_audio.adapter import Qwen2AudioAdapter

    adapter = Qwen2AudioAdapter(ModelOptions(str(tiny_dir), "cpu", "float32"))
    adapter.load()
    return adapter


@pytest.fixture(scope="session")
def real_wave() -> np.ndarray:
    path = REAL if REAL.is_file() else SAMPLE_DIR / "audio" / "1272-128104-0000.flac"
    return load_audio(path)


@pytest.fixture(scope="session")
def synth_wave() -> np.ndarray:
    return load_audio(SAMPLE_DIR / "audio" / "espeak-004.flac")
