"""Data preparation on small fake releases laid out as the real ones (a few files each)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from qa_eval.errors import ConfigError, ManifestError
from qa_eval.manifest import load_manifest
from qa_eval.prepare import prepare


def tone(path: Path, seconds: float = 0.2, sr: int = 16000) -> Path:
    """A short sine tone (wav/flac by suffix)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr)
    return path


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_librispeech_trans_txt_tree(tmp_path):
    chapter = tmp_path / "raw" / "LibriSpeech" / "test-clean" / "1089" / "134686"
    tone(chapter / "1089-134686-0000.flac")
    tone(chapter / "1089-134686-0001.flac")
    (chapter / "1089-134686.trans.txt").write_text(
        "1089-134686-0000 HE HOPED THERE WOULD BE STEW\n"
        "1089-134686-0001 STUFF IT INTO YOU\n"
        "1089-134686-0002 NO AUDIO FOR THIS ONE\n")
    other = tmp_path / "raw" / "LibriSpeech" / "dev-other" / "116" / "288045"
    tone(other / "116-288045-0000.flac")
    (other / "116-288045.trans.txt").write_text("116-288045-0000 AS I APPROACHED THE CITY\n")
    out = tmp_path / "out" / "librispeech.jsonl"
    report = prepare("librispeech", tmp_path / "raw", out)
    assert rows(out) == [
        {"audio": str((other / "116-288045-0000.flac").resolve()), "gt": "as i approached the city",
         "source": "librispeech_dev_other", "lang": "en"},
        {"audio": str((chapter / "1089-134686-0000.flac").resolve()), "gt": "he hoped there would be stew",
         "source": "librispeech_test_clean", "lang": "en"},
        {"audio": str((chapter / "1089-134686-0001.flac").resolve()), "gt": "stuff it into you",
         "source": "librispeech_test_clean", "lang": "en"},
    ]
    assert report.written == {"librispeech_test_clean": 2, "librispeech_dev_other": 1}
    assert report.skipped == {"audio file missing": 1}
    assert "skipped 1" in str(report)
    samples = load_manifest(out)  # the lead's loader reads it unchanged
    assert [s.source for s in samples] == ["librispeech_dev_other", "librispeech_test_clean", "librispeech_test_clean"]


def test_librispeech_split_and_relative_paths(tmp_path):
    chapter = tmp_path / "LibriSpeech" / "dev-clean" / "84" / "121123"
    tone(chapter / "84-121123-0000.flac")
    (chapter / "84-121123.trans.txt").write_text("84-121123-0000 GO DO YOU HEAR\n")
    out = tmp_path / "manifest.jsonl"  # audio lies below the manifest folder -> relative path
    prepare("librispeech", tmp_path / "LibriSpeech", out, split="dev-clean")
    assert rows(out) == [{"audio": "LibriSpeech/dev-clean/84/121123/84-121123-0000.flac",
                          "gt": "go do you hear", "source": "librispeech_dev_clean", "lang": "en"}]
    with pytest.raises(ConfigError, match="unknown split"):
        prepare("librispeech", tmp_path / "LibriSpeech", out, split="train-clean-100")


def test_aishell1_transcript_and_wav_tree(tmp_path):
    root = tmp_path / "data_aishell"
    (root / "transcript").mkdir(parents=True)
    (root / "transcript" / "aishell_transcript_v0.8.txt").write_text(
        "BAC009S0764W0121 甚至 出现 交易 几乎 停滞 的 情况\n"
        "BAC009S0724W0121 一二线 城市 虽然 也 处于 调整 中\n", encoding="utf-8")
    tone(root / "wav" / "test" / "S0764" / "BAC009S0764W0121.wav")
    tone(root / "wav" / "dev" / "S0724" / "BAC009S0724W0121.wav")
    tone(root / "wav" / "test" / "S0764" / "BAC009S0764W0999.wav")  # no transcript line
    out = tmp_path / "aishell1.jsonl"
    report = prepare("aishell1", root, out)
    assert [(r["gt"], r["source"], r["lang"]) for r in rows(out)] == [
        ("一二线城市虽然也处于调整中", "aishell1_dev", "zh"),
        ("甚至出现交易几乎停滞的情况", "aishell1_test", "zh"),
    ]
    assert report.skipped == {"no transcript line": 1}


def test_aishell2_wav_scp_per_channel(tmp_path):
    root = tmp_path / "AISHELL-DEV-TEST-SET"
    for channel, utt, text in (("iOS", "IT0011W0001", "换一首歌"), ("Android", "AT0011W0001", "播放音乐"),
                               ("Mic", "MT0011W0001", "打开空调")):
        test = root / channel / "test"
        tone(test / "wav" / "T0011" / f"{utt}.wav")
        (test / "wav.scp").write_text(f"{utt}\twav/T0011/{utt}.wav\n", encoding="utf-8")
        (test / "trans.txt").write_text(f"{utt}\t{text}\n", encoding="utf-8")
    (root / "iOS" / "dev").mkdir()
    (root / "iOS" / "dev" / "wav.scp").write_text("ID0001\twav/x.wav\n")  # dev: ignored
    out = tmp_path / "aishell2.jsonl"
    prepare("aishell2", root, out)
    got = {r["source"]: r["gt"] for r in rows(out)}
    assert got == {"aishell2_test_ios": "换一首歌", "aishell2_test_android": "播放音乐", "aishell2_test_mic": "打开空调"}
    prepare("aishell2", root, out, split="ios")
    assert [r["source"] for r in rows(out)] == ["aishell2_test_ios"]


def test_covost2_tsv_and_common_voice_clips(tmp_path):
    raw = tmp_path / "raw"
    (raw / "covost").mkdir(parents=True)
    (raw / "covost" / "covost_v2.en_de.tsv").write_text(
        "path\tsentence\ttranslation\tclient_id\tsplit\n"
        "common_voice_en_1.mp3\tHello there.\tHallo zusammen.\tc1\ttest\n"
        "common_voice_en_2.mp3\tTraining row.\tTrainingszeile.\tc2\ttrain\n"
        "common_voice_en_3.mp3\tMissing clip.\tFehlt.\tc3\ttest\n", encoding="utf-8")
    (raw / "covost" / "covost_v2.zh-CN_en.test.tsv").write_text(
        "path\tsentence\ttranslation\tclient_id\n"
        "common_voice_zh-CN_9.mp3\t你好\tHello\tc9\n", encoding="utf-8")
    tone(raw / "cv" / "en" / "clips" / "common_voice_en_1.wav").rename(raw / "cv" / "en" / "clips" / "common_voice_en_1.mp3")
    tone(raw / "cv" / "zh-CN" / "clips" / "x.wav").rename(raw / "cv" / "zh-CN" / "clips" / "common_voice_zh-CN_9.mp3")
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
    raw = tmp_path / "clotho"
    tone(raw / "evaluation" / "Santa Motor.wav")
    tone(raw / "evaluation" / "Short.wav")
    (raw / "clotho_captions_evaluation.csv").write_text(
        "file_name,caption_1,caption_2,caption_3,caption_4,caption_5\n"
        '"Santa Motor.wav",A machine whines.,"An engine, loud, hums.",A motor runs.,A car idles.,Noise hums.\n'
        "Short.wav,One,Two,Three,Four,\n", encoding="utf-8")
    out = tmp_path / "clotho.jsonl"
    report = prepare("clotho", raw, out)
    assert [(Path(r["audio"]).name, r["gt"], r["source"]) for r in rows(out)] == [
        ("Santa Motor.wav", ["A machine whines.", "An engine, loud, hums.", "A motor runs.", "A car idles.", "Noise hums."], "clotho")]
    assert report.skipped == {"fewer than 5 captions": 1}
    assert load_manifest(out)[0].reference == ("A machine whines.", "An engine, loud, hums.", "A motor runs.", "A car idles.", "Noise hums.")


def test_clothoaqa_question_field(tmp_path):
    raw = tmp_path / "aqa"
    tone(raw / "audio_files" / "rain.wav")
    (raw / "clotho_aqa_test.csv").write_text(
        "file_name,QuestionText,answer,confidence\n"
        "rain.wav,Is it raining?,yes,yes\n"
        "rain.wav,What is falling?,water,maybe\n"
        "gone.wav,Is it loud?,no,yes\n", encoding="utf-8")
    out = tmp_path / "aqa.jsonl"
    report = prepare("clothoaqa", raw, out)
    assert [(r["gt"], r["question"], r["source"]) for r in rows(out)] == [
        ("yes", "Is it raining?", "clothoaqa"), ("water", "What is falling?", "clothoaqa")]
    assert report.skipped == {"audio file missing": 1}


def test_vocalsound_label_from_file_name(tmp_path):
    raw = tmp_path / "vocalsound" / "audio_16k"
    for name in ("f0003_0_cough.wav", "m0012_1_throatclearing.wav", "f0100_2_laughter.wav", "readme_notes.wav"):
        tone(raw / name)
    out = tmp_path / "vs.jsonl"
    report = prepare("vocalsound", tmp_path / "vocalsound", out)
    assert [(Path(r["audio"]).name, r["gt"]) for r in rows(out)] == [
        ("f0003_0_cough.wav", "Cough"), ("f0100_2_laughter.wav", "Laughter"), ("m0012_1_throatclearing.wav", "Throat clearing")]
    assert report.skipped == {"no VocalSound label at the end of the file name": 1}
    datafiles = tmp_path / "vocalsound" / "datafiles"
    datafiles.mkdir()
    (datafiles / "te.json").write_text(json.dumps({"data": [{"wav": "/x/audio_16k/f0003_0_cough.wav", "labels": "/m/01b_21"}]}))
    prepare("vocalsound", tmp_path / "vocalsound", out, split="te")
    assert [r["gt"] for r in rows(out)] == ["Cough"]


def test_cochlscene_class_folders(tmp_path):
    raw = tmp_path / "CochlScene"
    tone(raw / "Test" / "Bus" / "Bus_test_001.wav")
    tone(raw / "Test" / "ResidentialArea" / "ResidentialArea_test_001.wav")
    tone(raw / "Train" / "Cafe" / "Cafe_train_001.wav")
    out = tmp_path / "cochl.jsonl"
    prepare("cochlscene", raw, out)
    assert [(r["gt"], r["source"]) for r in rows(out)] == [("Bus", "cochlscene"), ("ResidentialArea", "cochlscene")]


def test_tut2017_meta_file(tmp_path):
    raw = tmp_path / "TUT-acoustic-scenes-2017-evaluation"
    tone(raw / "audio" / "1.wav")
    tone(raw / "audio" / "2.wav")
    (raw / "meta.txt").write_text("audio/1.wav\tcafe/restaurant\naudio/2.wav\tcity_center\naudio/3.wav\tbeach\n")
    out = tmp_path / "tut.jsonl"
    report = prepare("tut2017", raw, out)
    assert [(Path(r["audio"]).name, r["gt"]) for r in rows(out)] == [("1.wav", "cafe/restaurant"), ("2.wav", "city_center")]
    assert report.skipped == {"audio file missing": 1}


def test_meld_uses_extracted_audio_and_explains_missing_ffmpeg(tmp_path, monkeypatch):
    raw = tmp_path / "MELD.Raw"
    raw.mkdir()
    (raw / "test_sent_emo.csv").write_text(
        "Sr No.,Utterance,Speaker,Emotion,Sentiment,Dialogue_ID,Utterance_ID,Season,Episode,StartTime,EndTime\n"
        '1,"Why do all you\'re coffee mugs have numbers on the bottom?",Mark,surprise,positive,0,0,3,19,00:14:38,00:14:40\n'
        "2,Oh.,Rachel,neutral,neutral,0,1,3,19,00:14:41,00:14:42\n"
        "3,Hi.,Ross,joy,positive,1,0,3,19,00:14:43,00:14:44\n", encoding="utf-8")
    tone(raw / "audio" / "dia0_utt0.wav")
    (raw / "output_repeated_splits_test").mkdir()
    (raw / "output_repeated_splits_test" / "dia0_utt1.mp4").write_bytes(b"not really a video")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    out = tmp_path / "meld.jsonl"
    report = prepare("meld", raw, out)
    assert [(Path(r["audio"]).name, r["gt"], r["source"]) for r in rows(out)] == [("dia0_utt0.wav", "surprise", "meld")]
    assert report.skipped["media file missing"] == 1
    assert any("ffmpeg not found" in reason for reason in report.skipped)


def test_nsynth_examples_json_reference(tmp_path):
    root = tmp_path / "nsynth-test"
    tone(root / "audio" / "keyboard_acoustic_004-060-100.wav")
    tone(root / "audio" / "bass_synthetic_033-022-050.wav")
    (root / "examples.json").write_text(json.dumps({
        "keyboard_acoustic_004-060-100": {"pitch": 60, "velocity": 100, "instrument_family_str": "keyboard",
                                          "qualities_str": ["dark", "reverb"]},
        "bass_synthetic_033-022-050": {"pitch": 22, "velocity": 50, "instrument_family_str": "bass", "qualities_str": []},
        "guitar_missing_000-050-025": {"pitch": 50, "velocity": 25, "instrument_family_str": "guitar", "qualities_str": []},
    }))
    out = tmp_path / "nsynth.jsonl"
    report = prepare("nsynth", tmp_path, out)
    assert [r["gt"] for r in rows(out)] == [
        "<|pitch|><|midi_pitch_22|><|velocity|><|midi_velocity_50|><|instrument|>bass",
        "<|pitch|><|midi_pitch_60|><|velocity|><|midi_velocity_100|><|instrument|>keyboard<|sonic|>dark, reverb",
    ]
    assert report.skipped == {"audio file missing": 1}


def test_hf_datasets_folder(tmp_path):
    datasets = pytest.importorskip("datasets")
    wav = tone(tmp_path / "src" / "a.wav")
    ds = datasets.Dataset.from_dict({"audio": [str(wav)], "text": ["HELLO WORLD"]})
    ds = ds.cast_column("audio", datasets.Audio(decode=False))
    ds.save_to_disk(str(tmp_path / "hf"))
    out = tmp_path / "m" / "ls.jsonl"
    with pytest.raises(ConfigError, match="several sources"):
        prepare("librispeech", tmp_path / "hf", out)
    prepare("librispeech", tmp_path / "hf", out, split="librispeech_test_other")
    (row,) = rows(out)
    assert row["gt"] == "HELLO WORLD" and row["source"] == "librispeech_test_other"
    assert (out.parent / row["audio"]).is_file()


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
