"""Every task declares what docs/DESIGN.md and the official eval scripts fix."""

from __future__ import annotations

import pytest

from qa_eval import registry
from qa_eval.intent import PromptIntent
from qa_eval.records import Sample
from qa_eval.task import TaskSpec

# task -> (scorer, max_new_tokens, manifest_name) as the official scripts / EVALUATION.md use
EXPECTED = {
    "librispeech": ("wer", 256, "librispeech_eval.jsonl"),
    "aishell1": ("wer", 256, "aishell1_eval.jsonl"),
    "aishell2": ("wer", 256, "aishell2_eval.jsonl"),
    "covost2": ("bleu", 256, "covost2_eval.jsonl"),
    "clotho": ("caption", 30, "clotho_eval.jsonl"),
    "clothoaqa": ("aqa-accuracy", 4, "clothoaqa_eval.jsonl"),
    "vocalsound": ("accuracy", 4, "vocalsound_eval.jsonl"),
    "cochlscene": ("accuracy", 10, "cochlscene_eval.jsonl"),
    "tut2017": ("accuracy", 10, "tut2017_eval.jsonl"),
    "meld": ("accuracy", 4, "meld_eval.jsonl"),
    "nsynth": ("nsynth", 30, "nsynth_eval.jsonl"),
    "srwt": ("srwt", 256, "industrial_srwt_eval.jsonl"),
    # the Qwen2-Audio suite (QwenLM/Qwen2-Audio eval_audio/EVALUATION.md, evaluate_asr.py)
    "cv15-en": ("wer-normalized", 256, "cv15_asr_en_eval.jsonl"),
    "cv15-zh": ("wer-normalized", 256, "cv15_asr_zh_eval.jsonl"),
    "cv15-yue": ("wer-normalized", 256, "cv15_asr_yue_eval.jsonl"),
    "cv15-fr": ("wer-normalized", 256, "cv15_asr_fr_eval.jsonl"),
    "fleurs-zh": ("wer-normalized", 256, "fleurs_asr_zh_eval.jsonl"),
}
SCORERS = {"wer", "wer-normalized", "bleu", "caption", "accuracy", "aqa-accuracy", "nsynth", "srwt"}
FRACTIONS = {"wer", "acc", "acc_binary", "map", "instrument_acc", "cider", "spice", "spider"}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_declared_settings(name):
    task = registry.load("task", name)
    assert isinstance(task, TaskSpec) and task.name == name and task.version == "1"
    assert (task.scorer, task.max_new_tokens, task.manifest_name) == EXPECTED[name]
    assert task.scorer in SCORERS
    assert task.paper and set(task.paper) <= set(task.sources)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_paper_numbers_use_our_units(name):
    for metrics in registry.load("task", name).paper.values():
        for metric, value in metrics.items():
            if metric in FRACTIONS:
                assert 0 < value < 1, (metric, value)
            elif metric == "bleu":
                assert 1 < value < 100
            else:
                assert metric == "aas_ms" and value == 51.5


def test_paper_table_values():
    assert registry.load("task", "librispeech").paper["librispeech_test_other"] == {"wer": 0.042}
    assert registry.load("task", "aishell2").paper["aishell2_test_ios"] == {"wer": 0.031}
    assert registry.load("task", "covost2").paper["covost2_zh_en_test"] == {"bleu": 15.7}
    assert registry.load("task", "nsynth").paper["nsynth"] == {"map": 0.4742, "instrument_acc": 0.7882}


def test_sources_follow_official_naming():
    assert registry.load("task", "librispeech").sources == (
        "librispeech_dev_clean", "librispeech_dev_other", "librispeech_test_clean", "librispeech_test_other")
    for source in registry.load("task", "covost2").sources:
        # evaluate_st.py: audio language = split("_")[-3], text language = split("_")[-2]
        src, tgt = source.split("_")[-3], source.split("_")[-2]
        assert {src, tgt} & {"en"} and src != tgt


def test_librispeech_sample_points_at_bundled_manifest():
    task = registry.load("task", "librispeech-sample")
    assert task.sources == ("librispeech_sample",) and task.scorer == "wer"
    assert task.manifest.endswith("tasks/data/librispeech_sample/manifest.jsonl")
    assert task.intent(Sample("a", "librispeech_sample", ("x.flac",), "t")) == PromptIntent("transcribe", "en", "en")


def test_intents_read_manifest_fields():
    covost = registry.load("task", "covost2")
    assert covost.intent(Sample("a", "covost2_fr_en_test", ("x",), "t")).audio_lang == "fr"
    assert covost.intent(Sample("a", "other", ("x",), "t", {"src_lang": "it", "tgt_lang": "en"})).audio_lang == "it"
    srwt = registry.load("task", "srwt")
    assert srwt.intent(Sample("a", "s", ("x",), "<|0.00|>hello<|0.40|>")).audio_lang == "en"
    assert srwt.intent(Sample("a", "s", ("x",), "<|0.00|>面<|0.40|>")).audio_lang == "zh"
    assert srwt.intent(Sample("a", "s", ("x",), "<|0.00|>hi<|0.40|>", {"lang": "zh"})).audio_lang == "zh"
    aqa = registry.load("task", "clothoaqa").intent(Sample("a", "clothoaqa", ("x",), "yes", {"question": "Q?"}))
    assert aqa.question == "Q?"


def test_closed_label_sets():
    assert "Throat clearing" in registry.load("task", "vocalsound").labels
    assert len(registry.load("task", "cochlscene").labels) == 13
    assert len(registry.load("task", "tut2017").labels) == 15
    assert len(registry.load("task", "meld").labels) == 7


@pytest.mark.parametrize("name", sorted(EXPECTED) + ["librispeech-sample"])
def test_every_builtin_task_declares_its_family(name):
    """The family's scorers and official budget are the ones task files get by default (the
    Qwen2-Audio suite's ASR tasks score with the family's wer-normalized, as the report does)."""
    from qa_eval.task_families import CLASSIFY_MAX_NEW_TOKENS, FAMILIES

    task = registry.load("task", name)
    family = FAMILIES[task.family]
    assert task.scorer == (family.scorers[1] if name.startswith(("cv15-", "fleurs-")) else family.scorers[0])
    if task.family == "classification":
        label_set = task.intent(Sample("a", task.sources[0], ("x",), "t")).label_set
        assert task.max_new_tokens == CLASSIFY_MAX_NEW_TOKENS[label_set]
    else:
        assert task.max_new_tokens == family.max_new_tokens
