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

from qa_eval.prepare import PrepareReport, Row, Skip, require_dir, write_manifest
from qa_eval.task import TaskSpec
from qa_eval.task_families import note_intent
from tasks._common import missing_split

SOURCE = "nsynth"
INSTRUMENT_FAMILIES = (
    "bass", "brass", "flute", "guitar", "keyboard", "mallet", "organ", "reed", "string", "synth_lead", "vocal",
)


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
    """`nsynth-<split>/examples.json` (split test by default; else a lone examples.json in a
    folder not named after another split) -> one row per note, id = the note's name."""
    require_dir(raw, "an NSynth release (nsynth-test/)")
    candidates = sorted(raw.rglob("examples.json"))
    chosen = [p for p in candidates if p.parent.name == f"nsynth-{split or 'test'}"]
    if not chosen and split is None and len(candidates) == 1 and not candidates[0].parent.name.startswith("nsynth-"):
        chosen = candidates
    if not chosen:
        present = (p.parent.name.removeprefix("nsynth-") for p in candidates)
        raise missing_split(raw, f"nsynth-{split or 'test'}/examples.json", present)
    examples_path = chosen[0]
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
            yield Row(wav, note_reference(note), SOURCE, {"id": note_str})


NSYNTH = TaskSpec(
    name="nsynth",
    description="NSynth note analysis (instrument accuracy, sonic qualities MAP)",
    version="1",
    scorer="nsynth",
    max_new_tokens=30,
    sources=(SOURCE,),
    intent=note_intent(),
    paper={SOURCE: {"map": 0.4742, "instrument_acc": 0.7882}},
    labels=INSTRUMENT_FAMILIES,
    manifest_name="nsynth_eval.jsonl",
    prepare=prepare_nsynth,
    family="note-analysis",
)
