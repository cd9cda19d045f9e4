"""PromptIntent -> Qwen2-Audio (base model) prompt text.

Each audio is `<|audio_bos|><|AUDIO|><|audio_eos|>` (the processor expands `<|AUDIO|>` to the
audio's features; no path appears in the prompt), followed by one instruction, as the official
eval scripts build it: `"<|audio_bos|><|AUDIO|><|audio_eos|>" + row["prompt"]`
(QwenLM/Qwen2-Audio eval_audio/evaluate_{asr,st,emotion,vocal_sound}.py). The instruction text
lives in the official eval lists' `prompt` field, not in the scripts; the strings below are:

- verified (cited from those lists by several independent evaluation harnesses):
  ASR "Detect the language and recognize the speech: <|en|>" (language tag = spoken language),
  MELD "Recognize the emotion with keywords in English:",
  VocalSound "Classify the human vocal sound to VocalSound in English:";
  captions "Generate the caption in English:" (QwenLM/Qwen2-Audio README, base model example).
- NOT verified (our best reading, marked in INSTRUCTION_STATUS): speech translation (the
  wording lmms-eval uses for Qwen2-Audio), scene classification and audio QA; multiple choice
  (ours: MMAU states no prompt) lists the options without letters, as the MMAU scorer matches
  an option's text.
When a manifest row carries its own `prompt` (the official lists do, one per row), that text is
the instruction, verbatim (`PromptIntent.given_prompt`): the official scripts run exactly it.

Output, as the official scripts post-process it before scoring (OUTPUT_RULES): ASR and speech
translation keep the decoded text as it is (evaluate_asr.py / evaluate_st.py score `response`
unchanged; the ASR scorer then strips it itself), emotion and vocal-sound classification strip
its left side (`response.lstrip()` in evaluate_emotion.py / evaluate_vocal_sound.py). Tasks no
official script covers (captions, scenes, audio QA) strip both sides: ours.

Several audios: `Audio k: <|audio_bos|><|AUDIO|><|audio_eos|>\\n` each, as Qwen2-Audio's chat
template lists them. Tasks whose answers need tokens Qwen2-Audio does not have (word timestamps
`<|0.54|>`, NSynth `<|midi_pitch_N|>` tags) are refused with AdapterError.
"""

from __future__ import annotations

from qa_eval.errors import AdapterError
from qa_eval.intent import LANGUAGE_NAMES, PromptIntent, option_lines

AUDIO = "<|audio_bos|><|AUDIO|><|audio_eos|>"

# PromptIntent.key -> (output rule, where it comes from); other keys: ("strip", "ours")
OUTPUT_RULES = {
    "transcribe": ("raw", "QwenLM/Qwen2-Audio eval_audio/evaluate_asr.py"),
    "translate": ("raw", "QwenLM/Qwen2-Audio eval_audio/evaluate_st.py"),
    "classify:emotion": ("lstrip", "QwenLM/Qwen2-Audio eval_audio/evaluate_emotion.py"),
    "classify:vocal_sound": ("lstrip", "QwenLM/Qwen2-Audio eval_audio/evaluate_vocal_sound.py"),
}


def output_rule(intent: PromptIntent | None) -> str:
    """The official scripts' post-processing of the answer to `intent` (module docstring)."""
    return OUTPUT_RULES.get(intent.key, ("strip", "ours"))[0] if intent is not None else "strip"


# kind or label set -> whether its instruction was checked against the official eval lists
INSTRUCTION_STATUS = {
    "transcribe": "verified",
    "emotion": "verified",
    "vocal_sound": "verified",
    "caption": "verified (README)",
    "translate": "unverified",
    "scene": "unverified",
    "question": "unverified",
    "choose": "unverified",
}


def _lang(code: str) -> str:
    return LANGUAGE_NAMES.get(code, code)


def instruction(intent: PromptIntent) -> str:
    """The instruction text that follows the audio."""
    k = intent.kind
    if k == "transcribe" and intent.timestamps:
        raise AdapterError(
            "qwen2-audio cannot do word-level timestamps (task kind 'transcribe' with timestamps): "
            "its vocabulary has no timestamp tokens"
        )
    if k == "transcribe":
        return f"Detect the language and recognize the speech: <|{intent.audio_lang}|>"
    if k == "translate":
        return (f"Translate the speech into {_lang(intent.output_lang)} and only output the translation: "
                f"<|{intent.audio_lang}|>")
    if k == "caption":
        return f"Generate the caption in {_lang(intent.output_lang)}:"
    if k == "question":
        return f"{intent.question} Your answer to the question is:"
    if k == "choose":
        return f"{intent.question}\nOptions:\n{option_lines(intent.choices)}\nYour answer, the text of one option, is:"
    if k == "classify":
        if intent.label_set == "emotion":
            return f"Recognize the emotion with keywords in {_lang(intent.output_lang)}:"
        if intent.label_set == "vocal_sound":
            return f"Classify the human vocal sound to VocalSound in {_lang(intent.output_lang)}:"
        if intent.label_set == "scene":
            return f"Classify the acoustic scene in {_lang(intent.output_lang)}:"
        raise AdapterError(f"qwen2-audio: no instruction for label set {intent.label_set!r}")
    if k == "analyze_note":
        raise AdapterError(
            "qwen2-audio cannot do NSynth note analysis (task kind 'analyze_note'): the scorer needs "
            "Qwen-Audio's <|pitch|>/<|midi_pitch_N|> tags, which Qwen2-Audio does not have"
        )
    raise AdapterError(f"qwen2-audio: cannot prompt for task kind {k!r}")


def render_prompt(intent: PromptIntent, n_audio: int = 1) -> str:
    """The full Qwen2-Audio base prompt: audio markers, then the instruction."""
    if n_audio < 1:
        raise AdapterError(f"qwen2-audio: a prompt needs at least one audio, got {n_audio}")
    text = instruction(intent)  # also refuses what Qwen2-Audio cannot answer, given prompt or not
    if intent.given_prompt is not None:
        text = intent.given_prompt
    if n_audio == 1:
        return AUDIO + text
    return "".join(f"Audio {k}: {AUDIO}\n" for k in range(1, n_audio + 1)) + text
