"""Fixtures for the audio-LM adapter tests: the tiny checkpoints of the families in TINY (built once
per session), their loaded adapters, and the adapters' names in the model registry.

`registered` makes sure the registry knows the audio-LM adapters for this test process: names
pyproject.toml does not declare yet are added from ENTRY_POINTS (names it declares are left as
they are), and the registry's caches are cleared before and after.
"""

from __future__ import annotations

from importlib.metadata import EntryPoint
from pathlib import Path

import pytest

from qa_eval import registry
from qa_eval.adapter import ModelOptions

def _installed(family: str) -> bool:
    from importlib.util import find_spec

    from model_adapters.hf_audio_lm.families import FAMILIES

    return all(find_spec(module) is not None for module, _ in FAMILIES[family].requires)


# The families with a tiny checkpoint whose extras are installed here: Voxtral needs mistral-common,
# which .venv-vllm has (`make test-vllm` runs these tests there too; tests/vllm checks it does).
TINY = tuple(f for f in ("qwen2.5-omni", "qwen3-omni", "qwen3-asr", "voxtral") if _installed(f))
ENTRY_POINTS = {
    "hf-audio-lm": "model_adapters.hf_audio_lm.adapter:HfAudioLmAdapter",
    "qwen2.5-omni": "model_adapters.hf_audio_lm.named:Qwen25OmniAdapter",
    "qwen3-omni": "model_adapters.hf_audio_lm.named:Qwen3OmniAdapter",
    "qwen3-asr": "model_adapters.hf_audio_lm.named:Qwen3AsrAdapter",
    "voxtral": "model_adapters.hf_audio_lm.named:VoxtralAdapter",
    "granite-speech": "model_adapters.hf_audio_lm.named:GraniteSpeechAdapter",
    "gemma-3n": "model_adapters.hf_audio_lm.named:Gemma3nAdapter",
}


@pytest.fixture(scope="session")
def tiny_root(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("hf_audio_lm_tiny")


@pytest.fixture(scope="session")
def tiny_dirs(tiny_root) -> dict[str, Path]:
    from model_adapters.testing.hf_audio_lm import build_tiny

    return {family: build_tiny(family, tiny_root) for family in TINY}


@pytest.fixture(scope="session")
def adapters(tiny_dirs):
    """family -> its named adapter, loaded on the CPU in float32."""
    out = {}
    for family, folder in tiny_dirs.items():
        out[family] = registry_class(family)(ModelOptions(str(folder), "cpu", "float32"))
        out[family].load()
    return out


def registry_class(name: str):
    """The adapter class of an entry point name (without touching the registry)."""
    return EntryPoint(name, ENTRY_POINTS[name], registry.GROUPS["model"]).load()


@pytest.fixture()
def registered(monkeypatch):
    """The registry, with every audio-LM adapter name known (see the module docstring)."""
    real = registry._entry_points

    def with_audio_lms(group: str):
        found = dict(real(group))
        if group == registry.GROUPS["model"]:
            for name, value in ENTRY_POINTS.items():
                found.setdefault(name, EntryPoint(name, value, group))
        return found

    registry.load.cache_clear()
    monkeypatch.setattr(registry, "_entry_points", with_audio_lms)
    yield registry
    registry.load.cache_clear()
