"""Regenerate the `librispeech-sample` demo data: manifest.jsonl and audio/*.flac.

The demo set is one real LibriSpeech dev-clean utterance (1272-128104-0000, copied from its
LibriSpeech FLAC) plus the SENTENCES below, synthesized with espeak-ng.
Every row is in the official Qwen-Audio eval-list shape:
`{"id", "audio" (relative to this folder), "gt" (LibriSpeech style: upper case, no
punctuation except apostrophes), "source": "librispeech_sample", "lang": "en"}`.

Synthesis: espeak-ng (voice, words per minute, pitch per row below) writes a WAV, sox
converts it to 16 kHz mono 16-bit FLAC (peak -1 dBFS, no dither). The output is deterministic for a given espeak-ng
and sox version (built with espeak-ng 1.51, SoX 14.4.2), so the FLAC files are committed and
nothing here runs in CI. Needs `espeak-ng` and `sox` on PATH (apt-get install espeak-ng sox).

Usage:  python tasks/data/librispeech_sample/make_sample.py [--real PATH_TO_1272-128104-0000.flac]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = "librispeech_sample"
REAL_ID = "1272-128104-0000"
REAL_GT = "MISTER QUILTER IS THE APOSTLE OF THE MIDDLE CLASSES AND WE ARE GLAD TO WELCOME HIS GOSPEL"
DEFAULT_REAL = Path(__file__).resolve().parents[3] / "tests" / "data" / f"{REAL_ID}.flac"

# (voice, words per minute, pitch 0-99): cycled over the sentences.
VOICES = (
    ("en-us", 160, 50),
    ("en-gb", 150, 45),
    ("en-us+f3", 165, 60),
    ("en-gb-x-rp", 155, 50),
    ("en-us+m3", 145, 40),
    ("en-gb+f2", 160, 55),
)

SENTENCES = (
    "The old mill by the river was closed for repairs all winter.",
    "She packed a small bag and left before the sun came up.",
    "Our neighbors planted three apple trees along the garden wall.",
    "The train to the coast was late again this morning.",
    "He wrote a long letter to his brother but never sent it.",
    "A cold wind blew across the fields and bent the tall grass.",
    "The children counted the stars until they fell asleep.",
    "Please bring the red chairs in from the porch before it rains.",
    "The doctor said the fever would pass in a day or two.",
    "We walked along the harbor and watched the fishing boats return.",
    "The library opens at nine and closes early on Sundays.",
    "Nobody knew who had left the lantern burning in the barn.",
    "The captain ordered the crew to lower the sails at once.",
    "My grandmother kept every letter in a wooden box under her bed.",
    "The market was crowded with people buying bread and fresh fruit.",
    "He could hear the church bells ringing far across the valley.",
    "The teacher asked us to read the first chapter by Friday.",
    "A small dog followed them all the way home from the station.",
    "The lamp on the desk flickered and then went out.",
    "They built a fire on the beach and told stories until midnight.",
    "The road over the mountain is closed when the snow is deep.",
    "She thanked the stranger and hurried down the narrow street.",
    "The farmer sold his horses and bought a new tractor in the spring.",
    "Every evening the old man fed the birds in the park.",
    "The judge listened carefully and then adjourned the court until Monday.",
    "We found a quiet table near the window and ordered coffee.",
    "The bridge was painted green and could be seen for miles.",
    "His voice was calm although his hands were shaking.",
    "The soldiers marched through the town to the sound of drums.",
    "I have never seen the sea so still and so blue.",
)


def gt_of(text: str) -> str:
    """LibriSpeech-style transcript: upper case, apostrophes kept, other punctuation dropped."""
    return " ".join(re.sub(r"[^A-Z' ]+", " ", text.upper()).split())


def synthesize(text: str, voice: str, wpm: int, pitch: int, out: Path) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "tts.wav"
        subprocess.run(
            ["espeak-ng", "-v", voice, "-s", str(wpm), "-p", str(pitch), "-w", str(wav), text],
            check=True,
        )
        subprocess.run(
            # -D: no dither (deterministic); peak-normalize to -1 dBFS, then resample
            ["sox", "-D", str(wav), "-c", "1", "-b", "16", str(out), "gain", "-n", "-1", "rate", "-h", "16000"],
            check=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--real", type=Path, default=DEFAULT_REAL, help="the real LibriSpeech FLAC")
    parser.add_argument("--out", type=Path, default=HERE, help="output folder (default: this one)")
    args = parser.parse_args()
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install espeak-ng sox")
    audio_dir = args.out / "audio"
    audio_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.real, audio_dir / f"{REAL_ID}.flac")
    rows = [{"id": REAL_ID, "audio": f"audio/{REAL_ID}.flac", "gt": REAL_GT}]
    for k, text in enumerate(SENTENCES):
        voice, wpm, pitch = VOICES[k % len(VOICES)]
        sample_id = f"espeak-{k:03d}"
        synthesize(text, voice, wpm, pitch, audio_dir / f"{sample_id}.flac")
        rows.append({"id": sample_id, "audio": f"audio/{sample_id}.flac", "gt": gt_of(text), "voice": voice})
    with open(args.out / "manifest.jsonl", "w", encoding="utf-8") as fh:
        for row in rows:
            row = {**row, "source": SOURCE, "lang": "en"}
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} rows to {args.out / 'manifest.jsonl'}")


if __name__ == "__main__":
    main()
