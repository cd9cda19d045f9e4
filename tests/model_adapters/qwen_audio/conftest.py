"""Shared fixtures: the tiny Qwen-Audio checkpoint with the official implementation's outputs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "qwen_audio_tiny"


def load_cases() -> list[dict]:
    return [json.loads(line) for line in (FIXTURE / "cases.jsonl").read_text(encoding="utf-8").splitlines() if line]


def load_tokenizer_cases() -> list[dict]:
    lines = (FIXTURE / "tokenizer_cases.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line]


def audio_path(audio: dict) -> Path:
    """The 16 kHz decode the fixture recorded (ffmpeg's samples), or the original when already 16 kHz wav."""
    return FIXTURE / (audio["decoded_wav"] or audio["path"])


def tensor(name: str) -> np.ndarray:
    return np.load(FIXTURE / "tensors" / f"{name}.npy")


CASES = load_cases()
CASE_IDS = [c["id"] for c in CASES]
BATCHED = sorted((c for c in CASES if c.get("batch_index") is not None), key=lambda c: c["batch_index"])


@pytest.fixture(scope="session", autouse=True)
def _threads():
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))


@pytest.fixture(scope="session")
def waveforms() -> dict[str, list[np.ndarray]]:
    from qa_eval.audio import load_audio

    return {c["id"]: [load_audio(audio_path(a)) for a in c["audios"]] for c in CASES}


def _pipeline(dtype: str):
    from model_adapters.qwen_audio.pipeline import QwenAudioPipeline

    return QwenAudioPipeline.from_checkpoint(FIXTURE, "cpu", dtype)


@pytest.fixture(scope="session")
def pipe32():
    return _pipeline("float32")


@pytest.fixture(scope="session")
def pipe16():
    return _pipeline("bfloat16")


@pytest.fixture(scope="session")
def prepared32(pipe32, waveforms):
    return {c["id"]: pipe32.prepare(c["prompt"], waveforms[c["id"]]) for c in CASES}


@pytest.fixture(scope="session")
def prepared16(pipe16, waveforms):
    return {c["id"]: pipe16.prepare(c["prompt"], waveforms[c["id"]]) for c in CASES}


@pytest.fixture(scope="session")
def singles32(pipe32, prepared32):
    """Greedy ids of every case run alone (fast path), float32, as the fixture ran them."""
    return {cid: pipe32.run([p], 24, 24)[0].raw_ids for cid, p in prepared32.items()}
