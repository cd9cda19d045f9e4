"""NSynth music note analysis (instrument accuracy, qualities MAP).

Official eval list: `nsynth_eval.jsonl` (QwenLM/Qwen-Audio eval_audio/EVALUATION.md;
evaluate_note_analysis.py parses `<|pitch|><|midi_pitch_N|>`, `<|velocity|><|midi_velocity_N|>`,
`<|instrument|>NAME` and `<|sonic|>q1, q2` from reference and prediction).
Release layout (magenta.tensorflow.org/datasets/nsynth): `nsynth-<split>/examples.json`
({note_str: {pitch, velocity, instrument_family_str, qualities_str, ...}}) and
`nsynth-<split>/audio/<note_str>.wav`.
The reference is `<|pitch|><|midi_pitch_P|><|velocity|><|midi_velocity_V|><|instrument|>FAMILY`
followed by `<|sonic|>q1, q2, ...` when the note has qualities (instrument = family name, e.g.
"keyboard"; qualities in examples.json order).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from qa_eval.intent import PromptIntent
from qa_eval.prepare import PrepareReport, Row, Skip, find_one, require_dir, write_manifest
from qa_eval.task import TaskSpec

SOURCE = "nsynth"
INSTRUMENT_FAMILIES = (
    "bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string", "synth_lead", "vocal",
)
_INTENT = PromptIntent(kind="analyze_note", audio_lang="unknown", output_lang="en", label_set="nsynth")


def note_reference(note: dict) -> str:
    """The official-style reference string of one examples.json entry."""
    ref = (
        f"<|pitch|><|midi_pitch_{int(note['pitch'])}|>"
        f"<|velocity|><|midi_velocity_{int(note['velocity'])}|>"
        f"<|instrument|>{note['instrument_family_str']}"
    )
    qualities = note.get("qualities_str") or []
    if qualities:
        ref += "<|sonic|>" + ", ".join(qualities)
    return ref


def prepare_nsynth(raw: Path, out: Path, split: str | None = None) -> PrepareReport:
    require_dir(raw, "an NSynth release (nsynth-test/)")
    split = split or "test"
    pattern = "examples.json"
    candidates = sorted(raw.rglob(pattern))
    chosen = [p for p in candidates if p.parent.name == f"nsynth-{split}"] or candidates[:1]
    examples_path = chosen[0] if chosen else find_one(raw, pattern, "NSynth examples.json")
    examples = json.loads(examples_path.read_text(encoding="utf-8"))
    return write_manifest("nsynth", out, _nsynth_items(examples, examples_path.parent / "audio"))


def _nsynth_items(examples: dict, audio_dir: Path) -> Iterator[Row | Skip]:
    for note_str in sorted(examples):
        note = examples[note_str]
        wav = audio_dir / f"{note_str}.wav"
        if not {"pitch", "velocity", "instrument_family_str"} <= set(note):
            yield Skip("entry lacks pitch/velocity/instrument_family_str", note_str)
        elif not wav.is_file():
            yield Skip("audio file missing", wav)
        else:
            yield Row(wav, note_reference(note), SOURCE)


NSYNTH = TaskSpec(
    name="nsynth",
    description="NSynth note analysis (instrument accuracy, sonic qualities MAP)",
    version="1",
    scorer="nsynth",
    max_new_tokens=30,
    sources=(SOURCE,),
    intent=lambda sample: _INTENT,
    paper={SOURCE: {"map": 0.4742, "instrument_acc": 0.7882}},
    labels=INSTRUMENT_FAMILIES,
    manifest_name="nsynth_eval.jsonl",
    prepare=prepare_nsynth,
)
