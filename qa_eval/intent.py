"""PromptIntent: what a task wants from a model, in words every adapter understands.

A task says *what* it wants (transcribe English, translate en→de, caption, answer a question,
name the scene); a model adapter decides *how* its model spells that (a Qwen-Audio tag
sequence, a Qwen2-Audio instruction, a Whisper decoder prompt). This is the only prompt
vocabulary shared by tasks and adapters.
"""

from __future__ import annotations

from dataclasses import dataclass

from qa_eval.errors import ConfigError

# What a model is asked to do. Adapters refuse (AdapterError) the kinds they cannot serve.
KINDS = (
    "transcribe",  # speech -> text in the spoken language (ASR)
    "translate",  # speech -> text in another language (S2TT)
    "caption",  # audio -> one-sentence caption
    "question",  # audio + question -> short answer
    "classify",  # audio -> one label of a closed set (scene, emotion, vocal sound)
    "analyze_note",  # music note -> pitch / velocity / instrument / qualities (NSynth)
    "choose",  # audio + question + options -> the text of one option (multiple choice)
)

# label_set values a task may declare (closed label vocabularies and caption styles).
LABEL_SETS = ("scene", "emotion", "vocal_sound", "clotho", "audiocaps", "plain", "nsynth")

# English names of the language codes the paper's tasks use (for instruction-style prompts).
LANGUAGE_NAMES = {
    "en": "English",
    "zh": "Chinese",
    "de": "German",
    "es": "Spanish",
    "fr": "French",
    "it": "Italian",
    "ja": "Japanese",
    "yue": "Cantonese",
}


@dataclass(frozen=True, slots=True)
class PromptIntent:
    """The model-independent description of one prompt.

    kind:        one of KINDS.
    audio_lang:  language spoken in the audio ("en", "zh", ...), "unknown" for non-speech.
    output_lang: language of the expected answer.
    timestamps:  ask for word-level timestamps (SRWT).
    itn:         inverse text normalisation wanted (numbers as digits, punctuation).
    label_set:   name of the closed label vocabulary or style ("scene", "emotion",
                 "vocal_sound", "clotho" for Clotho-style captions, "nsynth").
    question:    the question text for kind == "question" or "choose".
    choices:     for "choose", the options in the row's order (prompts list them all).
    labels:      for "classify", the task's labels (chat-style prompts may list them; the
                 Qwen-Audio tag prompts do not).
    given_prompt: the manifest row's own instruction (its `prompt` field: the official
                 Qwen2-Audio eval lists carry one per row). An adapter whose prompt format it
                 is (`ModelAdapter.uses_given_prompt`) puts it in verbatim; the others build
                 their prompt from the intent, and the run says so once.

    For "translate", audio_lang is the source and output_lang the target language. For
    "question", output_lang is the language of the question and of the expected answer.
    Language values are ISO 639-1 codes as Whisper and Qwen-Audio spell them ("en", "zh",
    "de", ...); LANGUAGE_NAMES gives their English names for instruction-style prompts.
    """

    kind: str
    audio_lang: str = "unknown"
    output_lang: str = "en"
    timestamps: bool = False
    itn: bool = False
    label_set: str | None = None
    question: str | None = None
    labels: tuple[str, ...] = ()  # the closed label set, for prompts that list the choices
    given_prompt: str | None = None  # the manifest row's own instruction (see the docstring)
    choices: tuple[str, ...] = ()  # the options of a multiple-choice question

    @property
    def key(self) -> str:
        """The kind, or kind:label_set for the kinds a label set refines ("classify:emotion"):
        what per-kind tables (instruction wordings, output rules) are keyed by."""
        if self.kind in ("classify", "caption") and self.label_set:
            return f"{self.kind}:{self.label_set}"
        return self.kind

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"unknown prompt intent kind {self.kind!r}; expected one of {KINDS}")
        if self.kind in ("question", "choose") and not self.question:
            raise ConfigError(f"a {self.kind!r} intent needs the question text")
        if self.kind == "choose" and len(self.choices) < 2:
            raise ConfigError(f"a 'choose' intent needs at least two options, got {list(self.choices)}")
        if self.kind == "translate" and self.audio_lang in ("unknown", self.output_lang):
            raise ConfigError(
                f"a 'translate' intent needs distinct source and target languages, got "
                f"{self.audio_lang!r} -> {self.output_lang!r}"
            )
        if self.timestamps and self.kind != "transcribe":
            raise ConfigError(f"timestamps are only defined for 'transcribe', not {self.kind!r}")


def option_lines(choices: tuple[str, ...]) -> str:
    """The options of a "choose" intent one per line ("- Man\n- Woman"), as the instruction-style
    prompts list them: no letters, so that an answer names an option by its text."""
    return "\n".join(f"- {choice}" for choice in choices)
