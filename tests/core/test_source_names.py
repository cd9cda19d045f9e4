"""Source names of official eval lists spelled otherwise than the tasks declare them.

TaskSpec.canonical_source maps "test-clean", "LibriSpeech_test_clean", ... to the declared
"librispeech_test_clean"; a manifest loaded for a run and a predictions file being scored both go
through it. Sources that match none are kept as given and scored as their own rows, with one
warning, whatever their names: only references of another task's shape (captions given to an ASR
task, plain text to SRWT, ...) refuse a file (TaskSpec.check_references).
"""

from __future__ import annotations

import json
import shutil
import warnings
from dataclasses import replace
from pathlib import Path

import pytest

from qa_eval import registry
from qa_eval.errors import ManifestError, ScorerError
from qa_eval.leaderboard import write_leaderboard
from qa_eval.manifest import canonical_sources, load_manifest
from qa_eval.metrics import metrics_document, score_predictions
from qa_eval.records import Prediction
from qa_eval.report import result_rows
from qa_eval.results import RunResult
from qa_eval.task import TaskSpec, UnknownSourceWarning

DATA = Path(__file__).resolve().parent.parent / "data"
TASKS = {name: registry.load("task", name) for name in registry.names("task")}
LIBRISPEECH = TASKS["librispeech"]


def _intent(sample):  # never called: these tests do not render prompts
    raise AssertionError


def _variants(task: TaskSpec, source: str) -> list[str]:
    """Plausible other spellings of a declared source: case, separators, with/without the task name."""
    spaced = source.replace("_", " ")
    out = [source.upper(), source.replace("_", "-"), spaced.title(), f" {source} ", source.replace("_", "__")]
    if task.name in source:
        out.append(source.replace(task.name, "").strip("_") or source)
        out.append(source.replace(task.name, task.name.upper() + "-eval"))
    return out


@pytest.mark.parametrize("name", sorted(TASKS))
def test_every_declared_source_maps_to_itself_from_plausible_spellings(name: str) -> None:
    task = TASKS[name]
    for source in task.sources:
        assert task.canonical_source(source) == source
        for raw in _variants(task, source):
            assert task.canonical_source(raw) == source, (raw, source)


@pytest.mark.parametrize("raw, want", [
    ("test-clean", "librispeech_test_clean"),
    ("test_other", "librispeech_test_other"),
    ("dev-clean", "librispeech_dev_clean"),
    ("LibriSpeech_test_clean", "librispeech_test_clean"),
    ("librispeech-test-clean", "librispeech_test_clean"),
    ("LibriSpeech dev-other", "librispeech_dev_other"),
    ("librispeech_eval_test_other", "librispeech_test_other"),
    ("librispeech_train_clean_100", None),
    ("clean_test_dev", None),  # order counts
    ("librispeech", None),
])
def test_librispeech_spellings(raw: str, want: str | None) -> None:
    assert LIBRISPEECH.canonical_source(raw) == want


@pytest.mark.parametrize("task_name, raw, want", [
    ("aishell2", "AISHELL-2_iOS", "aishell2_test_ios"),
    ("aishell2", "aishell2-test-android", "aishell2_test_android"),
    ("aishell2", "Aishell2 Mic", "aishell2_test_mic"),
    ("aishell2", "aishell1_test_mic", None),  # another corpus's number
    ("aishell1", "AISHELL-1 dev", "aishell1_dev"),
    ("aishell1", "aishell1_test", "aishell1_test"),
    ("aishell1", "AISHELL1-TEST", "aishell1_test"),
    ("clotho", "Clotho_eval", "clotho"),
    ("clothoaqa", "ClothoAQA-test", "clothoaqa"),
    ("vocalsound", "VocalSound", "vocalsound"),
    ("srwt", "industrial-srwt", "industrial_srwt"),
    ("nsynth", "NSynth_test", "nsynth"),
])
def test_other_tasks_spellings(task_name: str, raw: str, want: str | None) -> None:
    assert TASKS[task_name].canonical_source(raw) == want


def test_covost2_keeps_the_direction() -> None:
    covost = TASKS["covost2"]
    for source in covost.sources:
        src, tgt = source.split("_")[1:3]
        for raw in (f"{src}-{tgt}", f"CoVoST2_{src}_{tgt}", f"covost2 {src.upper()}-{tgt.upper()} test",
                    f"covost2-{src}-{tgt}-test"):
            assert covost.canonical_source(raw) == source, raw
    assert covost.canonical_source("covost2_de_en") == "covost2_de_en_test"
    assert covost.canonical_source("covost2_en_de") == "covost2_en_de_test"
    assert covost.canonical_source("covost2_de_zh") is None  # not a pair of the paper
    assert covost.canonical_source("en") is None


def test_no_source_of_one_task_maps_into_another() -> None:
    for name, task in TASKS.items():
        for other_name, other in TASKS.items():
            if other_name != name:
                assert all(task.canonical_source(s) is None for s in other.sources), (name, other_name)


def test_several_matches_are_ambiguous() -> None:
    task = TaskSpec("toy", "toy task", "1", "wer", 8, ("toy_test_a", "toy_eval_a", "toy_b"), _intent)
    assert task.canonical_source("toy_test_a") == "toy_test_a"  # exact spelling still wins
    assert task.canonical_source("TOY-A") is None  # both toy_test_a and toy_eval_a read "a"
    assert task.canonical_source("toy-b") == "toy_b"


# -- a manifest in the official shape with other spellings ---------------------------------


@pytest.fixture
def official_manifest(tmp_path: Path) -> Path:
    shutil.copy(DATA / "1272-128104-0000.flac", tmp_path / "a.flac")
    rows = [
        {"audio": "a.flac", "gt": "MISTER QUILTER", "source": "LibriSpeech_test_clean", "id": "1"},
        {"audio": "a.flac", "gt": "IS THE APOSTLE", "source": "test-clean", "id": "2"},
        {"audio": "a.flac", "gt": "OF THE MIDDLE", "source": "librispeech_dev_other", "id": "3"},
        {"audio": "a.flac", "gt": "CLASSES", "source": "my_accented_set", "id": "4"},
        {"audio": "a.flac", "gt": "AND WE", "source": "my_accented_set", "id": "5"},
    ]
    path = tmp_path / "librispeech_eval.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def test_manifest_sources_are_canonical_and_the_given_spelling_is_kept(official_manifest: Path) -> None:
    with pytest.warns(UnknownSourceWarning) as record:
        samples = canonical_sources(load_manifest(official_manifest), LIBRISPEECH)
    assert [s.source for s in samples] == ["librispeech_test_clean", "librispeech_test_clean",
                                           "librispeech_dev_other", "my_accented_set", "my_accented_set"]
    assert [s.fields.get("source_as_given") for s in samples] == [
        "LibriSpeech_test_clean", "test-clean", None, None, None]
    assert len(record) == 1  # one warning for the whole manifest, naming each unknown source once
    message = str(record[0].message)
    assert "['my_accented_set']" in message and "own rows" in message and "paper value" in message


def test_a_manifest_of_known_sources_loads_without_warning(official_manifest: Path) -> None:
    samples = [s for s in load_manifest(official_manifest) if s.source != "my_accented_set"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        canonical_sources(samples, LIBRISPEECH)


def test_a_source_name_alone_never_refuses_a_manifest(official_manifest: Path) -> None:
    """Before issue 15, a list whose sources all matched none was refused ("right task")."""
    with pytest.warns(UnknownSourceWarning) as record:
        samples = canonical_sources(load_manifest(official_manifest), TASKS["covost2"])
    assert [s.source for s in samples] == ["LibriSpeech_test_clean", "test-clean", "librispeech_dev_other",
                                           "my_accented_set", "my_accented_set"]
    assert len(record) == 1


def _rows(tmp_path: Path, gts: list, source: str) -> list:
    shutil.copy(DATA / "1272-128104-0000.flac", tmp_path / "a.flac")
    path = tmp_path / "m.jsonl"
    path.write_text("".join(json.dumps({"audio": "a.flac", "gt": gt, "source": source, "id": str(i)}) + "\n"
                            for i, gt in enumerate(gts)))
    return load_manifest(path)


@pytest.mark.parametrize("task_name, source, gt", [
    # the official documentation's own SRWT example row, and a set of the user's own
    ("srwt", "aishell2", "<|0.00|><|sil|><|0.54|>面<|0.86|>条<|1.17|>"),
    ("srwt", "srwt_zh_news", "<|0.00|>今天<|0.40|>新闻<|0.90|>"),
    ("librispeech", "my_calls_test", "hello how can i help you"),
    ("clotho", "my_captions", ["a dog barks", "a dog is barking"]),
    ("nsynth", "my_notes", "<|pitch|><|midi_pitch_60|><|velocity|><|midi_velocity_100|><|instrument|>keyboard"),
    ("cochlscene", "my_scenes", "bus"),  # labels compare without case
])
def test_undeclared_sources_run_as_their_own_rows_with_one_warning(tmp_path, task_name, source, gt) -> None:
    with pytest.warns(UnknownSourceWarning) as record:
        samples = canonical_sources(_rows(tmp_path, [gt, gt], source), TASKS[task_name])
    assert [s.source for s in samples] == [source, source]
    (warning,) = record
    message = str(warning.message)
    assert "\n" not in message and f"['{source}']" in message and "own rows" in message


@pytest.mark.parametrize("task_name, gt, expected", [
    ("librispeech", ["a dog barks", "a dog is barking"], "a transcript string"),
    ("srwt", "mister quilter is the apostle", "words between timestamp tokens"),
    ("clotho", "a dog barks", "a list of captions"),
    ("nsynth", "keyboard", "an NSynth note"),
    ("covost2", "<|0.00|>hallo<|0.40|>welt<|0.90|>", "a translation string"),
    ("meld", "Bus", "one of its labels (neutral, joy, "),
])
def test_references_of_another_task_are_refused_before_any_model_work(tmp_path, task_name, gt, expected) -> None:
    with pytest.raises(ManifestError, match="right task") as info:
        canonical_sources(_rows(tmp_path, [gt, gt], "librispeech_test_clean"), TASKS[task_name])
    message = str(info.value)
    assert "source 'librispeech_test_clean': 2 of 2 references" in message and expected in message
    assert "sample '0'" in message  # where the first misfit is


def test_a_few_odd_references_are_left_to_the_scorer(tmp_path) -> None:
    gts = ["<|0.00|>a<|0.40|>", "<|0.00|>b<|0.40|>", "plain text"]  # 1 of 3 does not fit: no refusal
    assert len(canonical_sources(_rows(tmp_path, gts, "industrial_srwt"), TASKS["srwt"])) == 3
    with pytest.raises(ManifestError, match="2 of 3 references"):
        canonical_sources(_rows(tmp_path, [gts[0], "x", "y"], "industrial_srwt"), TASKS["srwt"])


def test_each_source_is_judged_on_its_own(tmp_path) -> None:
    rows = _rows(tmp_path, ["<|0.00|>a<|0.40|>"] * 3, "industrial_srwt")
    rows += [replace(s, source="plain_asr", reference="no timestamps") for s in rows[:1]]
    with pytest.raises(ManifestError, match="source 'plain_asr': 1 of 1"):
        canonical_sources(rows, TASKS["srwt"])


def _predict(samples) -> list[Prediction]:
    """What a run writes: the sample's (canonical) source; the first sample failed."""
    return [Prediction(s.id, s.source, s.reference, None if i == 0 else s.reference.lower(),
                       "audio not decodable" if i == 0 else None) for i, s in enumerate(samples)]


def test_run_then_score_then_leaderboard(official_manifest: Path, tmp_path: Path) -> None:
    with pytest.warns(UnknownSourceWarning):
        samples = canonical_sources(load_manifest(official_manifest), LIBRISPEECH)
    with pytest.warns(UnknownSourceWarning, match="my_accented_set"):
        scored = score_predictions(LIBRISPEECH, _predict(samples), bootstrap=False)
    doc = metrics_document(LIBRISPEECH, "toy-model", scored, {"n_samples": len(samples)})
    per_source = json.loads(json.dumps(doc))["per_source"]  # as metrics.json holds it
    assert set(per_source) == {"librispeech_test_clean", "librispeech_dev_other", "my_accented_set"}
    assert (per_source["librispeech_test_clean"]["n"], per_source["librispeech_test_clean"]["n_failed"]) == (2, 1)
    assert per_source["my_accented_set"]["n"] == 2 and per_source["my_accented_set"]["wer"] == 0.0

    paper = {r.source: r.paper for r in result_rows(RunResult.from_dict(doc)) if r.metric == "wer"}
    assert paper == {"librispeech_test_clean": 0.020, "librispeech_dev_other": 0.040, "my_accented_set": None}

    run_dir = tmp_path / "runs" / "librispeech" / "toy-model"
    run_dir.mkdir(parents=True)
    (run_dir / "metrics.json").write_text(json.dumps(doc))
    write_leaderboard(tmp_path / "runs", tmp_path / "board")
    md = (tmp_path / "board" / "leaderboard.md").read_text().splitlines()
    wer_rows = {line.split(" | ")[2]: line.split(" | ") for line in md if " | wer | " in line}
    assert wer_rows["librispeech_test_clean"][6] == "0.0200"  # the paper column
    assert wer_rows["my_accented_set"][6] == "" and wer_rows["my_accented_set"][7] == ""  # no paper, no diff
    assert "my_accented_set" in (tmp_path / "board" / "leaderboard.html").read_text()


def test_scoring_maps_prediction_spellings_and_merges_them() -> None:
    """A predictions file written by another tool, with the official list's spellings."""
    preds = [
        Prediction("1", "LibriSpeech_test_clean", "a b", "a b"),
        Prediction("2", "librispeech_test_clean", "c d", "c x"),
        Prediction("3", "test-other", "e f", "e f"),
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every source matches: no warning
        scored = score_predictions(LIBRISPEECH, preds, bootstrap=False)
    assert set(scored.per_source) == {"librispeech_test_clean", "librispeech_test_other"}
    assert scored.per_source["librispeech_test_clean"].n == 2
    assert scored.per_source["librispeech_test_clean"].values["wer"] == pytest.approx(0.25)


def test_scoring_never_refuses_on_source_names_alone() -> None:
    """Before issue 15, predictions whose sources all matched none were refused ("right task")."""
    preds = [Prediction("1", "foo", "a", "a"), Prediction("2", "bar", "a", "b")]
    with pytest.warns(UnknownSourceWarning, match=r"\['bar', 'foo'\]"):
        scored = score_predictions(LIBRISPEECH, preds, bootstrap=False)
    assert scored.per_source["foo"].values["wer"] == 0.0 and scored.per_source["bar"].values["wer"] == 1.0


def test_predictions_of_another_task_are_refused_by_their_references() -> None:
    preds = [Prediction(str(i), "librispeech_test_clean", ("a dog", "a cat"), "a dog", extra={"_where": f"p.jsonl:{i}"})
             for i in (1, 2)]
    rows = ((p.source, f"{p.extra['_where']}", p.reference) for p in preds)
    with pytest.raises(ScorerError, match=r"2 of 2 references are not a transcript string.*p.jsonl:1.*right task"):
        LIBRISPEECH.check_references(rows, "predictions", ScorerError)
    TASKS["clotho"].check_references(((p.source, "", p.reference) for p in preds), "predictions", ScorerError)


def test_qa_eval_run_with_official_spellings_end_to_end(official_manifest: Path, tmp_path: Path) -> None:
    """The real CLI and model (embedded Whisper tiny.en): canonical sources in predictions.jsonl
    and metrics.json, the unknown source as its own row, and the warning printed once."""
    import subprocess
    import sys

    gt = "MISTER QUILTER IS THE APOSTLE OF THE MIDDLE CLASSES AND WE ARE GLAD TO WELCOME HIS GOSPEL"
    rows = [{"audio": "a.flac", "gt": gt, "source": src, "id": str(i)}
            for i, src in enumerate(["test-clean", "LibriSpeech_dev_clean", "my_accented_set"])]
    official_manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "qa_eval", "run", "--task", "librispeech", "--model", "whisper-tiny.en",
         "--device", "cpu", "--manifest", str(official_manifest), "--out", str(out),
         "--results", str(tmp_path), "--no-leaderboard", "--num-workers", "0"],
        cwd=tmp_path, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    warned = [line for line in proc.stderr.splitlines() if "scored as their own rows" in line]
    assert len(warned) == 1 and "['my_accented_set']" in warned[0]  # one line, once
    preds = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert [p["source"] for p in preds] == ["librispeech_test_clean", "librispeech_dev_clean", "my_accented_set"]
    assert all("quilter" in p["prediction"].lower() for p in preds)
    per_source = json.loads((out / "metrics.json").read_text())["per_source"]
    assert set(per_source) == {"librispeech_test_clean", "librispeech_dev_clean", "my_accented_set"}
    assert per_source["librispeech_test_clean"]["wer"] == per_source["my_accented_set"]["wer"] < 0.5
