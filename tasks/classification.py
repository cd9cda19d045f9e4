"""Closed-set classification: VocalSound, CochlScene, TUT2017 (scenes), MELD (emotion).

Exact, case-sensitive match of the decoded text against the label (scorer "accuracy").
Official eval lists (QwenLM/Qwen-Audio eval_audio/EVALUATION.md): `vocalsound_eval.jsonl`,
`cochlscene_eval.jsonl`, `tut2017_eval.jsonl`, `meld_eval.jsonl`; max_new_tokens 4 for VocalSound
and MELD, 10 for scenes (evaluate_vocal_sound.py, evaluate_emotion.py, evaluate_scene.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

from qa_eval.prepare import PrepareReport, Row, Skip, find_one, require_dir, write_manifest
from qa_eval.task import TaskSpec
from qa_eval.task_families import classify_intent
from tasks._common import AUDIO_SUFFIXES, audio_files, first_file, missing_split, read_csv, split_file

# VocalSound file names end in the label: "<speaker>_<n>_<label>.wav".
VOCALSOUND_LABELS = {
    "laughter": "Laughter",
    "sigh": "Sigh",
    "cough": "Cough",
    "throatclearing": "Throat clearing",
    "sneeze": "Sneeze",
    "sniff": "Sniff",
}
COCHLSCENE_LABELS = (
    "Bus", "Cafe", "Car", "CrowdedIndoor", "Elevator", "Kitchen", "Park", "ResidentialArea",
    "Restaurant", "Restroom", "Street", "Subway", "SubwayStation",
)
TUT2017_LABELS = (
    "beach", "bus", "cafe/restaurant", "car", "city_center", "forest_path", "grocery_store", "home",
    "library", "metro_station", "office", "park", "residential_area", "train", "tram",
)
MELD_LABELS = ("neutral", "joy", "sadness", "anger", "surprise", "fear", "disgust")


# --- VocalSound ----------------------------------------------------------------------------

def prepare_vocalsound(raw: Path, out: Path, split: str | None = None) -> PrepareReport:
    """Label from the file name. With --split te|tr|val, only the files `datafiles/<split>.json` lists."""
    require_dir(raw, "a VocalSound release (audio_16k/)")
    keep: set[str] | None = None
    if split is not None:
        listing = find_one(raw, f"{split}.json", f"the VocalSound {split} list")
        keep = {Path(item["wav"]).name for item in json.loads(listing.read_text(encoding="utf-8"))["data"]}
    return write_manifest("vocalsound", out, _vocalsound_items(raw, keep))


def _vocalsound_items(raw: Path, keep: set[str] | None) -> Iterator[Row | Skip]:
    for wav in audio_files(raw):
        if keep is not None and wav.name not in keep:
            continue
        label = VOCALSOUND_LABELS.get(wav.stem.rsplit("_", 1)[-1].lower())
        if label is None:
            yield Skip("no VocalSound label at the end of the file name", wav)
        else:
            yield Row(wav, label, "vocalsound", {"id": wav.stem})


# --- CochlScene ----------------------------------------------------------------------------

def prepare_cochlscene(raw: Path, out: Path, split: str | None = None) -> PrepareReport:
    """`<split>/<Label>/*.wav` folders (split Test by default) -> label = folder name."""
    require_dir(raw, "a CochlScene release")
    split_dirs = _split_dirs(raw, split or "Test")
    if split is not None and not split_dirs:
        present = (w.parent.parent.name for w in audio_files(raw) if w.parent.name in COCHLSCENE_LABELS)
        raise missing_split(raw, f"CochlScene {split}/<Class>/ folders", present)
    return write_manifest("cochlscene", out, _cochlscene_items(raw, split or "Test", split_dirs))


def _split_dirs(raw: Path, split: str) -> list[Path]:
    return [d for d in raw.rglob(split) if d.is_dir()] or ([raw] if raw.name == split else [])


def _cochlscene_items(raw: Path, split: str, split_dirs: list[Path]) -> Iterator[Row | Skip]:
    if not split_dirs:
        yield Skip("split folder not found", f"{raw}/**/{split}")
    for wav in (w for d in split_dirs for w in audio_files(d)):
        label = wav.parent.name
        if label not in COCHLSCENE_LABELS:
            yield Skip("folder is not a CochlScene class", wav)
        else:
            yield Row(wav, label, "cochlscene", {"id": f"{label}/{wav.stem}"})


# --- TUT2017 -------------------------------------------------------------------------------

def prepare_tut2017(raw: Path, out: Path, split: str | None = None) -> PrepareReport:
    """`meta.txt` ("audio/x.wav<TAB>label" lines), or with --split NAME `evaluation_setup/NAME.txt`."""
    require_dir(raw, "a TUT Acoustic Scenes 2017 release")
    meta = find_one(raw, f"{split}.txt" if split else "meta.txt", "the TUT2017 meta file")
    return write_manifest("tut2017", out, _tut2017_items(meta))


def _tut2017_items(meta: Path) -> Iterator[Row | Skip]:
    for lineno, line in enumerate(meta.read_text(encoding="utf-8").splitlines(), start=1):
        cols = line.strip().split("\t")
        if not line.strip():
            continue
        if len(cols) < 2 or cols[1] not in TUT2017_LABELS:
            yield Skip("line has no scene label", f"{meta}:{lineno}")
            continue
        audio = first_file((meta.parent, meta.parent.parent), cols[0])
        if audio is None:
            yield Skip("audio file missing", cols[0])
        else:
            yield Row(audio, cols[1], "tut2017", {"id": cols[0]})


# --- MELD ----------------------------------------------------------------------------------

def _extract_audio(video: Path, dest: Path) -> str | None:
    """mp4 -> 16 kHz mono wav with ffmpeg; returns what ffmpeg said when it failed, or None."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.stem + ".part.wav")  # renamed when complete: a rerun never takes a partial wav
    cmd = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", "-i", str(video),
           "-vn", "-ac", "1", "-ar", "16000", str(part)]
    done = subprocess.run(cmd, check=False, capture_output=True, text=True)
    if done.returncode == 0 and part.is_file():
        os.replace(part, dest)
        return None
    part.unlink(missing_ok=True)
    lines = done.stderr.strip().splitlines()
    return lines[-1].removeprefix(f"{video}: ")[:200] if lines else f"exit status {done.returncode}"


def prepare_meld(raw: Path, out: Path, split: str | None = None) -> PrepareReport:
    """`<split>_sent_emo.csv` + `dia<D>_utt<U>.mp4` -> wav next to the manifest (needs ffmpeg).

    An audio file already extracted under RAW_DIR with the same stem (dia<D>_utt<U>.wav/.flac)
    is used as is, so ffmpeg is only needed for utterances that exist only as video.
    """
    require_dir(raw, "a MELD release (MELD.Raw)")
    split = split or "test"
    table = split_file(raw, split, "{}_sent_emo.csv")
    candidates = [p for p in sorted(raw.rglob("dia*_utt*")) if p.is_file() and not p.name.startswith("._")]
    media = {p.stem: p for p in candidates if p.suffix.lower() == ".mp4"}
    media.update({p.stem: p for p in candidates if p.suffix.lower() in AUDIO_SUFFIXES})  # audio wins
    audio_dir = Path(out).with_name(Path(out).stem + "_audio")
    return write_manifest("meld", out, _meld_items(table, media, audio_dir, shutil.which("ffmpeg")))


def _meld_items(table: Path, media: dict[str, Path], audio_dir: Path, ffmpeg: str | None) -> Iterator[Row | Skip]:
    for lineno, row in enumerate(read_csv(table), start=2):
        stem = f"dia{row['Dialogue_ID']}_utt{row['Utterance_ID']}"
        label = (row.get("Emotion") or "").strip()
        found = media.get(stem)
        if label not in MELD_LABELS:
            yield Skip("emotion is not a MELD label", f"{table}:{lineno}")
        elif found is None:
            yield Skip("media file missing", stem)
        elif found.suffix.lower() != ".mp4":
            yield Row(found, label, "meld", {"id": stem})
        elif ffmpeg is None:
            yield Skip("ffmpeg not found: install ffmpeg (apt-get install ffmpeg) to extract audio from mp4", found)
        else:
            dest = audio_dir / f"{stem}.wav"
            error = None if dest.is_file() else _extract_audio(found, dest)
            if error:
                yield Skip("ffmpeg could not extract the audio", f"{found}: {error}")
            else:
                yield Row(dest, label, "meld", {"id": stem})


VOCALSOUND = TaskSpec(
    name="vocalsound",
    description="VocalSound human vocal sound classification (accuracy)",
    version="1",
    scorer="accuracy",
    max_new_tokens=4,
    sources=("vocalsound",),
    # evaluate_vocal_sound.py tags the audio as English speech (<|en|>).
    intent=classify_intent("vocal_sound", audio_lang="en", labels=tuple(VOCALSOUND_LABELS.values())),
    paper={"vocalsound": {"acc": 0.9289}},
    labels=tuple(VOCALSOUND_LABELS.values()),
    manifest_name="vocalsound_eval.jsonl",
    prepare=prepare_vocalsound,
    family="classification",
)

COCHLSCENE = TaskSpec(
    name="cochlscene",
    description="CochlScene acoustic scene classification (accuracy)",
    version="1",
    scorer="accuracy",
    max_new_tokens=10,
    sources=("cochlscene",),
    intent=classify_intent("scene", labels=COCHLSCENE_LABELS),
    paper={"cochlscene": {"acc": 0.795}},
    labels=COCHLSCENE_LABELS,
    manifest_name="cochlscene_eval.jsonl",
    prepare=prepare_cochlscene,
    family="classification",
)

TUT2017 = TaskSpec(
    name="tut2017",
    description="TUT Acoustic Scenes 2017 classification (accuracy)",
    version="1",
    scorer="accuracy",
    max_new_tokens=10,
    sources=("tut2017",),
    intent=classify_intent("scene", labels=TUT2017_LABELS),
    paper={"tut2017": {"acc": 0.649}},
    labels=TUT2017_LABELS,
    manifest_name="tut2017_eval.jsonl",
    prepare=prepare_tut2017,
    family="classification",
)

MELD = TaskSpec(
    name="meld",
    description="MELD speech emotion recognition (accuracy)",
    version="1",
    scorer="accuracy",
    max_new_tokens=4,
    sources=("meld",),
    intent=classify_intent("emotion", audio_lang="en", labels=MELD_LABELS),
    paper={"meld": {"acc": 0.557}},
    labels=MELD_LABELS,
    manifest_name="meld_eval.jsonl",
    prepare=prepare_meld,
    family="classification",
)
