"""Prepared manifests carry the release's own ids; missing splits and split-less TSVs say what is there.

Fake releases from tests/fake_layouts.py (real files, synthesized audio).
"""

from __future__ import annotations

import json
from pathlib import Path

import fake_layouts
import pytest

from qa_eval.errors import ConfigError, ManifestError
from qa_eval.manifest import load_manifest
from qa_eval.prepare import prepare


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# task -> the ids of its prepared fake release, in manifest order: the release's own item names
RELEASE_IDS = {
    "librispeech": ["116-288045-0000", "1089-134686-0000", "1089-134686-0001"],
    "aishell1": ["BAC009S0724W0121", "BAC009S0764W0121"],
    "aishell2": ["AT0011W0001", "MT0011W0001", "IT0011W0001"],
    "covost2": ["en_de/common_voice_en_1", "zh_en/common_voice_zh-CN_9"],  # a clip may serve several pairs
    "clotho": ["Santa Motor.wav"],
    "clothoaqa": ["clotho_aqa_test.csv:2", "clotho_aqa_test.csv:3"],  # one row per annotator answer
    "vocalsound": ["f0003_0_cough", "f0100_2_laughter", "m0012_1_throatclearing"],
    "cochlscene": ["Bus/Bus_test_001", "ResidentialArea/ResidentialArea_test_001"],
    "tut2017": ["audio/1.wav", "audio/2.wav"],
    "meld": ["dia0_utt0", "dia0_utt1"] if fake_layouts.ffmpeg_available() else ["dia0_utt0"],
    "nsynth": ["bass_synthetic_033-022-050", "keyboard_acoustic_004-060-100"],
    "mmau-test-mini": ["mmau-0001", "mmau-0002", "mmau-0003"],
    **{f"cv15-{lang}": [f"common_voice_{locale}_100", f"common_voice_{locale}_101"]
       for lang, (locale, _) in fake_layouts.CV_SENTENCES.items()},
    "fleurs-zh": ["10004088536354799741", "1000631617766157745"],
}


def test_every_preparable_task_is_covered():
    assert set(RELEASE_IDS) == set(fake_layouts.BUILDERS)


@pytest.mark.parametrize("task", sorted(RELEASE_IDS))
def test_every_prepared_row_carries_the_release_id(tmp_path, task):
    release = fake_layouts.BUILDERS[task](tmp_path / "raw")
    out = tmp_path / "m.jsonl"
    prepare(task, release.raw, out, release.split)
    assert [r.get("id") for r in rows(out)] == RELEASE_IDS[task]
    assert [s.id for s in load_manifest(out)] == RELEASE_IDS[task]  # not the derived "000001:path"


def test_ids_survive_a_re_prepare_that_moves_lines(tmp_path):
    """Resume matches predictions by id: an item that disappears (or appears) must not rename the
    others, as line-number ids did."""
    release = fake_layouts.librispeech(tmp_path / "raw")
    out = tmp_path / "m.jsonl"
    prepare("librispeech", release.raw, out)
    before = {r["audio"]: r["id"] for r in rows(out)}
    first = rows(out)[0]["audio"]
    (tmp_path / first).unlink()  # the dev-other clip: the test-clean rows move up one line
    prepare("librispeech", release.raw, out)
    after = {r["audio"]: r["id"] for r in rows(out)}
    assert first not in after and after == {a: i for a, i in before.items() if a != first}
    assert [s.id for s in load_manifest(out)] == ["1089-134686-0000", "1089-134686-0001"]


# -- a wanted split that the release lacks: say which it has ------------------------------------

def test_librispeech_missing_split_lists_those_present(tmp_path):
    release = fake_layouts.librispeech(tmp_path / "raw")  # test-clean and dev-other only
    with pytest.raises(ConfigError, match=r"no LibriSpeech test-other folder; splits present: dev-other, test-clean"):
        prepare("librispeech", release.raw, tmp_path / "m.jsonl", split="test-other")
    (tmp_path / "train" / "LibriSpeech").mkdir(parents=True)
    fake_layouts.librispeech_chapter(tmp_path / "train" / "LibriSpeech" / "train-clean-100", "19", "198",
                                     {"19-198-0000": "NORTHANGER ABBEY"})
    with pytest.raises(ConfigError, match=r"test-clean / test-other folder; splits present: train-clean-100"):
        prepare("librispeech", tmp_path / "train", tmp_path / "m.jsonl")


@pytest.mark.parametrize("task, split, present", [
    ("aishell1", "dev", None),  # both present: no error
    ("aishell2", "mic", None),
    ("cochlscene", "Val", "Test, Train"),
    ("clotho", "development", "evaluation"),
    ("clothoaqa", "val", "test"),
    ("meld", "dev", "test"),
    ("nsynth", "valid", "test"),
    ("covost2", "de_en", "en_de, zh_en"),
    ("mmau-test-mini", "test", "test-mini"),  # MMAU's test answers are withheld
    ("mmau-test-mini", "test-mini", None),
    ("cv15-yue", "dev", None),
    ("fleurs-zh", "dev", None),
    ("fleurs-zh", "train", "dev, test"),
])
def test_other_missing_splits_list_those_present(tmp_path, task, split, present):
    release = fake_layouts.BUILDERS[task](tmp_path / "raw")
    out = tmp_path / "m.jsonl"
    if present is None:
        prepare(task, release.raw, out, split)
        return
    with pytest.raises(ConfigError, match=rf"; splits present: {present}$") as info:
        prepare(task, release.raw, out, split)
    assert str(info.value).startswith(f"{release.raw}: no ") and split in str(info.value)


def test_aishell_missing_channel_and_split(tmp_path):
    raw = fake_layouts.aishell2(tmp_path / "a2").raw
    for channel in ("Mic", "Android"):
        for f in (raw / channel).rglob("*"):
            f.unlink() if f.is_file() else None
    with pytest.raises(ConfigError, match=r"<mic>/test/wav.scp .*; splits present: ios$"):
        prepare("aishell2", raw, tmp_path / "m.jsonl", split="mic")
    raw1 = fake_layouts.aishell1(tmp_path / "a1").raw
    for wav in (raw1 / "wav" / "dev").rglob("*.wav"):
        wav.unlink()
    (raw1 / "wav" / "dev" / "S0724").rmdir()
    (raw1 / "wav" / "dev").rmdir()
    with pytest.raises(ConfigError, match=r"wav/dev folder .*; splits present: test$"):
        prepare("aishell1", raw1, tmp_path / "m.jsonl", split="dev")


def test_nsynth_never_falls_back_to_another_split(tmp_path):
    release = fake_layouts.nsynth(tmp_path / "raw")
    (release.raw / "nsynth-test").rename(release.raw / "nsynth-valid")  # before: silently prepared as test
    with pytest.raises(ConfigError, match=r"no nsynth-test/examples.json; splits present: valid"):
        prepare("nsynth", release.raw, tmp_path / "m.jsonl")
    (release.raw / "nsynth-valid").rename(release.raw / "my_notes")  # a lone, renamed folder is taken
    assert len(rows(prepare("nsynth", release.raw, tmp_path / "m.jsonl").out)) == 2


# -- CoVoST 2: a pair TSV without a `split` column -----------------------------------------------

def _four_columns(raw: Path) -> Path:
    """The en_de TSV as a 4-column file (path, sentence, translation, client_id), no split column."""
    tsv = raw / "covost" / "covost_v2.en_de.tsv"
    tsv.write_text("path\tsentence\ttranslation\tclient_id\n"
                   "common_voice_en_1.mp3\tHello there.\tHallo zusammen.\tc1\n", encoding="utf-8")
    return tsv


def test_covost2_tsv_without_split_column_is_named(tmp_path):
    raw = fake_layouts.covost2(tmp_path / "raw").raw
    tsv = _four_columns(raw)
    report = prepare("covost2", raw, tmp_path / "m.jsonl")
    assert [r["source"] for r in rows(tmp_path / "m.jsonl")] == ["covost2_zh_en_test"]
    (reason,) = [r for r in report.skipped if "'split' column" in r]
    assert report.examples[reason] == str(tsv) and "covost_v2.<src>_<tgt>.test.tsv" in reason
    (raw / "covost" / "covost_v2.zh-CN_en.test.tsv").unlink()
    with pytest.raises(ManifestError, match=r"no 'split' column") as info:  # not only "pair TSV not found"
        prepare("covost2", raw, tmp_path / "m.jsonl")
    assert "pair TSV not found" in str(info.value)
    with pytest.raises(ManifestError, match=r"\(1 skipped: \{\"TSV has no 'split' column"):
        prepare("covost2", raw, tmp_path / "m.jsonl", split="en_de")


def test_covost2_tsv_without_test_rows_says_so(tmp_path):
    raw = fake_layouts.covost2(tmp_path / "raw").raw
    tsv = raw / "covost" / "covost_v2.en_de.tsv"
    tsv.write_text(tsv.read_text(encoding="utf-8").replace("\ttest\n", "\tdev\n"), encoding="utf-8")
    with pytest.raises(ManifestError, match=r"TSV has no row of the test split"):
        prepare("covost2", raw, tmp_path / "m.jsonl", split="en_de")
