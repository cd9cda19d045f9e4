"""Small helpers shared by the Whisper adapter tests."""

from __future__ import annotations

import numpy as np

from qa_eval.adapter import AudioInput
from qa_eval.records import GenerationConfig, Sample

EN_PROMPT = "<|startoftranscript|><|notimestamps|>"
CONFIG = GenerationConfig(max_new_tokens=48)


def item(wave: np.ndarray, prompt: str = EN_PROMPT, sample_id: str = "s") -> AudioInput:
    sample = Sample(sample_id, "test", (f"{sample_id}.flac",), "")
    return AudioInput(sample, prompt, (wave,))
