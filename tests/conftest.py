"""Shared test setup: the `gpu` marker skips without CUDA; tests run on the CPU by default.

Also the real-audio fixtures that several adapter test folders use (`real_wave`, `sample_wave`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"
SAMPLE_DIR = ROOT / "tasks" / "data" / "librispeech_sample"
REAL_FLAC = "1272-128104-0000.flac"  # LibriSpeech dev-clean, 5.855 s

# `pytest` (unlike `python -m pytest`) does not put the checkout on sys.path, while this folder
# is put there for this file: `model_adapters` would then name tests/model_adapters (a namespace
# package) instead of the real package. The checkout first makes both commands import the same.
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


def _cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    if _cuda_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU (none on this machine)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def sample_wave():
    """name -> the 16 kHz mono waveform of tasks/data/librispeech_sample/audio/<name>.flac
    (decoded once per session)."""
    from qa_eval.audio import load_audio

    cache = {}

    def load(name: str):
        if name not in cache:
            cache[name] = load_audio(SAMPLE_DIR / "audio" / f"{name}.flac")
        return cache[name]

    return load


@pytest.fixture(scope="session")
def real_wave(sample_wave):
    """The real LibriSpeech utterance (tests/data, else its copy in the bundled sample)."""
    from qa_eval.audio import load_audio

    path = DATA / REAL_FLAC
    return load_audio(path) if path.is_file() else sample_wave(Path(REAL_FLAC).stem)
