"""`--backend vllm` per audio-LM family, decided before anything loads (the engine itself is
tested in tests/vllm): the families tested with vLLM construct quietly, Qwen2.5-Omni (enabled,
untestable on this CPU) warns why, the rest are refused."""

from __future__ import annotations

import warnings

import pytest

from model_adapters.hf_audio_lm import named
from qa_eval.adapter import ModelOptions
from qa_eval.errors import ConfigError

ADAPTERS = {"qwen2.5-omni": named.Qwen25OmniAdapter, "voxtral": named.VoxtralAdapter,
            "qwen3-asr": named.Qwen3AsrAdapter, "qwen3-omni": named.Qwen3OmniAdapter,
            "granite-speech": named.GraniteSpeechAdapter, "gemma-3n": named.Gemma3nAdapter}


@pytest.fixture()
def vllm_options(monkeypatch) -> ModelOptions:
    import qa_eval.adapter as adapter_module

    monkeypatch.setattr(adapter_module, "backend_distribution", lambda backend: "vllm")  # as if installed
    return ModelOptions("unused-checkpoint", "cpu", "float32", backend="vllm")


def test_voxtral_takes_the_vllm_backend_without_a_warning(vllm_options):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ADAPTERS["voxtral"](vllm_options)


def test_qwen25_omni_warns_that_its_vllm_path_is_untested(vllm_options):
    with pytest.warns(UserWarning, match="untested against the transformers path for qwen2.5-omni .*torchvision"):
        ADAPTERS["qwen2.5-omni"](vllm_options)


@pytest.mark.parametrize("family", ["qwen3-asr", "qwen3-omni", "granite-speech", "gemma-3n"])
def test_other_families_refuse_the_vllm_backend(vllm_options, family):
    with pytest.raises(ConfigError, match="--backend vllm is not"):
        ADAPTERS[family](vllm_options)
