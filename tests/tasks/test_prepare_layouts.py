"""Data preparation on small fake releases laid out as the real ones (tests/fake_layouts.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import fake_layouts
import numpy as np
import pytest
import soundfile as sf
from fake_layouts import librispeech_chapter

from qa_eval import cli
from qa_eval.errors import ConfigError, ManifestError
from qa_eval.manifest import load_manifest
from qa_eval.prepare import Row, Skip, prepare, write_manifest


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_librispeech_trans_txt_tree(tmp_path):
    release = fake_layouts.librispeech(tmp_path / "raw")
    chapter = release.raw / "LibriSpeech" / "test-clean" / "1089" / "134686"
    other = release.raw / "LibriSpeech" / "dev-other" / "116" / "288045"
    out = tmp_path / "out" / "librispeech.jsonl"
    report = prepare("librispeech", release.raw, out)
    assert rows(out) == [
        {"audio": str((other / "116-288045-0000.flac").resolve()), "gt": "as i approached the city",
         "source": "librispeech_dev_other", "id": "116-288045-0000", "lang": "en"},
        {"audio": str((chapter / "1089-134686-0000.flac").resolve()), "gt": "he hoped there would be stew",
         "source": "librispeech_test_clean", "id": "1089-134686-0000", "lang": "en"},
        {"audio": str((chapter / "1089-134686-0001.flac").resolve()), "gt": "stuff it into you",
         "source": "librispeech_test_clean", "id": "1089-134686-0001", "lang": "en"},
    ]
    assert report.written == {"librispeech_test_clean": 2, "librispeech_dev_other": 1}
    assert report.skipped == {"audio file missing": 1}
    assert "skipped 1" in str(report)
    samples = load_manifest(out)  # the lead's loader reads it unchanged
    assert [s.source for s in samples] == ["librispeech_dev_other", "librispeech_test_clean", "librispeech_test_clean"]


def test_librispeech_split_and_relative_paths(tmp_path):
    librispeech_chapter(tmp_path / "LibriSpeech" / "dev-clean", "84", "121123", {"84-121123-0000": "GO DO YOU HEAR"})
    out = tmp_path / "manifest.jsonl"  # audio lies below the manifest folder -> relative path
    prepare("librispeech", tmp_path / "LibriSpeech", out, split="dev-clean")
    assert rows(out) == [{"audio": "LibriSpeech/dev-clean/84/121123/84-121123-0000.flac",
                          "gt": "go do you hear", "source": "librispeech_dev_clean", "id": "84-121123-0000",
                          "lang": "en"}]
    with pytest.raises(ConfigError, match="unknown split"):
        prepare("librispeech", tmp_path / "LibriSpeech", out, split="train-clean-100")


def test_aishell1_transcript_and_wav_tree(tmp_path):
    release = fake_layouts.aishell1(tmp_path / "data_aishell")  # one wav has no transcript line
    out = tmp_path / "aishell1.jsonl"
    report = prepare("aishell1", release.raw, out)
    assert [(r["gt"], r["source"], r["lang"]) for r in rows(out)] == [
        ("一二线城市虽然也处于调整中", "aishell1_dev", "zh"),
        ("甚至出现交易几乎停滞的情况", "aishell1_test", "zh"),
    ]
    assert report.skipped == {"no transcript line": 1}


def test_aishell2_wav_scp_per_channel(tmp_path):
    root = fake_layouts.aishell2(tmp_path / "AISHELL-DEV-TEST-SET").raw  # with an iOS/dev/wav.scp: ignored
    out = tmp_path / "aishell2.jsonl"
    prepare("aishell2", root, out)
    got = {r["source"]: r["gt"] for r in rows(out)}
    assert got == {"aishell2_test_ios": "换一首歌", "aishell2_test_android": "播放音乐", "aishell2_test_mic": "打开空调"}
    prepare("aishell2", root, out, split="ios")
    assert [r["source"] for r in rows(out)] == ["aishell2_test_ios"]


def test_covost2_tsv_and_common_voice_clips(tmp_path):
    # en_de: one TSV for all splits (a train row, a test row without its clip); zh-CN_en: per split
    raw = fake_layouts.covost2(tmp_path / "raw").raw
    out = tmp_path / "covost2.jsonl"
    report = prepare("covost2", raw, out)
    got = rows(out)
    assert [(r["gt"], r["source"], r["src_lang"], r["tgt_lang"]) for r in got] == [
        ("Hallo zusammen.", "covost2_en_de_test", "en", "de"),
        ("Hello", "covost2_zh_en_test", "zh", "en"),
    ]
    assert got[0]["audio"].endswith("cv/en/clips/common_voice_en_1.mp3")
    assert report.skipped["Common Voice clip missing"] == 1
    assert report.skipped["pair TSV not found"] == 5


def test_clotho_five_captions(tmp_path):
    raw = fake_layouts.clotho(tmp_path / "clotho").raw  # "Short.wav" has only four captions
    out = tmp_path / "clotho.jsonl"
    report = prepare("clotho", raw, out)
    assert [(Path(r["audio"]).name, r["gt"], r["source"]) for r in rows(out)] == [
        ("Santa Motor.wav", ["A machine whines.", "An engine, loud, hums.", "A motor runs.", "A car idles.", "Noise hums."], "clotho")]
    assert report.skipped == {"fewer than 5 captions": 1}
    assert load_manifest(out)[0].reference == ("A machine whines.", "An engine, loud, hums.", "A motor runs.", "A car idles.", "Noise hums.")


def test_clothoaqa_question_field(tmp_path):
    raw = fake_layouts.clothoaqa(tmp_path / "aqa").raw  # two questions on rain.wav, one on a missing file
    out = tmp_path / "aqa.jsonl"
    report = prepare("clothoaqa", raw, out)
    assert [(r["gt"], r["question"], r["source"]) for r in rows(out)] == [
        ("yes", "Is it raining?", "clothoaqa"), ("water", "What is falling?", "clothoaqa")]
    assert report.skipped == {"audio file missing": 1}


def test_vocalsound_label_from_file_name(tmp_path):
    fake_layouts.vocalsound(tmp_path / "vocalsound")  # audio_16k/ (+ readme_notes.wav); te.json lists the cough
    out = tmp_path / "vs.jsonl"
    report = prepare("vocalsound", tmp_path / "vocalsound", out)
    assert [(Path(r["audio"]).name, r["gt"]) for r in rows(out)] == [
        ("f0003_0_cough.wav", "Cough"), ("f0100_2_laughter.wav", "Laughter"), ("m0012_1_throatclearing.wav", "Throat clearing")]
    assert report.skipped == {"no VocalSound label at the end of the file name": 1}
    prepare("vocalsound", tmp_path / "vocalsound", out, split="te")
    assert [r["gt"] for r in rows(out)] == ["Cough"]


def test_cochlscene_class_folders(tmp_path):
    raw = fake_layouts.cochlscene(tmp_path / "CochlScene").raw  # Test/{Bus,ResidentialArea}, Train/Cafe
    out = tmp_path / "cochl.jsonl"
    prepare("cochlscene", raw, out)
    assert [(r["gt"], r["source"]) for r in rows(out)] == [("Bus", "cochlscene"), ("ResidentialArea", "cochlscene")]


def test_tut2017_meta_file(tmp_path):
    raw = fake_layouts.tut2017(tmp_path / "TUT-acoustic-scenes-2017-evaluation").raw  # audio/3.wav missing
    out = tmp_path / "tut.jsonl"
    report = prepare("tut2017", raw, out)
    assert [(Path(r["audio"]).name, r["gt"]) for r in rows(out)] == [("1.wav", "cafe/restaurant"), ("2.wav", "city_center")]
    assert report.skipped == {"audio file missing": 1}


def test_meld_uses_extracted_audio_and_explains_missing_ffmpeg(tmp_path, monkeypatch):
    # dia0_utt0 extracted already (wav), dia0_utt1 only as mp4, dia1_utt0 missing
    raw = fake_layouts.meld(tmp_path / "MELD.Raw").raw
    monkeypatch.setattr(shutil, "which", lambda name: None)
    out = tmp_path / "meld.jsonl"
    report = prepare("meld", raw, out)
    assert [(Path(r["audio"]).name, r["gt"], r["source"]) for r in rows(out)] == [("dia0_utt0.wav", "surprise", "meld")]
    assert report.skipped["media file missing"] == 1
    assert any("ffmpeg not found" in reason for reason in report.skipped)


needs_ffmpeg = pytest.mark.skipif(
    not fake_layouts.ffmpeg_available(),
    reason="ffmpeg is not installed (apt-get install ffmpeg): MELD mp4 audio extraction cannot be tested",
)


@needs_ffmpeg
def test_meld_extracts_16k_mono_audio_from_mp4(tmp_path):
    raw = fake_layouts.meld(tmp_path / "MELD.Raw").raw  # dia0_utt1.mp4: 1.5 s of 330 Hz, 44.1 kHz stereo AAC
    out = tmp_path / "m" / "meld.jsonl"
    report = prepare("meld", raw, out)
    assert rows(out) == [
        {"audio": str((raw / "audio" / "dia0_utt0.wav").resolve()), "gt": "surprise", "source": "meld", "id": "dia0_utt0"},
        {"audio": "meld_audio/dia0_utt1.wav", "gt": "neutral", "source": "meld", "id": "dia0_utt1"},
    ]
    assert report.written == {"meld": 2} and report.skipped == {"media file missing": 1}
    wav = out.parent / "meld_audio" / "dia0_utt1.wav"
    info = sf.info(str(wav))
    assert (info.format, info.samplerate, info.channels) == ("WAV", 16000, 1)
    assert info.duration == pytest.approx(fake_layouts.MELD_VIDEO_SECONDS, abs=0.05)  # AAC pads < 1 frame
    audio, _ = sf.read(str(wav), dtype="float32")
    spectrum = np.abs(np.fft.rfft(audio))
    assert np.argmax(spectrum) * 16000 / len(audio) == pytest.approx(330, abs=2)  # the video's tone
    # a rerun takes the extracted wav as it is
    stamp = wav.stat().st_mtime_ns
    prepare("meld", raw, out)
    assert wav.stat().st_mtime_ns == stamp and len(rows(out)) == 2


@needs_ffmpeg
def test_meld_undecodable_mp4_is_skipped_with_ffmpegs_reason(tmp_path):
    raw = fake_layouts.meld(tmp_path / "MELD.Raw").raw
    video = raw / "output_repeated_splits_test" / "dia0_utt1.mp4"
    video.write_bytes(b"not really a video")
    out = tmp_path / "meld.jsonl"
    report = prepare("meld", raw, out)
    assert [r["gt"] for r in rows(out)] == ["surprise"]
    assert report.skipped == {"ffmpeg could not extract the audio": 1, "media file missing": 1}
    assert report.examples["ffmpeg could not extract the audio"].startswith(f"{video}: ")
    assert list((tmp_path / "meld_audio").iterdir()) == []  # no (partial) wav left for a rerun to take


def test_nsynth_examples_json_reference(tmp_path):
    fake_layouts.nsynth(tmp_path)  # nsynth-test/examples.json: three notes, the guitar one without audio
    out = tmp_path / "nsynth.jsonl"
    report = prepare("nsynth", tmp_path, out)
    assert [r["gt"] for r in rows(out)] == [
        "<|pitch|><|midi_pitch_22|><|velocity|><|midi_velocity_50|><|instrument|>bass",
        "<|pitch|><|midi_pitch_60|><|velocity|><|midi_velocity_100|><|instrument|>keyboard<|sonic|>dark, reverb",
    ]
    assert report.skipped == {"audio file missing": 1}


def test_hf_datasets_folder(tmp_path):
    pytest.importorskip("datasets")
    release = fake_layouts.librispeech_hf(tmp_path)  # hf/: one row, audio a path to src/a.wav, text "HELLO WORLD"
    out = tmp_path / "m" / "ls.jsonl"
    with pytest.raises(ConfigError, match="several sources"):
        prepare("librispeech", tmp_path / "hf", out)
    assert release.split == "librispeech_test_other"
    assert cli.main(release.prepare_argv(out)) == 0  # qa-eval data prepare librispeech --from hf --split ...
    (row,) = rows(out)
    assert row["gt"] == "HELLO WORLD" and row["source"] == "librispeech_test_other"
    assert (out.parent / row["audio"]).is_file()


def test_write_manifest_keeps_row_order_and_counts_skips(tmp_path):
    items = [Row(tmp_path / "b.wav", "two", "s2", {"lang": "en"}), Skip("audio file missing", "x.wav"),
             Row("/abs/a.wav", ["r1", "r2"], "s1"), Skip("audio file missing", "y.wav"), Skip("empty", "z")]
    report = write_manifest("t", tmp_path / "m.jsonl", iter(items))
    assert rows(tmp_path / "m.jsonl") == [
        {"audio": "b.wav", "gt": "two", "source": "s2", "lang": "en"},
        {"audio": "/abs/a.wav", "gt": ["r1", "r2"], "source": "s1"},
    ]
    assert report.written == {"s2": 1, "s1": 1}
    assert report.skipped == {"audio file missing": 2, "empty": 1}
    assert report.examples == {"audio file missing": "x.wav", "empty": "z"}
    with pytest.raises(ManifestError, match=r"no usable items \(1 skipped: \{'empty': 1\}\)"):
        write_manifest("t", tmp_path / "n.jsonl", [Skip("empty", "z")])
    assert not (tmp_path / "n.jsonl").exists()


def test_errors_name_the_problem(tmp_path):
    with pytest.raises(ConfigError, match="no such folder"):
        prepare("clotho", tmp_path / "nope", tmp_path / "o.jsonl")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="clotho_captions_evaluation.csv"):
        prepare("clotho", tmp_path / "empty", tmp_path / "o.jsonl")
    with pytest.raises(ManifestError, match="no usable items"):
        prepare("cochlscene", tmp_path / "empty", tmp_path / "o.jsonl")
    with pytest.raises(ConfigError, match="no data preparation"):
        prepare("srwt", tmp_path / "empty", tmp_path / "o.jsonl")


def test_mmau_test_mini_questions_with_choices_and_groups(tmp_path):
    raw = fake_layouts.mmau_test_mini(tmp_path / "MMAU").raw  # one audio missing, one single-option row
    out = tmp_path / "mmau.jsonl"
    report = prepare("mmau-test-mini", raw, out)
    got = rows(out)
    assert [(r["id"], r["gt"], r["source"]) for r in got] == [
        ("mmau-0001", "A bell", "mmau_test_mini"), ("mmau-0002", "Flute", "mmau_test_mini"),
        ("mmau-0003", "one", "mmau_test_mini")]
    assert got[0] == {"audio": "MMAU/test-mini-audios/mmau-0001.wav", "gt": "A bell",  # below the manifest
                      "source": "mmau_test_mini", "id": "mmau-0001", "question": "What makes this sound?",
                      "choices": ["A dog", "A car", "A bell", "Rain"], "category": "sound",
                      "sub_category": "Acoustic Source Inference", "difficulty": "easy",
                      "question_type": "Reasoning", "dataset": "fake"}
    assert "sub_category" not in got[2] and got[2]["category"] == "speech"
    assert report.skipped == {"audio file missing": 1, "fewer than two option texts in 'choices'": 1}
    sample = load_manifest(out)[1]
    assert sample.fields["choices"] == ["Piano", "Violin", "Drums", "Flute"]


def test_mmau_audio_is_found_by_name_when_the_json_lies_elsewhere(tmp_path):
    raw = fake_layouts.mmau_test_mini(tmp_path / "MMAU").raw
    (raw / "meta").mkdir()
    (raw / "mmau-test-mini.json").rename(raw / "meta" / "mmau-test-mini.json")
    assert [r["id"] for r in rows(prepare("mmau-test-mini", raw, tmp_path / "m.jsonl").out)] == [
        "mmau-0001", "mmau-0002", "mmau-0003"]


def test_mmau_release_that_is_not_a_question_list_is_named(tmp_path):
    (tmp_path / "mmau-test-mini.json").write_text('{"id": 1}', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"mmau-test-mini.json: expected a JSON list of questions, got dict"):
        prepare("mmau-test-mini", tmp_path, tmp_path / "m.jsonl")
    (tmp_path / "mmau-test-mini.json").write_text("[", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"mmau-test-mini.json: not a JSON file"):
        prepare("mmau-test-mini", tmp_path, tmp_path / "m.jsonl")
