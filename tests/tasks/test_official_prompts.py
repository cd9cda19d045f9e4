"""Qwen-Audio base prompts equal the official eval scripts' templates, byte for byte.

The templates are the `prompt = '...'` strings of QwenLM/Qwen-Audio eval_audio/evaluate_*.py,
filled as each script fills them; the fixture's cases.jsonl holds prompts the official
implementation was run on (tests/fixtures/qwen_audio_tiny).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from model_adapters.qwen_audio.prompt import fill_audio, render_prompt
from qa_eval import registry
from qa_eval.errors import AdapterError, ConfigError
from qa_eval.intent import PromptIntent
from qa_eval.records import Sample

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "qwen_audio_tiny" / "cases.jsonl"

OFFICIAL = {  # task -> (sample, template filled as its script does)
    "librispeech": (Sample("x", "librispeech_dev_other", ("p.flac",), "t"),
                    "<audio>p.flac</audio><|startoftranscript|><|en|><|transcribe|><|en|><|notimestamps|><|wo_itn|>"),
    "aishell1": (Sample("x", "aishell1_test", ("p.wav",), "t"),
                 "<audio>p.wav</audio><|startoftranscript|><|zh|><|transcribe|><|zh|><|notimestamps|><|wo_itn|>"),
    "covost2": (Sample("x", "covost2_de_en_test", ("p.mp3",), "t"),
                "<audio>p.mp3</audio><|startoftranscript|><|de|><|translate|><|en|><|notimestamps|><|itn|>"),
    "clotho": (Sample("x", "clotho", ("p.wav",), ("t",) * 5),
               "<audio>p.wav</audio><|startofanalysis|><|unknown|><|caption|><|en|><|notimestamps|><|caption_clotho|>"),
    "clothoaqa": (Sample("x", "clothoaqa", ("p.wav",), "yes", {"question": "Is it raining?"}),
                  "<audio>p.wav</audio><|startofanalysis|><|en|><|question|>Is it raining?<|answer|>"),
    "tut2017": (Sample("x", "tut2017", ("p.wav",), "home"),
                "<audio>p.wav</audio><|startofanalysis|><|unknown|><|keyword|><|en|><|notimestamps|><|scene|>"),
    "cochlscene": (Sample("x", "cochlscene", ("p.wav",), "Bus"),
                   "<audio>p.wav</audio><|startofanalysis|><|unknown|><|keyword|><|en|><|notimestamps|><|scene|>"),
    "meld": (Sample("x", "meld", ("p.wav",), "joy"),
             "<audio>p.wav</audio><|startofanalysis|><|en|><|keyword|><|en|><|notimestamps|><|emotion_recognition|>"),
    "vocalsound": (Sample("x", "vocalsound", ("p.wav",), "Sigh"),
                   "<audio>p.wav</audio><|startofanalysis|><|en|><|keyword|><|en|><|notimestamps|><|vocal_classification|>"),
    "nsynth": (Sample("x", "nsynth", ("p.wav",), "t"),
               "<audio>p.wav</audio><|startofanalysis|><|unknown|><|keyword|><|en|><|notimestamps|><|note_analysis|>"),
    "srwt": (Sample("x", "industrial_srwt", ("p.wav",), "<|0.00|>面<|0.50|>"),
             "<audio>p.wav</audio><|startoftranscript|><|zh|><|transcribe|><|zh|><|timestamps|><|0.00|>"),
}


@pytest.mark.parametrize("task_name", sorted(OFFICIAL))
def test_task_prompt_matches_official_template(task_name):
    sample, expected = OFFICIAL[task_name]
    intent = registry.load("task", task_name).intent(sample)
    assert fill_audio(render_prompt(intent, len(sample.audio)), sample.audio) == expected


def _fixture_cases():
    if not FIXTURE.is_file():
        return []
    return [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines() if line.strip()]


FIXTURE_INTENTS = {  # fixture case id -> the intent that should reproduce its prompt
    "asr_en_flac": PromptIntent("transcribe", "en", "en"),
    "s2tt_en_zh": PromptIntent("translate", "en", "zh", itn=True),
    "aac_glass_mp3": PromptIntent("caption", "unknown", "en", label_set="clotho"),
    "aqa_es_mp3": PromptIntent("question", "unknown", "en", question="What language is the speaker using?"),
    "srwt_en": PromptIntent("transcribe", "en", "en", timestamps=True),
    "long_music_96s": PromptIntent("classify", "unknown", "en", label_set="scene"),
    "two_audios": PromptIntent("question", "unknown", "en", question="Which clip contains speech?"),
}


@pytest.mark.skipif(not FIXTURE.is_file(), reason="shared Qwen-Audio fixture not present")
@pytest.mark.parametrize("case_id", sorted(FIXTURE_INTENTS))
def test_fixture_prompts_reproduced(case_id):
    case = next(c for c in _fixture_cases() if c["id"] == case_id)
    paths = [a["path"] for a in case["audios"]]
    assert fill_audio(render_prompt(FIXTURE_INTENTS[case_id], len(paths)), paths) == case["prompt"]


def test_readme_typo_is_not_used():
    text = render_prompt(PromptIntent("transcribe", "en", "en"))
    assert "<|startoftranscript|>" in text and "startoftranscription" not in text


def test_fill_audio_is_single_pass_and_checks_counts():
    prompt = render_prompt(PromptIntent("question", question="Same?"), n_audio=2)
    assert fill_audio(prompt, ["{audio_2}.wav", "b.wav"]).startswith("Audio 1:<audio>{audio_2}.wav</audio>\n")
    with pytest.raises(AdapterError):
        fill_audio(prompt, ["only-one.wav"])


def test_unknown_family_and_label_set_are_refused():
    with pytest.raises(AdapterError, match="unknown family"):
        render_prompt(PromptIntent("transcribe", "en", "en"), family="qwen3")
    with pytest.raises(AdapterError, match="label set"):
        render_prompt(PromptIntent("classify", label_set="genre"))


def test_intent_rejects_translation_without_distinct_languages():
    with pytest.raises(ConfigError):
        PromptIntent("translate", "en", "en")
