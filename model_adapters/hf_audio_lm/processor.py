"""The checkpoint's processor, audio and text parts only, and the model inputs of one batch.

Omni processors (Qwen2.5-Omni, Qwen3-Omni, Gemma 3n) also hold an image and a video
processor, which need torchvision. An audio evaluation never uses them, so they are not loaded:
the checkpoint's processor class is built by its own constructor from the checkpoint's tokenizer
(AutoTokenizer), feature extractor (AutoFeatureExtractor), saved settings and chat template, the
visual slots left empty (`EmptyVisualSlot`). Its `__call__` skips a modality whose input is None, so the audio path
is the family's own code, unchanged. Processors with audio and text parts only load through
their `from_pretrained`; checkpoints that name no processor class, through AutoProcessor. Only
public transformers calls are used, so a new transformers release cannot break the loading
through a renamed private helper.

A batch becomes model inputs as each sample's official recipe makes them, alone: the chat
template renders the sample's messages to text (audio placeholders included), and the processor
expands every placeholder to the audio's length and extracts the features from the waveform as
decoded, nothing added (`processor(text=[text], audio=waves)`). Voxtral's processor takes audio
through its chat template only (mistral-common tokenizer): there the waveforms travel as base64
WAV inside the messages. `collate` then batches those inputs, not the waveforms: token-aligned
tensors are left-padded to the longest prompt, and the audio tensors (one row per audio) are
stacked with zeros after each audio's own frames, which its feature mask marks as padding. So
every audio's features are the ones its official batch-1 recipe computes, whatever the batch
(a processor that pads a batch to its longest waveform would give an audio one frame more, and
its last frames the neighbour's silence instead of its own edge, inside a batch than alone).
"""

from __future__ import annotations

import base64
import inspect
import io
import json
from importlib.util import find_spec
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from model_adapters.transformers_common import checkpoint_json, config_load_kwargs
from qa_eval.adapter import ModelOptions
from qa_eval.audio import SAMPLE_RATE
from qa_eval.errors import AdapterError, PrerequisiteError

from .families import Family

_CONFIG_FILES = ("processor_config.json", "preprocessor_config.json", "tokenizer_config.json")
_VISUAL = ("image", "video")  # sub-processor slots an audio evaluation leaves empty


def check_requirements(family: Family) -> None:
    """PrerequisiteError with the install command when a module the family needs is missing."""
    missing = [pip for module, pip in family.requires if find_spec(module) is None]
    if missing:
        raise PrerequisiteError(f"{family.name} needs {', '.join(missing)}: pip install {' '.join(missing)}")


def processor_class(folder: Path, family: Family) -> Any:
    """The processor class the checkpoint's config files name, else the family's; None when
    neither names one (then AutoProcessor decides)."""
    import transformers

    names = [json.loads(p.read_text(encoding="utf-8")).get("processor_class")
             for p in (folder / n for n in _CONFIG_FILES) if p.is_file()]
    name = next((n for n in names if n), None) or family.processor_class
    if name is None:
        return None
    cls = getattr(transformers, name, None)
    if cls is None:
        raise AdapterError(f"{folder}: processor class {name} is not in transformers {transformers.__version__}")
    return cls


def read_model_type(folder: Path) -> str | None:
    return checkpoint_json(folder, "config.json", None, "hf-audio-lm").get("model_type")


def sub_processor_slots(cls: Any) -> list[str]:
    """The sub-processor arguments of a processor class's constructor (tokenizer, feature_extractor,
    image_processor, ...), read from its signature."""
    params = inspect.signature(cls.__init__).parameters
    return [p for p in params if p.endswith(("tokenizer", "feature_extractor", "processor"))]


def is_visual(slot: str) -> bool:
    return any(v in slot for v in _VISUAL)


def load_processor(folder: Path, options: ModelOptions, family: Family) -> Any:
    """The checkpoint's processor with its audio and text parts only (module docstring)."""
    from transformers import AutoProcessor

    check_requirements(family)
    kwargs = config_load_kwargs(folder, options)
    cls = processor_class(folder, family)
    try:
        if cls is None:
            processor = AutoProcessor.from_pretrained(str(folder), **kwargs)
        elif any(is_visual(s) for s in sub_processor_slots(cls)):
            processor = audio_only_processor(cls, folder, kwargs)
        else:
            processor = cls.from_pretrained(str(folder), **kwargs)
    except (OSError, ValueError) as exc:
        raise AdapterError(f"{family.name}: cannot load the processor of {folder}: {exc}") from exc
    tokenizer = getattr(processor, "tokenizer", None)
    if tokenizer is not None and hasattr(tokenizer, "padding_side"):
        tokenizer.padding_side = "left"
    return processor


def audio_only_processor(cls: Any, folder: Path, kwargs: dict[str, Any]) -> Any:
    """An instance of processor class `cls` built by its constructor from the checkpoint's
    tokenizer and feature extractor (AutoTokenizer, AutoFeatureExtractor), its saved settings and
    chat template, with the image and video slots left empty."""
    from transformers import AutoFeatureExtractor, AutoTokenizer

    parts: dict[str, Any] = {}
    for slot in sub_processor_slots(cls):
        if is_visual(slot):
            parts[slot] = EmptyVisualSlot()
        elif slot.endswith("tokenizer"):
            parts[slot] = AutoTokenizer.from_pretrained(str(folder), **kwargs)
        else:
            parts[slot] = AutoFeatureExtractor.from_pretrained(str(folder), **kwargs)
    audio_only = type(cls.__name__, (cls,), {"check_argument_for_proper_class": _allow_empty_visual_slot})
    return audio_only(**parts, **processor_settings(cls, folder))


class EmptyVisualSlot:
    """What an audio-only processor holds in its image and video slots. Some transformers
    versions (5.17) read `merge_size` of both while expanding the audio placeholders, even with
    no image or video in the input; an image or video reaching it is an error."""

    merge_size = 1
    temporal_patch_size = 1
    model_input_names: list[str] = []

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        raise AdapterError("this processor was loaded for audio only: images and videos are not supported")


def _allow_empty_visual_slot(self: Any, argument_name: str, argument: Any) -> Any:
    """The processor's class check, except that an image or video slot may stay empty."""
    if isinstance(argument, EmptyVisualSlot) and is_visual(argument_name):
        return None
    return super(type(self), self).check_argument_for_proper_class(argument_name, argument)


def processor_settings(cls: Any, folder: Path) -> dict[str, Any]:
    """The constructor arguments a checkpoint saves for its processor: the settings in
    processor_config.json that the constructor takes, and the chat template (chat_template.jinja,
    chat_template.json or processor_config.json)."""
    params = set(inspect.signature(cls.__init__).parameters) - set(sub_processor_slots(cls)) - {"self"}
    config_path = folder / "processor_config.json"
    config = json.loads(config_path.read_text(encoding="utf-8")) if config_path.is_file() else {}
    settings = {k: v for k, v in config.items() if k in params}
    jinja, template_json = folder / "chat_template.jinja", folder / "chat_template.json"
    if jinja.is_file():
        settings["chat_template"] = jinja.read_text(encoding="utf-8")
    elif template_json.is_file():
        settings["chat_template"] = json.loads(template_json.read_text(encoding="utf-8")).get("chat_template")
    return settings


def chat_text(processor: Any, msgs: list[dict[str, Any]], continue_answer: bool) -> str:
    """One sample's messages through the checkpoint's chat template (processor's, else tokenizer's)."""
    render = processor if getattr(processor, "chat_template", None) else processor.tokenizer
    if not getattr(render, "chat_template", None):
        raise AdapterError("the checkpoint has no chat template (processor or tokenizer): this adapter needs one")
    flags = {"continue_final_message": True} if continue_answer else {"add_generation_prompt": True}
    return render.apply_chat_template(msgs, tokenize=False, **flags)


def sample_inputs(processor: Any, family: Family, msgs: list[dict[str, Any]], waves: Sequence[np.ndarray],
                  continue_answer: bool) -> dict[str, Any]:
    """One sample's model inputs, as the family's processor makes them for this sample alone."""
    if family.audio_in_template:
        flags = {"continue_final_message": True} if continue_answer else {"add_generation_prompt": True}
        return dict(processor.apply_chat_template([_with_audio(msgs, waves)], tokenize=True, return_dict=True,
                                                  return_tensors="pt", **flags))
    text = chat_text(processor, msgs, continue_answer)
    audio = [np.asarray(w, dtype=np.float32) for w in waves]
    return dict(processor(text=[text], audio=audio, return_tensors="pt", padding=True, sampling_rate=SAMPLE_RATE))


def model_inputs(processor: Any, family: Family, conversations: Sequence[list[dict[str, Any]]],
                 waves: Sequence[Sequence[np.ndarray]], continue_answer: Sequence[bool]) -> dict[str, Any]:
    """Model inputs of one batch (on the CPU): each sample's own inputs, collated."""
    items = [sample_inputs(processor, family, msgs, ws, c) for msgs, ws, c in zip(conversations, waves, continue_answer)]
    pad_id = getattr(processor.tokenizer, "pad_token_id", None)
    return collate(items, 0 if pad_id is None else pad_id)


def is_token_aligned(key: str) -> bool:
    """Whether a model input runs along the prompt's tokens (left-padded) rather than an audio."""
    return key in ("input_ids", "attention_mask", "position_ids") or key.endswith("token_type_ids")


def collate(items: Sequence[dict[str, Any]], pad_id: int) -> dict[str, Any]:
    """One batch from per-sample inputs (module docstring): token-aligned tensors left-padded
    (input_ids with `pad_id`, the rest with 0); audio tensors concatenated along their first axis
    (one row per audio), every other axis zero-padded at its end to the longest."""
    import torch
    import torch.nn.functional as F

    if len(items) == 1:
        return dict(items[0])
    out: dict[str, Any] = {}
    for key in items[0]:
        values = [item[key] for item in items]
        if not all(torch.is_tensor(v) for v in values):
            raise AdapterError(f"cannot batch the processor's {key!r} (not a tensor)")
        if is_token_aligned(key):
            width = max(v.shape[-1] for v in values)
            fill = pad_id if key == "input_ids" else 0
            out[key] = torch.cat([F.pad(v, (width - v.shape[-1], 0), value=fill) for v in values])
            continue
        shape = [max(v.shape[d] for v in values) for d in range(1, values[0].dim())]
        padded_values = []
        for v in values:
            pads = [p for d in reversed(range(1, v.dim())) for p in (0, shape[d - 1] - v.shape[d])]
            padded_values.append(F.pad(v, pads, value=0) if any(pads) else v)
        out[key] = torch.cat(padded_values)
    return out


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
