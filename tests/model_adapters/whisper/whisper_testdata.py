"""Paths and small helpers shared by the Whisper adapter tests."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from qa_eval.adapter import AudioInput
from qa_eval.records import GenerationConfig, Sample

REAL = Path(__file__).resolve().parents[2] / "data" / "1272-128104-0000.flac"
SAMPLE_DIR = Path(__file__).resolve().parents[3] / "tasks" / "data" / "librispeech_sample"
EN_PROMPT = "<|startoftranscript|><|notimestamps|>"
CONFIG = GenerationConfig(max_new_tokens=48)


def item(wave: np.ndarray, prompt: str = EN_PROMPT, sample_id: str = "s") -> AudioInput:
    sample = Sample(sample_id, "test", (f"{sample_id}.flac",), "")
    return AudioInput(sample, prompt, (wave,))
