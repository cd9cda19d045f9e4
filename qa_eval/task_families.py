"""Task families: the prompt intents, scorers and reference shapes that tasks of one kind share.

A family is what a benchmark *is*, apart from its data: ASR, speech translation, captioning,
closed-set classification, audio question answering, SRWT (ASR with word timestamps),
NSynth-style note analysis and multiple-choice questions (MMAU). The built-in plugins in
`tasks/` and the task files read by `qa_eval.task_file` build their TaskSpecs from the same
pieces here:

- intent builders (sample -> PromptIntent), as the official eval scripts prompt each family;
- FAMILIES: per family its scorers (the first is the default), the official `max_new_tokens`
  and the shape of one reference. A run or a score whose references mostly do not have that
  shape belongs to another task (TaskSpec.check_references); a source name alone never says so.

No torch, no adapter, no scorer here (scorers are named by their registry name).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from qa_eval.errors import ConfigError
from qa_eval.intent import PromptIntent
from qa_eval.records import Reference, Sample

IntentFn = Callable[[Sample], PromptIntent]

_CJK = re.compile(r"[\u4e00-\u9fff]")
_TAG = re.compile(r"<\|[^|]*\|>")
# Timestamp tokens as the SRWT scorer reads them (qa_eval.scoring.aas.TIMESTAMP).
_TIMESTAMP = re.compile(r"<\|\d{1,2}\.\d+\|>")
# The field tags of an NSynth note reference (qa_eval.scoring.nsynth parses them).
_NOTE_TAG = re.compile(r"<\|(?:pitch|velocity|instrument|sonic)\|>")
_LANG_CODE = re.compile(r"[a-z]{2,3}")

# Closed-set classification: label_set -> official max_new_tokens (evaluate_scene.py: 10;
# evaluate_emotion.py, evaluate_vocal_sound.py: 4).
CLASSIFY_MAX_NEW_TOKENS = {"scene": 10, "emotion": 4, "vocal_sound": 4}
CAPTION_STYLES = ("plain", "clotho", "audiocaps")  # evaluate_caption.py: <|caption_{style}|>


# --- languages -------------------------------------------------------------------------------

def sample_lang(fields: Mapping[str, Any], default: str) -> str:
    """The `lang` field of a sample's manifest row, else `default`."""
    lang = fields.get("lang")
    return str(lang) if lang else default


def guess_text_lang(text: str) -> str:
    """"zh" when the text holds CJK characters, else "en" (for manifests without `lang`)."""
    return "zh" if _CJK.search(text) else "en"


# --- intent builders -------------------------------------------------------------------------

def asr_intent(default_lang: str) -> IntentFn:
    """Transcribe in the sample's `lang` (default `default_lang`), no ITN."""

    def intent(sample: Sample) -> PromptIntent:
        lang = sample_lang(sample.fields, default_lang)
        return PromptIntent(kind="transcribe", audio_lang=lang, output_lang=lang)

    return intent


def srwt_intent(default_lang: str | None = None) -> IntentFn:
    """Transcribe with word timestamps; language: the row's `lang`, else `default_lang`, else
    guessed from the reference text (CJK characters -> "zh", otherwise "en")."""

    def intent(sample: Sample) -> PromptIntent:
        reference = sample.reference if isinstance(sample.reference, str) else " ".join(sample.reference)
        lang = sample_lang(sample.fields, default_lang or guess_text_lang(_TAG.sub("", reference)))
        return PromptIntent(kind="transcribe", audio_lang=lang, output_lang=lang, timestamps=True)

    return intent


def language_pair(sample: Sample) -> tuple[str, str]:
    """(audio language, text language) from the row's `src_lang`/`tgt_lang`, else from a source
    named `<name>_<src>_<tgt>_<split>` (evaluate_st.py: `split("_")[-3]`, `[-2]`)."""
    src, tgt = sample.fields.get("src_lang"), sample.fields.get("tgt_lang")
    if src and tgt:
        return str(src), str(tgt)
    parts = sample.source.split("_")
    if len(parts) >= 3 and _LANG_CODE.fullmatch(parts[-3]) and _LANG_CODE.fullmatch(parts[-2]):
        return parts[-3], parts[-2]
    raise ConfigError(
        f"sample {sample.id!r} (source {sample.source!r}): cannot tell the language pair; give the "
        "manifest row 'src_lang' and 'tgt_lang' fields (or name the source <name>_<src>_<tgt>_test)"
    )


def translation_intent(pair: tuple[str, str] | None = None) -> IntentFn:
    """Translate `pair` = (audio language, text language), with ITN; without `pair`, each
    sample's own pair (language_pair)."""

    def intent(sample: Sample) -> PromptIntent:
        src, tgt = pair or language_pair(sample)
        return PromptIntent(kind="translate", audio_lang=src, output_lang=tgt, itn=True)

    return intent


def caption_intent(style: str = "plain") -> IntentFn:
    """One English caption in `style` (CAPTION_STYLES; "clotho" for Clotho)."""
    fixed = PromptIntent(kind="caption", audio_lang="unknown", output_lang="en", label_set=style)
    return lambda sample: fixed


def aqa_intent(lang: str = "en") -> IntentFn:
    """Answer the row's `question` (asked and answered in `lang`)."""

    def intent(sample: Sample) -> PromptIntent:
        question = sample.fields.get("question")
        if not question:
            raise ConfigError(f"sample {sample.id!r}: manifest row has no 'question' "
                              "(audio question answering needs one)")
        return PromptIntent(kind="question", audio_lang="unknown", output_lang=lang, question=str(question))

    return intent


def classify_intent(label_set: str, audio_lang: str = "unknown", labels: tuple[str, ...] = ()) -> IntentFn:
    """Name the label of a closed set `labels`: label_set "scene", "emotion" or "vocal_sound"."""
    fixed = PromptIntent(kind="classify", audio_lang=audio_lang, output_lang="en", label_set=label_set,
                         labels=tuple(labels))
    return lambda sample: fixed


def choice_intent(lang: str = "en") -> IntentFn:
    """Pick one of the row's `choices` (a list of option texts) to answer its `question` (asked
    and answered in `lang`)."""

    def intent(sample: Sample) -> PromptIntent:
        question, choices = sample.fields.get("question"), sample.fields.get("choices")
        if not question:
            raise ConfigError(f"sample {sample.id!r}: manifest row has no 'question' "
                              "(a multiple-choice task needs one)")
        if not isinstance(choices, list) or len(choices) < 2 or not all(isinstance(c, str) and c.strip()
                                                                          for c in choices):
            raise ConfigError(f"sample {sample.id!r}: 'choices' must be a list of at least two option "
                              f"texts, got {choices!r}")
        return PromptIntent(kind="choose", audio_lang="unknown", output_lang=lang, question=str(question),
                            choices=tuple(choices))

    return intent


def note_intent() -> IntentFn:
    """NSynth note analysis: pitch, velocity, instrument family, sonic qualities."""
    fixed = PromptIntent(kind="analyze_note", audio_lang="unknown", output_lang="en", label_set="nsynth")
    return lambda sample: fixed


# --- reference shapes ------------------------------------------------------------------------

def _n_timestamps(ref: Reference) -> int:
    return len(_TIMESTAMP.findall(ref)) if isinstance(ref, str) else 0


def is_text(ref: Reference) -> bool:
    """A plain string: not a caption list, not timestamped words, not a note's tags."""
    return isinstance(ref, str) and _n_timestamps(ref) < 2 and not _NOTE_TAG.search(ref)


def is_timestamped(ref: Reference) -> bool:
    """A string of words between timestamp tokens (at least one word: two timestamps)."""
    return _n_timestamps(ref) >= 2


def is_note(ref: Reference) -> bool:
    """A string holding NSynth's field tags (`<|pitch|>`, `<|instrument|>`, ...)."""
    return isinstance(ref, str) and bool(_NOTE_TAG.search(ref))


def is_captions(ref: Reference) -> bool:
    """A non-empty list of caption strings."""
    return isinstance(ref, tuple) and bool(ref) and all(isinstance(c, str) for c in ref)


def label_key(text: str) -> str:
    """A label compared without case, spaces or punctuation ("Throat clearing" ~ "throat_clearing")."""
    return "".join(ch for ch in text.lower() if ch.isalnum())


@dataclass(frozen=True, slots=True)
class Family:
    """What the tasks of one family share.

    name:            as a task file's `family` names it.
    scorers:         registry names of the scorers it may use; the first is the default.
    max_new_tokens:  the official generation budget (classification: per label set, see
                     CLASSIFY_MAX_NEW_TOKENS; 10 is the scenes' budget).
    reference:       one reference, in words (for messages).
    fits:            whether one reference has the family's shape.
    """

    name: str
    scorers: tuple[str, ...]
    max_new_tokens: int
    reference: str
    fits: Callable[[Reference], bool]


FAMILIES: dict[str, Family] = {f.name: f for f in (
    Family("asr", ("wer", "wer-normalized"), 256, "a transcript string", is_text),
    Family("translation", ("bleu",), 256, "a translation string", is_text),
    Family("caption", ("caption",), 30, "a list of captions", is_captions),
    Family("classification", ("accuracy",), 10, "a label string", is_text),
    Family("aqa", ("aqa-accuracy",), 4, "an answer string", is_text),
    Family("srwt", ("srwt",), 256, "words between timestamp tokens (<|0.00|>word<|0.40|>)", is_timestamped),
    Family("note-analysis", ("nsynth",), 30, "an NSynth note (<|pitch|><|midi_pitch_N|>...<|instrument|>NAME)",
           is_note),
    # No official budget: ours, room for the longest MMAU option (~40 tokens) and a few words more.
    Family("multiple-choice", ("mmau",), 64, "the text of the correct option", is_text),
)}


def family(name: str) -> Family:
    """The family called `name`; ConfigError listing the known ones otherwise."""
    found = FAMILIES.get(name)
    if found is None:
        raise ConfigError(f"unknown task family {name!r}; known: {', '.join(FAMILIES)}")
    return found


def reference_check(
    name: str, labels: tuple[str, ...] | None
) -> tuple[str, Callable[[Reference], bool]]:
    """(what one reference should be, in words; the test) for family `name`. A classification
    task with labels wants one of them, compared as label_key does."""
    fam = family(name)
    if name == "classification" and labels:
        keys = {label_key(label) for label in labels}
        shown = ", ".join(labels[:6]) + (", ..." if len(labels) > 6 else "")
        return f"one of its labels ({shown})", lambda ref: isinstance(ref, str) and label_key(ref) in keys
    return fam.reference, fam.fits
