"""PromptIntent -> Qwen-Audio prompt text (base model tag sequences, or Qwen-Audio-Chat ChatML).

Audio placeholder convention: the rendered text holds one `<audio>{audio_k}</audio>` per audio
(k = 1..n_audio, the literal characters `{audio_1}`); `fill_audio(prompt, paths)` puts the
paths in, in one pass, before tokenisation. The tokenizer turns each `<audio>PATH</audio>` span
into audio tokens, so the path text never reaches the token ids; rendered prompts (and their
hash) therefore do not depend on where the data lives.

Base model ("qwen-audio"): the official eval scripts' tag sequences, byte for byte
(QwenLM/Qwen-Audio eval_audio/evaluate_{asr,st,caption,aqa,scene,emotion,vocal_sound,
note_analysis,srwt}.py). The transcription start tag is `<|startoftranscript|>`; the README's
`<|startoftranscription|>` is a typo, not a token. Several audios are listed as the tokenizer's
`from_list_format` does: `Audio k:<audio>…</audio>\\n` each, then the tags. Multiple choice has
no official script: it is asked as audio QA (evaluate_aqa.py's tags) with the options written
into the question text, one "- text" per line (ours; the closest prompt the base model was
trained on: its answer is free text, which the MMAU scorer matches against the options).

Chat model ("qwen-audio-chat"): ChatML as `make_context` builds it, with the default system
message "You are a helpful assistant.", the audios as `Audio k:<audio>…</audio>\\n`, then an
instruction sentence. There is no official Qwen-Audio-Chat eval script; the instructions below
are ours (plain requests for the answer format each scorer expects).
"""

from __future__ import annotations

import re
from typing import Sequence

from qa_eval.errors import AdapterError
from qa_eval.intent import LANGUAGE_NAMES, PromptIntent, option_lines

FAMILIES = ("qwen-audio", "qwen-audio-chat")
SYSTEM_MESSAGE = "You are a helpful assistant."

# label_set -> the task tag after <|notimestamps|> (evaluate_scene/emotion/vocal_sound/note_analysis.py)
_ANALYSIS_TAGS = {
    "scene": "scene",
    "emotion": "emotion_recognition",
    "vocal_sound": "vocal_classification",
    "nsynth": "note_analysis",
}
_CAPTION_STYLES = ("clotho", "audiocaps", "plain")  # evaluate_caption.py: <|caption_{style}|>
_PLACEHOLDER = re.compile(r"<audio>\{audio_(\d+)\}</audio>")


def audio_slot(k: int) -> str:
    """The placeholder of the k-th audio (1-based)."""
    return f"<audio>{{audio_{k}}}</audio>"


def fill_audio(prompt: str, paths: Sequence[str]) -> str:
    """Replace each `<audio>{audio_k}</audio>` by `<audio>PATH_k</audio>` (single pass)."""
    slots = [int(m) for m in _PLACEHOLDER.findall(prompt)]
    if sorted(slots) != list(range(1, len(paths) + 1)):
        raise AdapterError(f"qwen-audio: prompt has audio slots {slots} for {len(paths)} audio path(s)")
    return _PLACEHOLDER.sub(lambda m: f"<audio>{paths[int(m.group(1)) - 1]}</audio>", prompt)


def _tag(name: str) -> str:
    return f"<|{name}|>"


def base_tags(intent: PromptIntent) -> str:
    """The official task tag sequence (everything after the audio)."""
    k = intent.kind
    if k == "transcribe" and intent.timestamps:
        # evaluate_srwt.py: no ITN tag; the prompt ends with the first timestamp
        return (f"<|startoftranscript|>{_tag(intent.audio_lang)}<|transcribe|>{_tag(intent.output_lang)}"
                "<|timestamps|><|0.00|>")
    if k in ("transcribe", "translate"):
        return (f"<|startoftranscript|>{_tag(intent.audio_lang)}<|{k}|>{_tag(intent.output_lang)}"
                f"<|notimestamps|>{'<|itn|>' if intent.itn else '<|wo_itn|>'}")
    if k == "caption":
        style = intent.label_set or "plain"
        if style not in _CAPTION_STYLES:
            raise AdapterError(f"qwen-audio: unknown caption style {style!r} (known: {_CAPTION_STYLES})")
        return (f"<|startofanalysis|>{_tag(intent.audio_lang)}<|caption|>{_tag(intent.output_lang)}"
                f"<|notimestamps|><|caption_{style}|>")
    if k == "question":
        # evaluate_aqa.py: the language tag is the question's, the question text sits between tags
        return f"<|startofanalysis|>{_tag(intent.output_lang)}<|question|>{intent.question}<|answer|>"
    if k == "choose":
        question = f"{intent.question}\nOptions:\n{option_lines(intent.choices)}"
        return f"<|startofanalysis|>{_tag(intent.output_lang)}<|question|>{question}<|answer|>"
    if k in ("classify", "analyze_note"):
        task_tag = _ANALYSIS_TAGS.get(intent.label_set or "")
        if task_tag is None:
            raise AdapterError(f"qwen-audio: no task tag for label set {intent.label_set!r} (kind {k!r})")
        return (f"<|startofanalysis|>{_tag(intent.audio_lang)}<|keyword|>{_tag(intent.output_lang)}"
                f"<|notimestamps|>{_tag(task_tag)}")
    raise AdapterError(f"qwen-audio: cannot prompt for task kind {k!r}")


def _lang(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def chat_instruction(intent: PromptIntent) -> str:
    """A plain-language request for Qwen-Audio-Chat (not from an official script)."""
    k = intent.kind
    if k == "transcribe" and intent.timestamps:
        return (f"Transcribe the {_lang(intent.audio_lang)} speech and give the start and end time "
                "of every word.")
    if k == "transcribe":
        return f"Recognize the {_lang(intent.audio_lang)} speech and output only the transcription."
    if k == "translate":
        return (f"Translate the {_lang(intent.audio_lang)} speech into {_lang(intent.output_lang)} "
                "and output only the translation.")
    if k == "caption":
        return f"Describe the audio in one short {_lang(intent.output_lang)} sentence."
    if k == "question":
        return f"{intent.question} Answer with a single word or phrase."
    if k == "choose":
        return f"{intent.question}\nOptions:\n{option_lines(intent.choices)}\nAnswer with the text of one option only."
    if k == "classify":
        what = {"scene": "acoustic scene", "emotion": "emotion of the speaker",
                "vocal_sound": "human vocal sound"}.get(intent.label_set or "")
        if what is None:
            raise AdapterError(f"qwen-audio-chat: no instruction for label set {intent.label_set!r}")
        return f"Classify the {what}. Answer with the label only."
    if k == "analyze_note":
        return "Give the pitch, velocity, instrument family and sonic qualities of this music note."
    raise AdapterError(f"qwen-audio-chat: cannot prompt for task kind {k!r}")


def audio_query(audio_paths: Sequence[str], text: str) -> str:
    """The official list-format query: ``Audio 1:<audio>P1</audio>\\n`` ... then `text`."""
    return "".join(f"Audio {i}:<audio>{p}</audio>\n" for i, p in enumerate(audio_paths, 1)) + text


def chatml_prompt(query: str, system: str = SYSTEM_MESSAGE) -> str:
    """Single-turn ChatML as the official make_context builds it (history empty)."""
    return (f"<|im_start|>system\n{system}<|im_end|>\n"
            f"<|im_start|>user\n{query}<|im_end|>\n<|im_start|>assistant\n")


def render_prompt(intent: PromptIntent, n_audio: int = 1, family: str = "qwen-audio") -> str:
    """The full prompt text for `family` ("qwen-audio" or "qwen-audio-chat"), audio slots unfilled."""
    if n_audio < 1:
        raise AdapterError(f"{family}: a prompt needs at least one audio, got {n_audio}")
    slots = [f"{{audio_{k}}}" for k in range(1, n_audio + 1)]
    if family == "qwen-audio":
        return (audio_slot(1) if n_audio == 1 else audio_query(slots, "")) + base_tags(intent)
    if family == "qwen-audio-chat":
        return chatml_prompt(audio_query(slots, chat_instruction(intent)))
    raise AdapterError(f"qwen-audio prompt: unknown family {family!r} (known: {FAMILIES})")
