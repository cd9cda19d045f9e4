"""Snapshot of the exact prompt text of one fixed sample per (task, model family).

Each pair renders into tests/tasks/snapshots/<task>__<family>.txt; a refused pair records the
AdapterError message instead. To accept intended changes, rerun with QA_EVAL_UPDATE_SNAPSHOTS=1
and review the diff of the snapshot files.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from model_adapters.qwen2_audio import prompt as qwen2_prompt
from model_adapters.qwen_audio import prompt as qwen_prompt
from model_adapters.whisper import prompt as whisper_prompt
from qa_eval import registry
from qa_eval.errors import AdapterError
from qa_eval.records import Sample

SNAPSHOTS = Path(__file__).parent / "snapshots"
UPDATE = os.environ.get("QA_EVAL_UPDATE_SNAPSHOTS") == "1"

# One fixed sample per task (the shape of its official manifest rows).
SAMPLES = {
    "librispeech-sample": Sample("s0", "librispeech_sample", ("a.flac",), "mister quilter"),
    "librispeech": Sample("s0", "librispeech_test_clean", ("a.flac",), "mister quilter"),
    "aishell1": Sample("s0", "aishell1_test", ("a.wav",), "甚至出现交易几乎停滞的情况"),
    "aishell2": Sample("s0", "aishell2_test_ios", ("a.wav",), "换一首歌"),
    "covost2": Sample("s0", "covost2_en_zh_test", ("a.mp3",), "她会没事的。"),
    "clotho": Sample("s0", "clotho", ("a.wav",), ("a dog barks",) * 5),
    "clothoaqa": Sample("s0", "clothoaqa", ("a.wav",), "yes", {"question": "Is a dog barking?"}),
    "vocalsound": Sample("s0", "vocalsound", ("a.wav",), "Cough"),
    "cochlscene": Sample("s0", "cochlscene", ("a.wav",), "Bus"),
    "tut2017": Sample("s0", "tut2017", ("a.wav",), "beach"),
    "meld": Sample("s0", "meld", ("a.wav",), "neutral"),
    "nsynth": Sample("s0", "nsynth", ("a.wav",), "<|pitch|><|midi_pitch_60|><|velocity|><|midi_velocity_100|><|instrument|>keyboard"),
    "srwt": Sample("s0", "industrial_srwt", ("a.wav",), "<|0.00|><|sil|><|0.54|>面<|0.86|>条<|1.17|>"),
    "mmau-test-mini": Sample("s0", "mmau_test_mini", ("a.wav",), "Man", {
        "question": "Based on the given audio, identify the source of the speaking voice.",
        "choices": ["Man", "Woman", "Child", "Robot"], "category": "sound"}),
    "cv15-en": Sample("s0", "cv15_en_test", ("a.mp3",), "Hello there, how are you?"),
    "cv15-zh": Sample("s0", "cv15_zh_test", ("a.mp3",), "今天天气很好。"),
    "cv15-yue": Sample("s0", "cv15_yue_test", ("a.mp3",), "我哋聽日去飲茶。"),
    "cv15-fr": Sample("s0", "cv15_fr_test", ("a.mp3",), "Bonjour à tous."),
    "fleurs-zh": Sample("s0", "fleurs_zh_test", ("a.wav",), "这并不是告别。"),
}

FAMILIES = {
    "qwen-audio": lambda intent: qwen_prompt.render_prompt(intent, 1, family="qwen-audio"),
    "qwen-audio-chat": lambda intent: qwen_prompt.render_prompt(intent, 1, family="qwen-audio-chat"),
    "qwen2-audio": lambda intent: qwen2_prompt.render_prompt(intent, 1),
    "whisper": lambda intent: whisper_prompt.render_prompt(intent, 1, multilingual=True),
    "whisper-en": lambda intent: whisper_prompt.render_prompt(intent, 1, multilingual=False),
}


def render(task_name: str, family: str) -> str:
    task = registry.load("task", task_name)
    try:
        return FAMILIES[family](task.intent(SAMPLES[task_name]))
    except AdapterError as exc:
        return f"REFUSED: {exc}"


def test_every_task_has_a_fixed_sample():
    assert set(SAMPLES) == set(registry.names("task"))


@pytest.mark.parametrize("family", sorted(FAMILIES))
@pytest.mark.parametrize("task_name", sorted(SAMPLES))
def test_prompt_snapshot(task_name: str, family: str):
    text = render(task_name, family)
    path = SNAPSHOTS / f"{task_name}__{family}.txt"
    if UPDATE:
        SNAPSHOTS.mkdir(exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"no snapshot {path.name}; run with QA_EVAL_UPDATE_SNAPSHOTS=1 and review it"
    assert text == path.read_text(encoding="utf-8"), f"prompt of ({task_name}, {family}) changed"
