"""Task files (qa_eval.task_file): a task of a known family declared in TOML.

Example files: one per family in tests/tasks/task_files/, and the README's two in docs/examples/
(an SRWT set of the user's own, an in-house English ASR set).
"""

from __future__ import annotations

import json
import shutil
import warnings
from dataclasses import replace
from pathlib import Path

import pytest

from qa_eval import registry
from qa_eval.errors import ConfigError, ManifestError
from qa_eval.intent import PromptIntent
from qa_eval.manifest import canonical_sources, load_manifest
from qa_eval.metrics import metrics_document, score_predictions
from qa_eval.records import Prediction, Sample
from qa_eval.task import UnknownSourceWarning
from qa_eval.task_file import default_tasks_dir, load_task_file, task_files_in

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "tests" / "tasks" / "task_files"
DOCS = ROOT / "docs" / "examples"
SPEECH = ROOT / "tests" / "data" / "1272-128104-0000.flac"


def _sample(source: str, reference="x", **fields) -> Sample:
    return Sample("s0", source, ("a.wav",), reference, fields)


# file -> (name, family, scorer, max_new_tokens, scorer_options, a sample, the intent it gets)
FAMILY_EXAMPLES = {
    "asr.toml": ("asr", "asr", "wer-normalized", 256, {"lang": "yue"}, _sample("voice_notes_yue"),
                 PromptIntent("transcribe", "yue", "yue")),
    "translation.toml": ("calls-de-en", "translation", "bleu", 256, {"tgt_lang": "en"}, _sample("calls_de_en"),
                         PromptIntent("translate", "de", "en", itn=True)),
    "caption.toml": ("street-captions", "caption", "caption", 30, {}, _sample("street_sounds", ("a", "b")),
                     PromptIntent("caption", "unknown", "en", label_set="audiocaps")),
    "classification.toml": ("factory-scenes", "classification", "accuracy", 10, {}, _sample("factory_floor"),
                            PromptIntent("classify", "unknown", "en", label_set="scene",
                                         labels=("press", "conveyor", "office", "yard"))),
    "aqa.toml": ("street-aqa", "aqa", "aqa-accuracy", 8, {}, _sample("street_aqa", question="Is it loud?"),
                 PromptIntent("question", "unknown", "en", question="Is it loud?")),
    "srwt.toml": ("srwt-mixed", "srwt", "srwt", 256, {}, _sample("meetings_zh", "<|0.00|>面<|0.40|>"),
                  PromptIntent("transcribe", "zh", "zh", timestamps=True)),
    "note_analysis.toml": ("sampler-notes", "note-analysis", "nsynth", 30, {}, _sample("sampler_notes"),
                           PromptIntent("analyze_note", "unknown", "en", label_set="nsynth")),
    "multiple_choice.toml": ("machine-mcq", "multiple-choice", "mmau", 64, {},
                             _sample("machine_mcq", "Belt slip", question="What fails?",
                                     choices=["Bearing noise", "Belt slip"]),
                             PromptIntent("choose", "unknown", "en", question="What fails?",
                                          choices=("Bearing noise", "Belt slip"))),
}


def test_there_is_an_example_file_per_family() -> None:
    from qa_eval.task_families import FAMILIES

    assert {spec[1] for spec in FAMILY_EXAMPLES.values()} == set(FAMILIES)
    assert sorted(p.name for p in EXAMPLES.glob("*.toml")) == sorted(FAMILY_EXAMPLES)


@pytest.mark.parametrize("file", sorted(FAMILY_EXAMPLES))
def test_family_examples_load(file: str) -> None:
    name, family, scorer, budget, options, sample, intent = FAMILY_EXAMPLES[file]
    task = load_task_file(EXAMPLES / file)
    assert (task.name, task.family, task.scorer, task.max_new_tokens) == (name, family, scorer, budget)
    assert dict(task.scorer_options) == options and task.origin == str(EXAMPLES / file)
    assert task.intent(sample) == intent
    assert task.manifest is None and task.prepare is None


def test_family_example_details() -> None:
    classification = load_task_file(EXAMPLES / "classification.toml")
    assert classification.labels == ("press", "conveyor", "office", "yard")
    assert classification.sources == ("factory_floor", "factory_office")
    assert classification.paper == {"factory_floor": {"acc": 0.81}}
    assert classification.description == "classification task (classification.toml)"
    assert load_task_file(EXAMPLES / "srwt.toml").version == "3"  # an integer version reads as text
    assert load_task_file(EXAMPLES / "translation.toml").paper == {"calls_de_en": {"bleu": 31.5}}
    srwt = load_task_file(EXAMPLES / "srwt.toml")
    assert srwt.intent(_sample("meetings_en", "<|0.00|>hello<|0.40|>")).audio_lang == "en"
    assert srwt.intent(_sample("meetings_en", "<|0.00|>hello<|0.40|>", lang="zh")).audio_lang == "zh"
    with pytest.raises(ConfigError, match="has no 'question'"):
        load_task_file(EXAMPLES / "aqa.toml").intent(_sample("street_aqa"))
    mcq = load_task_file(EXAMPLES / "multiple_choice.toml")
    assert mcq.paper == {"machine_mcq": {"acc": 0.62}}
    with pytest.raises(ConfigError, match="'choices' must be a list of at least two option texts"):
        mcq.intent(_sample("machine_mcq", question="What fails?", choices=["Belt slip"]))


@pytest.mark.parametrize("builtin, text, sample", [
    ("librispeech", 'family = "asr"\nlanguage = "en"', _sample("x", "mister quilter")),
    ("aishell1", 'family = "asr"\nlanguage = "zh"', _sample("x", "甚至")),
    ("covost2", 'family = "translation"\nlanguage = "en"\ntarget_language = "zh"', _sample("covost2_en_zh_test")),
    ("clotho", 'family = "caption"\nstyle = "clotho"', _sample("x", ("a",))),
    ("clothoaqa", 'family = "aqa"', _sample("x", "yes", question="Is it raining?")),
    ("vocalsound", 'family = "classification"\nlabel_set = "vocal_sound"\nlanguage = "en"\nlabels = ["Cough"]',
     _sample("x", "Cough")),
    ("meld", 'family = "classification"\nlabel_set = "emotion"\nlanguage = "en"\nlabels = ["joy"]', _sample("x")),
    ("cochlscene", 'family = "classification"\nlabel_set = "scene"\nlabels = ["Bus"]', _sample("x")),
    ("nsynth", 'family = "note-analysis"', _sample("x")),
    ("srwt", 'family = "srwt"', _sample("x", "<|0.00|><|sil|><|0.54|>面<|0.86|>条<|1.17|>")),
    ("mmau-test-mini", 'family = "multiple-choice"', _sample("x", "Man", question="Who?", choices=["Man", "Woman"])),
])
def test_a_task_file_prompts_and_scores_as_the_builtin_of_its_family(tmp_path, builtin, text, sample) -> None:
    """The built-in plugins and the task files share one set of family builders."""
    path = tmp_path / "t.toml"
    path.write_text(f'{text}\nsources = ["mine"]\n')
    task, reference = load_task_file(path), registry.load("task", builtin)
    # the same intent, but for the closed label set, which is each task's own
    assert replace(task.intent(sample), labels=()) == replace(reference.intent(sample), labels=())
    assert task.intent(sample).labels == (task.labels or ())
    assert (task.scorer, task.max_new_tokens, task.family) == (reference.scorer, reference.max_new_tokens,
                                                              reference.family)


def test_the_readme_srwt_example(tmp_path: Path) -> None:
    task = load_task_file(DOCS / "my_srwt.toml")
    assert (task.name, task.family, task.scorer, task.sources) == ("srwt-zh-news", "srwt", "srwt", ("srwt_zh_news",))
    assert task.manifest == str(DOCS / "srwt_zh_news.jsonl") and dict(task.scorer_options) == {"lang": "zh"}
    assert task.paper == {"srwt_zh_news": {"aas_ms": 62.0}}
    assert task.intent(_sample("srwt_zh_news", "<|0.00|>hello<|0.40|>")) == PromptIntent(
        "transcribe", "zh", "zh", timestamps=True)


def test_the_readme_inhouse_asr_example() -> None:
    task = load_task_file(DOCS / "inhouse_asr.toml")
    assert (task.name, task.family, task.scorer, task.version) == ("inhouse-asr-en", "asr", "wer", "2")
    assert task.sources == ("calls_2024q1", "calls_2024q2") and task.manifest == "/data/inhouse/asr_en/manifest.jsonl"
    assert task.paper == {"calls_2024q1": {"wer": 0.112}, "calls_2024q2": {"wer": 0.098}}
    assert task.intent(_sample("calls_2024q1")) == PromptIntent("transcribe", "en", "en")


def test_the_mmar_example_is_a_multiple_choice_task() -> None:
    task = load_task_file(DOCS / "mmar.toml")
    assert (task.name, task.family, task.scorer, task.sources) == ("mmar", "multiple-choice", "mmau", ("mmar",))
    sample = _sample("mmar", "Piano", question="Which instrument?", choices=["Piano", "Organ"], category="music")
    assert task.intent(sample) == PromptIntent("choose", "unknown", "en", question="Which instrument?",
                                               choices=("Piano", "Organ"))


def _manifest(folder: Path, rows: list[dict]) -> Path:
    shutil.copy(SPEECH, folder / "a.flac")
    path = folder / "m.jsonl"
    path.write_text("".join(json.dumps({"audio": "a.flac", **r}) + "\n" for r in rows))
    return path


def test_srwt_example_from_manifest_to_metrics(tmp_path: Path) -> None:
    """The official documentation's SRWT row (source "aishell2") runs beside the declared source,
    with one warning, and both are scored; only the declared one has a paper value."""
    task = load_task_file(DOCS / "my_srwt.toml")
    gt = "<|0.00|><|sil|><|0.54|>面<|0.86|>条<|1.17|>"
    m = _manifest(tmp_path, [{"gt": gt, "source": "srwt_zh_news", "id": "1"},
                             {"gt": gt, "source": "aishell2", "id": "2"}])
    with pytest.warns(UnknownSourceWarning, match=r"\['aishell2'\]") as record:
        samples = canonical_sources(load_manifest(m), task)
    assert len(record) == 1 and [s.source for s in samples] == ["srwt_zh_news", "aishell2"]
    # the model answers after the prompt's <|0.00|>: every word shifted by 0.1 s except the dropped first
    predicted = "<|sil|><|0.64|>面<|0.96|>条<|1.27|>"
    preds = [Prediction(s.id, s.source, s.reference, predicted, extra={"lang": "zh"}) for s in samples]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UnknownSourceWarning)
        scored = score_predictions(task, preds, bootstrap=False)
    assert scored.per_source["srwt_zh_news"].values["aas_ms"] == pytest.approx(200.0)  # |0.1| + |0.1| s per word
    assert scored.per_source["aishell2"].n == 1
    doc = metrics_document(task, "toy", scored, {})
    assert doc["task"] == "srwt-zh-news" and set(doc["per_source"]) == {"srwt_zh_news", "aishell2"}


def test_a_task_file_refuses_references_of_another_task(tmp_path: Path) -> None:
    task = load_task_file(EXAMPLES / "classification.toml")
    m = _manifest(tmp_path, [{"gt": "Mister Quilter is the apostle", "source": "factory_floor", "id": str(i)}
                             for i in range(3)])
    with pytest.raises(ManifestError, match=r"3 of 3 references are not one of its labels \(press, conveyor"):
        canonical_sources(load_manifest(m), task)
    ok = _manifest(tmp_path, [{"gt": "Press", "source": "factory_floor", "id": "1"}])  # labels compare without case
    assert len(canonical_sources(load_manifest(ok), task)) == 1


# -- validation: every mistake names the file and the key ------------------------------------

BASE = 'family = "asr"\nlanguage = "en"\nsources = ["a"]\n'


@pytest.mark.parametrize("text, key, problem", [
    (BASE + 'colour = "blue"\n', "'colour'", "unknown key"),
    (BASE + "[scorer_options]\nlang = 'en'\n", "'scorer_options'", "unknown key"),
    ('family = "asr"\nsources = ["a"]\n', "'language'", "missing key"),
    ('language = "en"\nsources = ["a"]\n', "key 'family'", "missing; choose one of asr, translation"),
    ('family = "diarization"\nsources = ["a"]\n', "key 'family'", "expected one of"),
    ('family = "asr"\nlanguage = "en"\n', "'sources'", "missing key"),
    ('family = "asr"\nlanguage = "English"\nsources = ["a"]\n', "key 'language'", "language code"),
    ('family = "asr"\nlanguage = "en"\nsources = "a"\n', "key 'sources'", "non-empty list"),
    ('family = "asr"\nlanguage = "en"\nsources = ["a", "a"]\n', "key 'sources'", "listed twice"),
    (BASE + 'scorer = "bleu"\n', "key 'scorer'", "wer, wer-normalized"),
    (BASE + "max_new_tokens = 0\n", "key 'max_new_tokens'", "positive integer"),
    (BASE + 'name = "my task"\n', "key 'name'", "no spaces"),
    (BASE + "version = true\n", "key 'version'", "non-empty string"),
    (BASE + "[paper.b]\nwer = 0.1\n", "key 'paper.b'", "not declared in 'sources'"),
    (BASE + "[paper.a]\nbleu = 20.0\n", "key 'paper.a.bleu'", "reports no such metric"),
    (BASE + "[paper.a]\nwer = 2.1\n", "key 'paper.a.wer'", "fraction"),
    (BASE + '[paper.a]\nwer = "low"\n', "key 'paper.a.wer'", "expected a number"),
    (BASE + "paper = 3\n", "key 'paper'", "expected tables"),
    ('family = "translation"\nlanguage = "en"\ntarget_language = "en"\nsources = ["a"]\n',
     "key 'target_language'", "must differ"),
    ('family = "caption"\nstyle = "poetic"\nsources = ["a"]\n', "key 'style'", "plain, clotho, audiocaps"),
    ('family = "classification"\nlabel_set = "scene"\nlabels = []\nsources = ["a"]\n',
     "key 'labels'", "non-empty list"),
    ('family = "classification"\nlabel_set = "scene"\nlabels = ["a", "b", "a"]\nsources = ["a"]\n',
     "key 'labels'", "listed twice: ['a']"),
    ('family = "classification"\nlabel_set = "scene"\nlabels = ["a", " b"]\nsources = ["a"]\n',
     "key 'labels'", "surrounding spaces"),
    ('family = "classification"\nlabel_set = "scene"\nlabels = ["a", 2]\nsources = ["a"]\n',
     "key 'labels'", "2 is not a non-empty string"),
    ('family = "classification"\nlabel_set = "genre"\nlabels = ["a"]\nsources = ["a"]\n',
     "key 'label_set'", "scene, emotion, vocal_sound"),
    ('family = "classification"\nlabels = ["a"]\nsources = ["a"]\n', "'label_set'", "missing key"),
])
def test_mistakes_name_file_and_key(tmp_path: Path, text: str, key: str, problem: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_task_file(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ") and key in message and problem in message, message


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read the task file"):
        load_task_file(tmp_path / "missing.toml")
    (tmp_path / "broken.toml").write_text('family = "asr\n')
    with pytest.raises(ConfigError, match=r"broken.toml: not valid TOML \(.*line 1"):
        load_task_file(tmp_path / "broken.toml")


# -- the tasks folder --------------------------------------------------------------------------

def test_tasks_folder(tmp_path: Path) -> None:
    assert task_files_in(tmp_path / "nothing") == []
    folder = tmp_path / "qa_eval_tasks"
    folder.mkdir()
    for name in ("srwt.toml", "asr.toml"):
        shutil.copy(EXAMPLES / name, folder / name)
    (folder / "notes.txt").write_text("not a task file")
    assert [t.name for t in task_files_in(folder)] == ["asr", "srwt-mixed"]  # by file name
    (folder / "zz.toml").write_text('name = "asr"\nfamily = "note-analysis"\nsources = ["n"]\n')
    with pytest.raises(ConfigError, match=r"zz.toml: task 'asr' is already declared by .*asr.toml"):
        task_files_in(folder)
    (folder / "zz.toml").write_text('family = "note-analysis"\n')
    with pytest.raises(ConfigError, match=r"zz.toml: missing key\(s\) 'sources'"):
        task_files_in(folder)
    with pytest.raises(ConfigError, match="not a folder"):
        task_files_in(folder / "notes.txt")


def test_default_tasks_folder() -> None:
    assert default_tasks_dir({}) == Path("qa_eval_tasks")
    assert default_tasks_dir({"QA_EVAL_TASKS_DIR": "/srv/tasks"}) == Path("/srv/tasks")
