"""LibriSpeech ASR (paper Table 3: dev-clean / dev-other / test-clean / test-other WER).

Official eval list: `librispeech_eval.jsonl` (QwenLM/Qwen-Audio eval_audio/EVALUATION.md), one
source per split. Release layout (openslr.org/12): `LibriSpeech/<split>/<spk>/<chapter>/` with
`<spk>-<chapter>.trans.txt` ("UTT-ID TRANSCRIPT" lines, upper case) beside `UTT-ID.flac`.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from qa_eval.prepare import PrepareReport, Row, Skip, require_dir, write_manifest
from qa_eval.task import TaskSpec
from qa_eval.task_families import asr_intent
from tasks._common import missing_split, pick_split

SPLITS = {
    "dev-clean": "librispeech_dev_clean",
    "dev-other": "librispeech_dev_other",
    "test-clean": "librispeech_test_clean",
    "test-other": "librispeech_test_other",
}

SAMPLE_MANIFEST = Path(__file__).resolve().parent / "data" / "librispeech_sample" / "manifest.jsonl"


def prepare_librispeech(raw: Path, out: Path, split: str | None = None) -> PrepareReport:
    """`*.trans.txt` trees under `raw` (any depth) -> manifest; gt lower-cased as the official
    list, id = the utterance id. ConfigError listing the splits present when none wanted is."""
    require_dir(raw, "a LibriSpeech release")
    wanted = pick_split(split, SPLITS, "librispeech")
    dirs = {name: [raw] if raw.name == name else sorted(p for p in raw.rglob(name) if p.is_dir()) for name in wanted}
    if not any(dirs.values()):
        present = (t.parent.parent.parent.name for t in raw.rglob("*.trans.txt"))
        raise missing_split(raw, f"LibriSpeech {' / '.join(wanted)} folder", present)
    return write_manifest("librispeech", out, _librispeech_items(dirs, wanted))


def _librispeech_items(dirs: dict[str, list[Path]], wanted: dict[str, str]) -> Iterator[Row | Skip]:
    for name, split_dirs in dirs.items():
        for trans in sorted(t for d in split_dirs for t in d.rglob("*.trans.txt")):
            for lineno, line in enumerate(trans.read_text(encoding="utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                utt, _, text = line.strip().partition(" ")
                audio = trans.parent / f"{utt}.flac"
                if not text.strip():
                    yield Skip("empty transcript", f"{trans}:{lineno}")
                elif not audio.is_file():
                    yield Skip("audio file missing", audio)
                else:
                    yield Row(audio, text.strip().lower(), wanted[name], {"id": utt, "lang": "en"})


LIBRISPEECH = TaskSpec(
    name="librispeech",
    description="LibriSpeech English ASR (WER, paper scorer), dev/test clean/other",
    version="1",
    scorer="wer",
    max_new_tokens=256,
    sources=tuple(SPLITS.values()),
    intent=asr_intent("en"),
    paper={
        "librispeech_dev_clean": {"wer": 0.018},
        "librispeech_dev_other": {"wer": 0.040},
        "librispeech_test_clean": {"wer": 0.020},
        "librispeech_test_other": {"wer": 0.042},
    },
    manifest_name="librispeech_eval.jsonl",
    scorer_options={"lang": "en"},
    prepare=prepare_librispeech,
    hf_columns={"audio": "audio", "gt": "text"},
    family="asr",
)

LIBRISPEECH_SAMPLE = TaskSpec(
    name="librispeech-sample",
    description="A few bundled LibriSpeech utterances (smoke test; no paper number)",
    version="1",
    scorer="wer",
    max_new_tokens=256,
    sources=("librispeech_sample",),
    intent=asr_intent("en"),
    manifest=str(SAMPLE_MANIFEST),
    scorer_options={"lang": "en"},
    family="asr",
)
