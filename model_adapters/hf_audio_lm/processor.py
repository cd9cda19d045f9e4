"""The checkpoint's processor, audio and text parts only, and the model inputs of one batch.

Omni processors (Qwen2.5-Omni, Qwen3-Omni, Phi-4-multimodal, Gemma 3n) also hold an image and a
video processor, which need torchvision. An audio evaluation never uses them, so they are not
loaded: the processor class of the checkpoint is built with its tokenizer, feature extractor
(or audio processor) and chat template only, the other slots left empty. Its `__call__` skips
a modality whose input is None, so the audio path is the family's own code, unchanged.
Processors with audio and text parts only load as transformers loads them.

A batch becomes model inputs in two steps: the chat template renders each sample's messages
to text (audio placeholders included), then the processor expands every placeholder to the
audio's length and extracts the features (`processor(text=..., audio=...)`, left padding).
Voxtral's processor takes audio through its chat template only (mistral-common tokenizer):
there the waveforms travel as base64 WAV inside the messages.

Batch invariance: feature extractors that pad a batch to its longest audio (rather than to a
fixed window, e.g. Qwen3-Omni's) give an audio one mel frame more inside a batch than alone when
its length is not a whole number of 10-ms hops, and its last frames see the neighbour's zero
padding instead of its own reflection padding: the audio token count, and so the answer, would
depend on the batch. Every waveform is therefore padded with zeros up to a whole hop, at least
half an FFT window of them (15-25 ms of trailing silence); its features are then the same in
any batch. Qwen3-ASR's extractor also pads the mel frames of the last 1-s encoder chunk with a
constant where, in a batch, a longer neighbour gives them the mel of silence, and its encoder
convolves those frames into the chunk's last outputs: there audios are padded with silence to
whole chunks (`Family.pad_to_s`).
"""

from __future__ import annotations

import base64
import io
import json
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from model_adapters.transformers_common import checkpoint_json
from qa_eval.adapter import ModelOptions
from qa_eval.audio import SAMPLE_RATE
from qa_eval.errors import AdapterError, PrerequisiteError

from .families import Family

AUDIO_PARTS = ("tokenizer", "feature_extractor", "audio_processor")
_CONFIG_FILES = ("processor_config.json", "preprocessor_config.json", "tokenizer_config.json")
HOP = 160  # 10 ms at 16 kHz: the hop of every audio-LM feature extractor here
TAIL = 240  # > n_fft / 2 (400 / 2): the last frame's window then ends in the audio's own zeros


def check_requirements(family: Family) -> None:
    """PrerequisiteError with the install command when a module the family needs is missing."""
    missing = [pip for module, pip in family.requires if find_spec(module) is None]
    if missing:
        raise PrerequisiteError(f"{family.name} needs {', '.join(missing)}: pip install {' '.join(missing)}")


def processor_class(folder: Path, family: Family) -> Any:
    """The processor class a checkpoint folder names (its config files, else its model_type)."""
    from transformers.models.auto.processing_auto import PROCESSOR_MAPPING_NAMES, processor_class_from_name

    for name in _CONFIG_FILES:
        path = folder / name
        if path.is_file():
            found = json.loads(path.read_text(encoding="utf-8")).get("processor_class")
            if found:
                return processor_class_from_name(found)
    model_type = read_model_type(folder)
    for mt in (model_type, *family.model_types):
        if mt in PROCESSOR_MAPPING_NAMES:
            return processor_class_from_name(PROCESSOR_MAPPING_NAMES[mt])
    raise AdapterError(f"{folder}: no processor class (no processor_class in {', '.join(_CONFIG_FILES)}, "
                       f"and transformers maps none to model_type {model_type!r})")


def read_model_type(folder: Path) -> str | None:
    return checkpoint_json(folder, "config.json", None, "hf-audio-lm").get("model_type")


def load_processor(folder: Path, options: ModelOptions, family: Family) -> Any:
    """The checkpoint's processor with its audio and text parts only (module docstring)."""
    from transformers import ProcessorMixin
    from transformers.processing_utils import _get_modality_for_attribute

    check_requirements(family)
    cls = processor_class(folder, family)
    kwargs = {k: v for k, v in options.hf_load_kwargs(str(folder)).items() if k != "use_safetensors"}
    attrs = cls.get_attributes()
    kept = [a for a in attrs if _get_modality_for_attribute(a) in AUDIO_PARTS]
    try:
        if kept == attrs:
            processor = cls.from_pretrained(str(folder), **kwargs)
        else:
            audio_only = type(cls.__name__, (cls,), {"check_argument_for_proper_class": _allow_empty_slots})
            parts = type(f"{cls.__name__}Parts", (cls,), {"get_attributes": classmethod(lambda c: kept)})
            processor_dict, init_kwargs = cls.get_processor_dict(str(folder), **kwargs)
            loaded = iter(ProcessorMixin._get_arguments_from_pretrained.__func__(
                parts, str(folder), processor_dict, **kwargs))
            args = [next(loaded) if a in kept else None for a in attrs]
            processor = audio_only.from_args_and_dict(args, processor_dict, **init_kwargs)
    except (OSError, ValueError) as exc:
        raise AdapterError(f"{family.name}: cannot load the processor of {folder}: {exc}") from exc
    tokenizer = getattr(processor, "tokenizer", None)
    if tokenizer is not None and hasattr(tokenizer, "padding_side"):
        tokenizer.padding_side = "left"
    return processor


def _allow_empty_slots(self: Any, argument_name: str, argument: Any) -> Any:
    """Processor check that lets the image/video slots stay empty (audio evaluation)."""
    from transformers import ProcessorMixin
    from transformers.processing_utils import _get_modality_for_attribute

    if argument is None and _get_modality_for_attribute(argument_name) not in AUDIO_PARTS:
        return None
    return ProcessorMixin.check_argument_for_proper_class(self, argument_name, argument)


def chat_text(processor: Any, msgs: list[dict[str, Any]], continue_answer: bool) -> str:
    """One sample's messages through the checkpoint's chat template (processor's, else tokenizer's)."""
    render = processor if getattr(processor, "chat_template", None) else processor.tokenizer
    if not getattr(render, "chat_template", None):
        raise AdapterError("the checkpoint has no chat template (processor or tokenizer): this adapter needs one")
    flags = {"continue_final_message": True} if continue_answer else {"add_generation_prompt": True}
    return render.apply_chat_template(msgs, tokenize=False, **flags)


def padded(wave: np.ndarray, multiple: int = HOP) -> np.ndarray:
    """The waveform with trailing zeros, at least TAIL of them, up to a whole `multiple` of
    samples (module docstring)."""
    n = len(wave)
    target = -(-(n + TAIL) // multiple) * multiple
    return np.concatenate([np.asarray(wave, dtype=np.float32), np.zeros(target - n, dtype=np.float32)])


def model_inputs(processor: Any, family: Family, conversations: Sequence[list[dict[str, Any]]],
                 waves: Sequence[Sequence[np.ndarray]], continue_answer: Sequence[bool]) -> Any:
    """Tokenized, left-padded inputs and audio features of one batch (BatchFeature, on the CPU)."""
    multiple = int(family.pad_to_s * SAMPLE_RATE) if family.pad_to_s else HOP
    waves = [[padded(w, multiple) for w in ws] for ws in waves]
    flat = [w for ws in waves for w in ws]
    if family.audio_in_template:
        filled = [_with_audio(msgs, ws) for msgs, ws in zip(conversations, waves)]
        flags = {"continue_final_message": True} if all(continue_answer) else {"add_generation_prompt": True}
        return processor.apply_chat_template(filled, tokenize=True, return_dict=True, return_tensors="pt", **flags)
    texts = [chat_text(processor, msgs, c) for msgs, c in zip(conversations, continue_answer)]
    return processor(text=texts, audio=flat, return_tensors="pt", padding=True, sampling_rate=SAMPLE_RATE)


def _with_audio(msgs: list[dict[str, Any]], waves: Sequence[np.ndarray]) -> list[dict[str, Any]]:
    """The messages with each audio placeholder carrying its waveform as base64 WAV."""
    import soundfile as sf

    it = iter(waves)
    out = []
    for m in msgs:
        content = m["content"]
        if isinstance(content, list):
            content = [_audio_item(next(it), sf) if c.get("type") == "audio" else c for c in content]
        out.append({**m, "content": content})
    return out


def _audio_item(wave: np.ndarray, sf: Any) -> dict[str, str]:
    buf = io.BytesIO()
    sf.write(buf, np.asarray(wave, dtype=np.float32), SAMPLE_RATE, format="WAV", subtype="FLOAT")
    return {"type": "audio", "base64": base64.b64encode(buf.getvalue()).decode("ascii")}


def window_s(processor: Any, family: Family) -> float | None:
    """Seconds of audio the processor keeps for families whose processor pads and cuts every audio
    to the feature extractor's window (`Family.cuts_audio`: its n_samples), else None."""
    extractor = getattr(processor, "feature_extractor", None)
    n = getattr(extractor, "n_samples", None) if family.cuts_audio else None
    sr = getattr(extractor, "sampling_rate", None) or SAMPLE_RATE
    return float(n) / sr if n else None
