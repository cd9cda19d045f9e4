"""The per-family table: how each audio-LM family is loaded and asked for each task.

A `Family` names the transformers class that runs it (thinker only for the Qwen-Omni models:
no speech output is ever built), its default hub checkpoint, how an audio goes into a chat
message (a `{"type": "audio"}` content item, or a token written into the text), the default
system prompt, and the instruction wording per task kind. Every wording says where it comes
from: `verified` with its source (a model card, the official repository, or the processor in
the installed transformers), or `ours` (written here; the NEUTRAL table, shared by all
families so that `--model-option instruction_style=neutral` asks every model the same words).

Wordings are `str.format` templates over: {lang} (language of the audio), {src}/{tgt}
(translation), {question}, {choices} (" Choose one of: a, b, c." when the intent lists its
labels, else empty), {options} (a multiple-choice question's options, one "- text" per line).
Families refuse what their outputs cannot express (word timestamps, Qwen-Audio's NSynth tags):
every family here does (AdapterError from `prompt.instruction`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Mapping

VERIFIED, OURS = "verified", "ours"


@dataclass(frozen=True)
class Wording:
    text: str  # str.format template (see the module docstring)
    status: str = OURS  # VERIFIED or OURS
    source: str = ""  # where a verified wording is stated


def ours(text: str) -> Wording:
    return Wording(text, OURS)


def verified(text: str, source: str) -> Wording:
    return Wording(text, VERIFIED, source)


# Keys: a kind, or "classify:<label_set>" / "caption:<label_set>" for one label set.
NEUTRAL: Mapping[str, Wording] = MappingProxyType({
    "transcribe": ours("Transcribe the {lang} speech in this audio. Output only the transcription."),
    "translate": ours("Translate the {src} speech in this audio into {tgt}. Output only the translation."),
    "caption": ours("Describe the sounds in this audio in one English sentence."),
    "question": ours("{question} Answer with a single word or a short phrase."),
    "classify:scene": ours("Which acoustic scene was this audio recorded in? "
                           "Answer with the scene name only.{choices}"),
    "classify:emotion": ours("What emotion does the speaker express? Answer with one word.{choices}"),
    "classify:vocal_sound": ours("Which human vocal sound is this? Answer with one word or two.{choices}"),
    # MMAU states no prompt; the options are unlettered so that the answer is an option's text,
    # which its scorer matches.
    "choose": ours("{question}\nOptions:\n{options}\nAnswer with the text of one option only."),
})

_QWEN25_OMNI_SYSTEM = verified(
    "You are Qwen, a virtual human developed by the Qwen Team, Alibaba Group, capable of perceiving "
    "auditory and visual inputs, as well as generating text and speech.",
    "github.com/QwenLM/Qwen2.5-Omni README (usage examples and 'Prompt for audio output')",
)
_GRANITE_SYSTEM = verified(
    "Knowledge Cutoff Date: April 2024.\nToday's Date: December 19, 2024.\n"
    "You are Granite, developed by IBM. You are a helpful AI assistant",
    "transformers docs/source/en/model_doc/granite_speech_plus.md (SYSTEM_PROMPT of the usage example)",
)
_GRANITE_ASR = verified(
    "can you transcribe the speech into a written format?",
    "transformers docs/source/en/model_doc/granite_speech_plus.md (ASR_PROMPT, after <|audio|>)",
)
_QWEN3_ASR_PREFIX = verified(
    "language {lang}<asr_text>",
    "transformers models/qwen3_asr/processing_qwen3_asr.py, apply_transcription_request: no system "
    "message, the user turn holds the audio only, the assistant turn is prefilled with `language <NAME><asr_text>`",
)


@dataclass(frozen=True)
class Family:
    """One model family (see the module docstring)."""

    name: str
    model_types: tuple[str, ...]  # config.json model_type values that select this family
    model_class: str | None  # transformers class; None: AutoModelForMultimodalLM
    processor_class: str | None = None  # transformers processor class; None: the checkpoint's (AutoProcessor)
    default_checkpoint: str | None = None
    system_prompt: Wording | None = None  # default system message (None: no system message)
    wordings: Mapping[str, Wording] = field(default_factory=dict)  # overrides of NEUTRAL
    assistant_prefix: Mapping[str, Wording] = field(default_factory=dict)  # kind -> text the answer starts with
    kinds: frozenset[str] = frozenset({"transcribe", "translate", "caption", "question", "classify", "choose"})
    audio_token: str | None = None  # None: audio is a content item; else this token goes into the text
    audio_in_template: bool = False  # the processor takes audio only through its chat template (Voxtral)
    cuts_audio: bool = False  # the processor pads and cuts every audio to the extractor's window
    audio_tokens_per_s: float = 25.0  # LM tokens per second of audio (memory estimate)
    requires: tuple[tuple[str, str], ...] = ()  # (module, pip package) the processor or model needs
    vllm: bool = False  # runs with --backend vllm (tested against the transformers path)
    vllm_args: tuple[tuple[str, str], ...] = ()  # extra arguments of the vLLM engine for this family
    vllm_untested: str = ""  # why --backend vllm is not yet tested for this family (a run warns)
    note: str = ""


GENERIC = Family(
    "hf-audio-lm", (), None,
    note="any checkpoint whose processor has a chat template taking audio content items",
)

FAMILIES: Mapping[str, Family] = MappingProxyType({f.name: f for f in (
    Family(
        "qwen2.5-omni", ("qwen2_5_omni", "qwen2_5_omni_thinker"), "Qwen2_5OmniThinkerForConditionalGeneration",
        processor_class="Qwen2_5OmniProcessor",
        default_checkpoint="Qwen/Qwen2.5-Omni-7B", system_prompt=_QWEN25_OMNI_SYSTEM, cuts_audio=True,
        vllm=True, vllm_untested="vLLM's Qwen2.5-Omni module needs torchvision, which has no CPU build for the "
                                 "tested torch",
        audio_tokens_per_s=25.0,  # 100 mel frames/s, conv stride 2, pooling 2 (processor)
        note="thinker only (text out); the talker and token2wav are never loaded",
    ),
    Family(
        "qwen3-omni", ("qwen3_omni_moe", "qwen3_omni_moe_thinker"), "Qwen3OmniMoeThinkerForConditionalGeneration",
        processor_class="Qwen3OmniMoeProcessor",
        default_checkpoint="Qwen/Qwen3-Omni-30B-A3B-Instruct",
        audio_tokens_per_s=13.0,  # 13 tokens per 100 mel frames (processor)
        note="thinker only (text out); no default system prompt",
    ),
    Family(
        "qwen3-asr", ("qwen3_asr",), "Qwen3ASRForConditionalGeneration",
        processor_class="Qwen3ASRProcessor",
        default_checkpoint="Qwen/Qwen3-ASR-1.7B",
        wordings={"transcribe": verified("", _QWEN3_ASR_PREFIX.source)},
        assistant_prefix={"transcribe": _QWEN3_ASR_PREFIX}, kinds=frozenset({"transcribe"}),
        audio_tokens_per_s=13.0, note="speech recognition only",
    ),
    Family(
        "voxtral", ("voxtral",), "VoxtralForConditionalGeneration",
        processor_class="VoxtralProcessor",
        default_checkpoint="mistralai/Voxtral-Mini-3B-2507", audio_in_template=True, audio_tokens_per_s=12.5,
        requires=(("mistral_common", "mistral-common[audio]"),),
        # vLLM loads Voxtral only from the Mistral-format files the official repository ships
        vllm=True, vllm_args=(("tokenizer_mode", "mistral"), ("config_format", "mistral"), ("load_format", "mistral")),
        note="chat mode (the processor's own chat template takes the audio as base64 WAV)",
    ),
    Family(
        "granite-speech", ("granite_speech", "granite_speech_plus"), "GraniteSpeechForConditionalGeneration",
        processor_class="GraniteSpeechProcessor",
        default_checkpoint="ibm-granite/granite-speech-3.3-2b", system_prompt=_GRANITE_SYSTEM,
        wordings={"transcribe": _GRANITE_ASR}, audio_token="<|audio|>",
        audio_tokens_per_s=10.0,  # mel 100/s, frames stacked by 2, 15-frame windows -> 3 queries
        requires=(("torchaudio", "torchaudio"), ("peft", "peft")),
        note="ASR/AST model: other kinds use our wordings",
    ),
    Family(
        "gemma-3n", ("gemma3n",), "Gemma3nForConditionalGeneration",
        processor_class="Gemma3nProcessor",
        default_checkpoint="google/gemma-3n-E2B-it",
        audio_tokens_per_s=6.25,  # ai.google.dev/gemma/docs/capabilities/audio ("6.25 tokens" per second)
        requires=(("timm", "timm"),),
        note="the model builds its vision tower with timm",
    ),
)})


def family_for(model_type: str | None) -> Family:
    """The family whose model_types hold `model_type`; GENERIC for any other checkpoint."""
    for family in FAMILIES.values():
        if model_type in family.model_types:
            return family
    return GENERIC


def table() -> list[dict[str, str]]:
    """Every wording with its status and source, for docs and `describe()`."""
    rows = [{"family": "*", "key": k, "text": w.text, "status": w.status, "source": w.source}
            for k, w in NEUTRAL.items()]
    for f in FAMILIES.values():
        extra = {"system": f.system_prompt} if f.system_prompt else {}
        extra.update(f.wordings)
        extra.update({f"prefix:{k}": w for k, w in f.assistant_prefix.items()})
        rows += [{"family": f.name, "key": k, "text": w.text, "status": w.status, "source": w.source}
                 for k, w in extra.items()]
    return rows
