"""Common Voice 15 (cv15-en/zh/yue/fr) and FLEURS (fleurs-zh): the tasks of the Qwen2-Audio suite's
ASR rows, one per language. Their declarations, `data prepare` from the releases' layouts (fake
releases from tests/fake_layouts.py: real files, synthesized audio, FLEURS's tar.gz archive) and
the Qwen2-Audio normalisation the language selects for rows that carry no `lang`."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import fake_layouts
import pytest
import soundfile as sf

from model_adapters.qwen2_audio.prompt import render_prompt
from qa_eval import registry
from qa_eval.errors import ConfigError
from qa_eval.intent import PromptIntent
from qa_eval.manifest import load_manifest
from qa_eval.metrics import score_predictions
from qa_eval.prepare import prepare
from qa_eval.records import Prediction, Sample

# task -> (language, test source, the report's WER, official list)
DECLARED = {
    "cv15-en": ("en", "cv15_en_test", 0.086, "cv15_asr_en_eval.jsonl"),
    "cv15-zh": ("zh", "cv15_zh_test", 0.069, "cv15_asr_zh_eval.jsonl"),
    "cv15-yue": ("yue", "cv15_yue_test", 0.059, "cv15_asr_yue_eval.jsonl"),
    "cv15-fr": ("fr", "cv15_fr_test", 0.096, "cv15_asr_fr_eval.jsonl"),
    "fleurs-zh": ("zh", "fleurs_zh_test", 0.075, "fleurs_asr_zh_eval.jsonl"),
}


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


@pytest.mark.parametrize("name", sorted(DECLARED))
def test_declared_as_the_official_scripts_run_them(name):
    lang, source, wer, listing = DECLARED[name]
    task = registry.load("task", name)
    assert (task.family, task.scorer, task.max_new_tokens, task.manifest_name) == ("asr", "wer-normalized", 256,
                                                                                   listing)
    assert task.scorers == ("wer-normalized", "wer") and task.scorer_options == {"lang": lang}
    assert task.sources[0] == source and task.paper == {source: {"wer": wer}}
    assert task.canonical_source(source.replace("_test", "")) == source  # e.g. an official "cv15_en"
    intent = task.intent(Sample("s", source, ("a.wav",), "ref"))
    assert intent == PromptIntent("transcribe", lang, lang)
    assert render_prompt(intent).endswith(f"Detect the language and recognize the speech: <|{lang}|>")


@pytest.mark.parametrize("lang", sorted(fake_layouts.CV_SENTENCES))
def test_common_voice_test_tsv_and_clips(tmp_path, lang):
    release = fake_layouts.common_voice(tmp_path / "raw", lang)
    locale, sentence = fake_layouts.CV_SENTENCES[lang]
    clips = release.raw / "cv-corpus-15.0-2023-09-08" / locale / "clips"
    out = tmp_path / "out" / "cv.jsonl"
    report = prepare(f"cv15-{lang}", release.raw, out)
    assert rows(out) == [
        {"audio": str((clips / f"common_voice_{locale}_{n}.mp3").resolve()), "gt": text,
         "source": f"cv15_{lang}_test", "id": f"common_voice_{locale}_{n}", "lang": lang}
        for n, text in ((100, sentence), (101, sentence[::-1]))]
    assert report.skipped == {"clip missing": 1, "empty sentence": 1}
    assert [s.fields["lang"] for s in load_manifest(out)] == [lang, lang]


def test_common_voice_dev_split_and_the_locale_folder_itself(tmp_path):
    raw = fake_layouts.common_voice(tmp_path / "raw", "zh").raw
    prepare("cv15-zh", raw, tmp_path / "dev.jsonl", split="dev")
    assert [(r["source"], r["id"], r["gt"]) for r in rows(tmp_path / "dev.jsonl")] == [
        ("cv15_zh_dev", "common_voice_zh-CN_102", "今天天气很好。")]
    locale = raw / "cv-corpus-15.0-2023-09-08" / "zh-CN"
    assert len(rows(prepare("cv15-zh", locale, tmp_path / "test.jsonl").out)) == 2


def test_common_voice_without_the_language_names_the_languages_present(tmp_path):
    raw = fake_layouts.common_voice(tmp_path / "raw", "en").raw
    with pytest.raises(ConfigError, match=r"no folder yue/ \(the Cantonese part of the release\); "
                                          r"language folders present: en, it$"):
        prepare("cv15-yue", raw, tmp_path / "m.jsonl")
    with pytest.raises(ConfigError, match=r"unknown split 'validated'; choose one of \['dev', 'test'\]"):
        prepare("cv15-en", raw, tmp_path / "m.jsonl", split="validated")


def test_fleurs_test_split_from_the_archive(tmp_path):
    release = fake_layouts.fleurs_zh(tmp_path / "raw")
    out = tmp_path / "out" / "fleurs.jsonl"
    report = prepare("fleurs-zh", release.raw, out)
    names = [name for _, name, _ in fake_layouts.FLEURS_LINES[:2]]
    assert rows(out) == [
        {"audio": f"fleurs_audio/{name}", "gt": text, "source": "fleurs_zh_test", "id": Path(name).stem,
         "lang": "zh"} for _, name, text in fake_layouts.FLEURS_LINES[:2]]
    assert report.skipped == {"audio file missing": 1, "no transcription": 1}
    audio, sr = sf.read(tmp_path / "out" / "fleurs_audio" / names[0])
    assert sr == 16000 and len(audio) == 4800  # the archive's 0.3 s tone, whole
    assert sorted(p.name for p in (tmp_path / "out" / "fleurs_audio").iterdir()) == sorted(names)
    first = tmp_path / "out" / "fleurs_audio" / names[0]
    os.utime(first, (1_000_000, 1_000_000))
    prepare("fleurs-zh", release.raw, out)  # a second run reuses what the first wrote
    assert first.stat().st_mtime == 1_000_000


def test_fleurs_extracted_folder_and_config_folder(tmp_path):
    raw = fake_layouts.fleurs_zh(tmp_path / "raw").raw
    config = raw / "data" / "cmn_hans_cn"
    report = prepare("fleurs-zh", config, tmp_path / "dev.jsonl", split="dev")
    assert rows(tmp_path / "dev.jsonl") == [{"audio": "raw/data/cmn_hans_cn/audio/dev/2001.wav", "gt": "谢谢。",
                                             "source": "fleurs_zh_dev", "id": "2001", "lang": "zh"}]
    assert report.n_skipped == 0 and not (tmp_path / "dev_audio").exists()


def test_fleurs_archive_members_never_write_outside_the_audio_folder(tmp_path):
    raw = fake_layouts.fleurs_zh(tmp_path / "raw").raw
    config = raw / "data" / "cmn_hans_cn"
    (config / "test.tsv").write_text("1\tevil.wav\t你好\t你好\t你 好\t16000\tMALE\n", encoding="utf-8")
    archive = config / "audio" / "test.tar.gz"
    data = (config / "audio" / "dev" / "2001.wav").read_bytes()
    with tarfile.open(archive, "w:gz") as tar:
        info = tarfile.TarInfo("../../../evil.wav")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    out = tmp_path / "work" / "m.jsonl"
    prepare("fleurs-zh", raw, out)
    assert rows(out)[0]["audio"] == "m_audio/evil.wav"
    assert not list(tmp_path.glob("evil.wav")) and not list(raw.parent.glob("evil.wav"))


@pytest.mark.parametrize("name, reference, hypothesis", [
    ("cv15-yue", "我哋聽日去飲茶。", "我哋听日去饮茶"),  # traditional -> simplified, punctuation removed
    ("cv15-en", "Hello there, how are you?", "hello there how are you"),  # Whisper English normaliser
    ("fleurs-zh", "他们在2011年去了北京。", "他们在二零一一年去了北京"),  # Chinese numbers normalised
])
def test_rows_without_lang_are_scored_in_the_tasks_language(name, reference, hypothesis):
    task = registry.load("task", name)
    source = task.sources[0]
    scored = score_predictions(task, [Prediction("a", source, reference, hypothesis)], bootstrap=False)
    assert scored.per_source[source].values["wer"] == 0.0
    wrong = score_predictions(task, [Prediction("a", source, reference, hypothesis[:-1])], bootstrap=False)
    assert wrong.per_source[source].values["wer"] > 0.0
