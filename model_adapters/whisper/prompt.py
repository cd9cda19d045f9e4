"""PromptIntent -> Whisper decoder prompt (special tokens only).

Multilingual models: `<|startoftranscript|><|LANG|><|transcribe|>` or `...<|translate|>`, then
`<|notimestamps|>`. Word-level timestamps (SRWT) are refused: Whisper's timestamp tokens mark
segments, not words, so its output could never be scored as SRWT. The language token is the spoken language and
is left out (language detection) when the audio language is "unknown". Whisper translates only
into English. English-only models (`*.en`) take `<|startoftranscript|>` (+ `<|notimestamps|>`)
and only transcribe English. Audio goes to the encoder, so `n_audio` must be 1.
Tasks Whisper was not trained for (captions, QA, multiple choice, classification, note analysis)
are refused with an AdapterError naming the task kind and the model family: its decoder writes
transcripts, and no prompt of special tokens can ask it to pick an option.
"""

from __future__ import annotations

from qa_eval.errors import AdapterError
from qa_eval.intent import PromptIntent

SOT, NO_TIMESTAMPS = "<|startoftranscript|>", "<|notimestamps|>"


def _refuse(intent: PromptIntent, family: str, why: str) -> AdapterError:
    return AdapterError(f"{family} cannot do task kind {intent.kind!r}: {why}")


def render_prompt(intent: PromptIntent, n_audio: int = 1, multilingual: bool = True) -> str:
    family = "whisper" if multilingual else "whisper (English-only .en model)"
    if n_audio != 1:
        raise AdapterError(f"{family} takes exactly one audio per prompt, got {n_audio}")
    if intent.kind not in ("transcribe", "translate"):
        raise _refuse(intent, family, "Whisper only transcribes and translates speech")
    if intent.timestamps:
        raise _refuse(intent, family, "word-level timestamps (SRWT): Whisper's timestamps mark segments, not words")
    tail = NO_TIMESTAMPS
    if not multilingual:
        if intent.kind == "translate":
            raise _refuse(intent, family, "English-only models cannot translate")
        if intent.audio_lang not in ("en", "unknown"):
            raise _refuse(intent, family, f"English-only models cannot transcribe {intent.audio_lang!r} speech")
        return SOT + tail
    if intent.kind == "translate" and intent.output_lang != "en":
        raise _refuse(intent, family, f"Whisper translates only into English, not into {intent.output_lang!r}")
    lang = "" if intent.audio_lang == "unknown" else f"<|{intent.audio_lang}|>"
    return f"{SOT}{lang}<|{intent.kind}|>{tail}"
