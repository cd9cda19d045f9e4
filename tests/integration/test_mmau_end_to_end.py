"""mmau-test-mini end to end: fake MMAU release -> `qa-eval data prepare` -> run with the tiny
Qwen-Audio checkpoint -> metrics.json with the accuracy per category, sub-category and
difficulty -> `qa-eval score` in strict mode -> `qa-eval compare`.

The tiny model's text is random, so the numbers are checked against the scorer run on the stored
predictions (the scorer itself is proven by tests/scoring/test_multiple_choice.py).
"""

from __future__ import annotations

import json
from pathlib import Path

import fake_layouts

from qa_eval import cli
from qa_eval.adapter import ModelOptions
from qa_eval.run import RunRequest, evaluate
from qa_eval.scoring.multiple_choice import MMAU
from qa_eval.store import read_predictions

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "qwen_audio_tiny"
SOURCE = "mmau_test_mini"


def test_qa_eval_tasks_lists_mmau_test_mini(capsys) -> None:
    assert cli.main(["tasks"]) == 0
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("mmau-test-mini "))
    assert "multiple-choice" in line and "[mmau_test_mini]" in line


def test_mmau_prepares_runs_scores_per_group_and_compares(tmp_path: Path, capsys) -> None:
    release = fake_layouts.mmau_test_mini(tmp_path / "raw")
    manifest = tmp_path / "manifest.jsonl"
    assert cli.main(release.prepare_argv(manifest)) == 0
    req = RunRequest(
        task="mmau-test-mini", model="qwen-audio", options=ModelOptions(str(FIXTURE), "cpu", "float32"),
        batch_size=2, max_new_tokens=6, manifest=str(manifest), out_dir=str(tmp_path / "run"),
        results_dir=str(tmp_path / "results"), num_workers=0, max_failed_fraction=0.0,
    )
    doc, out_dir = evaluate(req, log=lambda *a: None)

    preds = [json.loads(line) for line in (out_dir / "predictions.jsonl").read_text().splitlines()]
    assert len(preds) == 3 and all(p["prediction"] is not None for p in preds)
    first = next(p for p in preds if p["id"] == "mmau-0001")
    assert first["choices"] == ["A dog", "A car", "A bell", "Rain"]
    assert (first["category"], first["sub_category"], first["difficulty"]) == ("sound", "Acoustic Source Inference",
                                                                              "easy")
    assert "Options:\n- A dog\n- A car\n- A bell\n- Rain<|answer|>" in first["prompt"]

    metrics = json.loads((out_dir / "metrics.json").read_text())
    assert metrics["scorer"]["name"] == "mmau" and metrics["scorer"]["options"] == {"parse": "official"}
    entry = metrics["per_source"][SOURCE]
    assert (entry["n"], entry["n_failed"]) == (3, 0)
    assert {k for k in entry if k.startswith("acc")} == {
        "acc", "acc[category=music]", "acc[category=sound]", "acc[category=speech]",
        "acc[sub_category=Acoustic Source Inference]", "acc[sub_category=Instrumentation]",
        "acc[difficulty=easy]", "acc[difficulty=hard]", "acc[difficulty=medium]"}
    rescored = MMAU.score(read_predictions(out_dir / "predictions.jsonl"), bootstrap=False)[SOURCE]
    assert {k: entry[k] for k in rescored.values} == dict(rescored.values)
    assert entry["details"]["n_unparsed"] == rescored.details["n_unparsed"]
    assert entry["details"]["groups"]["category"] == {c: {"correct": entry[f"acc[category={c}]"], "n": 1}
                                                      for c in ("music", "sound", "speech")}
    assert len(metrics["samples"][SOURCE]["rows"][0]) == 3 + 2 * 8  # correct, one, unparsed + 8 groups

    capsys.readouterr()
    assert cli.main(["score", "--task", "mmau-test-mini", "--predictions", str(out_dir / "predictions.jsonl"),
                     "--scorer-option", "parse=strict", "--json"]) == 0
    strict = json.loads(capsys.readouterr().out)
    assert strict["scorer"]["options"] == {"parse": "strict"}
    assert strict["per_source"][SOURCE]["details"]["parse"] == "strict"

    assert cli.main(["compare", str(out_dir / "metrics.json"), str(out_dir / "metrics.json")]) == 0
    assert "acc[category=sound]" in capsys.readouterr().out
