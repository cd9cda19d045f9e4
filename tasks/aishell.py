"""Aishell-1 (dev, test) and Aishell-2 (test: Mic, iOS, Android) Mandarin ASR (CER as `wer`).

Official eval lists: `aishell1_eval.jsonl`, `aishell2_eval.jsonl` (QwenLM/Qwen-Audio
eval_audio/EVALUATION.md; language "zh" in evaluate_asr.py).
Aishell-1 release (openslr.org/33): `data_aishell/transcript/aishell_transcript_v0.8.txt`
("UTT w1 w2 ..." word-segmented lines) and `data_aishell/wav/<split>/<spk>/UTT.wav`.
Aishell-2 test set (AISHELL-DEV-TEST-SET): `<Channel>/test/wav.scp` ("UTT<TAB>relative/path.wav")
and `<Channel>/test/trans.txt` ("UTT<TAB>text"), one folder per channel (iOS, Android, Mic).
References are written without spaces (the scorer deletes whitespace for Chinese anyway).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from qa_eval.prepare import PrepareReport, Row, Skip, find_one, require_dir, write_manifest
from qa_eval.task import TaskSpec
from qa_eval.task_families import asr_intent
from tasks._common import missing_split, pick_split

AISHELL1_SPLITS = {"dev": "aishell1_dev", "test": "aishell1_test"}
AISHELL2_CHANNELS = {"mic": "aishell2_test_mic", "ios": "aishell2_test_ios", "android": "aishell2_test_android"}


def _two_columns(path: Path) -> dict[str, str]:
    """'KEY<whitespace>VALUE' lines -> {KEY: VALUE}; blank lines ignored."""
    table: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        key, _, value = line.strip().partition("\t") if "\t" in line else line.strip().partition(" ")
        if key:
            table[key] = value.strip()
    return table


def prepare_aishell1(raw: Path, out: Path, split: str | None = None) -> PrepareReport:
    require_dir(raw, "an Aishell-1 release (data_aishell)")
    transcript = _two_columns(find_one(raw, "aishell_transcript_v0.8.txt", "the Aishell-1 transcript"))
    wanted = pick_split(split, AISHELL1_SPLITS, "aishell1")
    wav_roots = [w for w in (raw, *raw.rglob("wav")) if w.name == "wav" and w.is_dir()]
    present = {d.name for w in wav_roots for d in w.iterdir() if d.is_dir()}
    if not set(wanted) & present:
        raise missing_split(raw, f"wav/{' or wav/'.join(wanted)} folder (untar the per-speaker archives)", present)
    return write_manifest("aishell1", out, _aishell1_items(raw, transcript, wanted))


def _aishell1_items(raw: Path, transcript: dict[str, str], wanted: dict[str, str]) -> Iterator[Row | Skip]:
    for name, source in wanted.items():
        wav_dirs = [p for p in raw.rglob(name) if p.is_dir() and p.parent.name == "wav"]
        if not wav_dirs:
            yield Skip("split folder wav/<split> not found (untar the per-speaker archives)", f"{raw}/**/wav/{name}")
        for wav in sorted(w for d in wav_dirs for w in d.rglob("*.wav")):
            text = transcript.get(wav.stem)
            if text is None:
                yield Skip("no transcript line", wav)
            else:
                yield Row(wav, "".join(text.split()), source, {"id": wav.stem, "lang": "zh"})


def _channel(folder: Path) -> str | None:
    for part in reversed(folder.parts):
        if part.lower() in AISHELL2_CHANNELS:
            return part.lower()
    return None


def prepare_aishell2(raw: Path, out: Path, split: str | None = None) -> PrepareReport:
    require_dir(raw, "the Aishell-2 dev/test set (AISHELL-DEV-TEST-SET)")
    wanted = pick_split(split, AISHELL2_CHANNELS, "aishell2")
    present = {_channel(scp.parent) for scp in raw.rglob("wav.scp") if scp.parent.name == "test"} - {None}
    if not set(wanted) & present:
        raise missing_split(raw, f"<{' or '.join(wanted)}>/test/wav.scp (channel folders iOS, Android, Mic)", present)
    return write_manifest("aishell2", out, _aishell2_items(raw, wanted))


def _aishell2_items(raw: Path, wanted: dict[str, str]) -> Iterator[Row | Skip]:
    for scp in sorted(raw.rglob("wav.scp")):
        channel = _channel(scp.parent)
        if scp.parent.name != "test" or channel not in wanted:
            continue
        trans_path = scp.parent / "trans.txt"
        if not trans_path.is_file():
            yield Skip("trans.txt missing beside wav.scp", scp)
            continue
        trans = _two_columns(trans_path)
        for utt, rel in _two_columns(scp).items():
            wav = (scp.parent / rel) if not Path(rel).is_absolute() else Path(rel)
            if utt not in trans or not trans[utt]:
                yield Skip("no transcript line", f"{scp}: {utt}")
            elif not wav.is_file():
                yield Skip("audio file missing", wav)
            else:
                yield Row(wav, "".join(trans[utt].split()), wanted[channel], {"id": utt, "lang": "zh"})


AISHELL1 = TaskSpec(
    name="aishell1",
    description="Aishell-1 Mandarin ASR (character error rate, reported as wer), dev/test",
    version="1",
    scorer="wer",
    max_new_tokens=256,
    sources=tuple(AISHELL1_SPLITS.values()),
    intent=asr_intent("zh"),
    paper={"aishell1_dev": {"wer": 0.012}, "aishell1_test": {"wer": 0.013}},
    manifest_name="aishell1_eval.jsonl",
    scorer_options={"lang": "zh"},
    prepare=prepare_aishell1,
    hf_columns={"audio": "audio", "gt": "text"},
    family="asr",
)

AISHELL2 = TaskSpec(
    name="aishell2",
    description="Aishell-2 Mandarin ASR test set (character error rate), Mic/iOS/Android",
    version="1",
    scorer="wer",
    max_new_tokens=256,
    sources=tuple(AISHELL2_CHANNELS.values()),
    intent=asr_intent("zh"),
    paper={
        "aishell2_test_mic": {"wer": 0.033},
        "aishell2_test_ios": {"wer": 0.031},
        "aishell2_test_android": {"wer": 0.033},
    },
    manifest_name="aishell2_eval.jsonl",
    scorer_options={"lang": "zh"},
    prepare=prepare_aishell2,
    family="asr",
)
