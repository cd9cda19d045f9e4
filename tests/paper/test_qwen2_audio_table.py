"""The Qwen2-Audio report's table (`qa-eval paper-table --paper qwen2-audio`): qwen2_audio.json against
its transcription in tests/data/paper/qwen2_audio.md, a source for every number, rows that name
existing tasks, sources, metrics and scorers, and the table rendered with measured columns: only
results scored as the report's numbers were fill its rows (wer-normalized for ASR), n beside each."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from paper_helpers import QWEN2_MD, Cells, md_rows, parse_md, plain, scored, table_blocks, write

from qa_eval import cli, registry
from qa_eval.errors import ConfigError
from qa_eval.paper import OUTPUTS, write_paper_table
from qa_eval.paper.data import PAPERS, load_paper, load_table
from qa_eval.paper.figure import TOP_TIER, radar_series
from qa_eval.paper.measured import MeasuredRuns, collect_measured
from qa_eval.scoring import declared_metric

HF = "Qwen2-Audio (Hugging Face)"
N_FIXED = 4
N_PAPER = 16  # paper columns: 14 baselines, the Hugging Face conversion, Qwen2-Audio
# Tasks whose own `paper` numbers are the report's (the others carry the Qwen-Audio paper's).
REPORT_TASKS = {"cv15-en", "cv15-zh", "cv15-yue", "cv15-fr", "fleurs-zh"}


@pytest.fixture(scope="module")
def table():
    return load_paper("qwen2-audio")


# -- the data ------------------------------------------------------------------------------------

def test_every_block_model_and_number_as_transcribed(table):
    expected = parse_md(QWEN2_MD.read_text(encoding="utf-8"))
    assert table_blocks(table) == expected
    assert len(expected) == 8 and len(table.rows) == 21
    # printed cells, "-" included: 8x4 LibriSpeech, 3x4 CV15, 3 Fleurs, 5x3 Aishell2, 6x4 + 4x3 CoVoST2, 4 + 5
    assert sum(len(v) for b in expected for _, v in b["models"]) == 107
    assert table.subject == "Qwen2-Audio" and list(table.models)[-2:] == [HF, "Qwen2-Audio"]
    assert table.variants == (HF,) and HF not in table.baselines and "Qwen-Audio" in table.baselines


def test_every_number_has_a_source(table):
    commit = "github.com/QwenLM/Qwen2-Audio/blob/595360e82b5839c1507492ec83cae5bda6d5c7d4/README.md"
    assert set(table.sources) == {"report", "hf"} and all(commit in text for text in table.sources.values())
    numbers = 0
    for row in table.rows:
        for model, text in row.printed.items():
            if text == "-":
                continue
            numbers += 1
            where = table.source_of(model)
            assert ("second results table" if model == HF else "first results table") in where, (row.measure, model)
    assert numbers == 89  # 107 printed cells less 18 "-"


def test_rows_name_existing_tasks_sources_metrics_and_scorers(table):
    for row in table.rows:
        task_name, source, metric = row.measure
        task = registry.load("task", task_name)
        assert source in task.sources, row.measure
        task.check_scorer(row.scorer)  # the row's scorer applies to the task
        assert declared_metric(row.scorer, metric).higher_is_better == row.higher_is_better, row.measure
        if task_name in REPORT_TASKS:
            assert task.paper[source][metric] * row.scale == pytest.approx(row.paper_value("Qwen2-Audio"), abs=1e-9)
    assert {r.scorer for r in table.rows if r.task == "ASR"} == {"wer-normalized"}
    assert {r.measure[0] for r in table.rows} >= REPORT_TASKS


def test_numbers_printed_in_both_papers_agree(table):
    table3 = load_paper("qwen-audio")
    shared = 0
    for row in table.rows:
        if row.measure not in table3.measures:
            continue
        other = table3.row(row.measure)
        for model in set(row.printed) & set(other.printed):
            assert row.printed[model] == other.printed[model], (row.measure, model)
            shared += 1
    assert shared == 56  # Qwen-Audio and the shared baselines, "-" included (5x4 + 3x3 + 4x4 + 2x3 + 2 + 3)


def test_figure_rules(table):
    axes, series = radar_series(table, MeasuredRuns((), {}, 0))
    assert [a.label.split("\n")[0] for a in axes] == ["LibriSpeech", "Aishell2", "CoVoST2", "Meld", "VocalSound",
                                                     "Fleurs zh"]
    assert {a.label.split("\n")[0] for a in axes if a.transform == "one_minus"} == {"LibriSpeech", "Aishell2",
                                                                                   "Fleurs zh"}
    by_name = {s.name: s.values for s in series}
    assert list(by_name) == ["Qwen2-Audio (paper)", TOP_TIER, "Qwen-Audio (paper)"]
    key = {a.label.split("\n")[0]: a.key for a in axes}
    assert by_name[TOP_TIER][key["VocalSound"]] == 0.6035  # Pengi: neither Qwen-Audio nor the HF conversion
    assert by_name[TOP_TIER][key["Fleurs zh"]] == pytest.approx(0.077)  # Whisper-large-v3
    assert by_name["Qwen-Audio (paper)"][key["VocalSound"]] == 0.9289
    assert key["Fleurs zh"] not in by_name["Qwen-Audio (paper)"]  # not reported: no spoke
    assert by_name["Qwen2-Audio (paper)"][key["CoVoST2"]] == pytest.approx(
        (29.9 + 35.2 + 45.2 + 24.4 + 40.0 + 38.5 + 36.3) / 7)


def _broken(tmp_path: Path, change) -> Path:
    doc = json.loads(PAPERS["qwen2-audio"].read_text(encoding="utf-8"))
    change(doc)
    path = tmp_path / "broken.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


@pytest.mark.parametrize("change, message", [
    (lambda d: d["model_sources"].update({HF: "blog"}), r"source\(s\) \['blog'\] not listed under 'sources'"),
    (lambda d: d["sources"].update({"report": " "}), r"source\(s\) \['report'\] say nothing"),
    (lambda d: d["models"].pop("Qwen2-Audio"), "'models' must end with the subject, Qwen2-Audio"),
    (lambda d: d["groups"][2]["columns"][0].update(measure=["cv15-en", "cv15_en_test", "wer"]),
     "fills more than one row"),
    (lambda d: d["groups"][0]["values"]["SpeechT5"].append("2.0"), "SpeechT5 has 5 values for 4 columns"),
    (lambda d: d["figure"]["models"].append("Qwen2-Audio"), "figure models"),
    (lambda d: d["variants"].append("Gemini"), r"\['Gemini'\] not listed under 'models'"),
])
def test_a_broken_transcription_is_refused(tmp_path, change, message):
    with pytest.raises(ConfigError, match=message):
        load_table(_broken(tmp_path, change))


# -- rendered with measured runs -------------------------------------------------------------------

CV_YUE = [("cv15_yue_test", "我哋聽日去飲茶。", "我哋听日去饮茶", {}),  # traditional vs simplified: no error
          ("cv15_yue_test", "今日好熱", "今日好冷", {}),
          ("cv15_yue_test", "多謝晒", "多谢", {})]
LIBRISPEECH = [(src, "Hello, Mister Quilter!", "hello mister quilter", {"lang": "en"})
               for src in ("librispeech_test_clean", "librispeech_test_other")]


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """gamma: cv15-yue and LibriSpeech scored with wer-normalized (as the report); delta: LibriSpeech
    scored with the Qwen-Audio paper's `wer` (fills Table 3 only)."""
    root = tmp_path_factory.mktemp("runs")
    write(root / "gamma" / "cv15-yue", scored("cv15-yue", "gamma", "r1", CV_YUE), 1_700_000_000)
    write(root / "gamma" / "librispeech", scored("librispeech", "gamma", "r1", LIBRISPEECH, "wer-normalized"),
          1_700_000_000)
    write(root / "delta" / "librispeech", scored("librispeech", "delta", "r2", LIBRISPEECH), 1_700_000_000)
    return root


@pytest.fixture(scope="module")
def out(results, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("qwen2_table")
    assert [p.name for p in write_paper_table(results, folder, "qwen2-audio")] == list(OUTPUTS)
    return folder


def _metric(path: Path, source: str) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))["per_source"][source]


def test_measured_column_beside_the_report(results, out, table):
    head, rows = md_rows(out)
    assert head[N_FIXED:] == [*list(table.models)[:-1], "Qwen2-Audio (paper)", "gamma"]  # delta: not scored so
    cells = {r.measure: row[N_FIXED:] for r, row in zip(table.rows, rows)}
    yue = _metric(results / "gamma" / "cv15-yue" / "metrics.json", "cv15_yue_test")
    assert yue["wer"] == pytest.approx(2 / 14)  # per character: 0/7 (simplified = traditional), 1/4, 1/3
    assert cells[("cv15-yue", "cv15_yue_test", "wer")][-1] == f"{yue['wer'] * 100:.2f} (n=3)"
    clean = _metric(results / "gamma" / "librispeech" / "metrics.json", "librispeech_test_clean")
    assert clean["wer"] == 0.0  # normalised: punctuation and case removed
    assert cells[("librispeech", "librispeech_test_clean", "wer")][-1] == "**0.00** (n=1)"
    filled = [row[-1] for row in rows if row[-1] != "–"]
    assert len(filled) == 3  # cv15 yue, LibriSpeech test-clean and test-other
    assert [plain(c) for c in cells[("fleurs-zh", "fleurs_zh_test", "wer")]][-3:] == ["7.0", "7.5", "–"]


def test_best_value_per_row_is_bold(out, table):
    _, rows = md_rows(out)
    for row, cells in zip(table.rows, rows):
        values = [None if plain(c) == "–" else float(plain(c)) for c in cells[N_FIXED:]]
        present = [v for v in values if v is not None]
        best = max(present) if row.higher_is_better else min(present)
        assert [c.startswith("**") for c in cells[N_FIXED:]] == [v == best for v in values], row.measure


def test_notes_name_the_sources_and_the_result_left_out(out):
    text = (out / "paper_table.md").read_text(encoding="utf-8")
    assert text.startswith("# Qwen2-Audio report, results on the evaluation datasets (ASR, S2TT, SER, VSC), "
                           "with measured columns\n")
    assert f"; {HF}: https://github.com/QwenLM/Qwen2-Audio/blob/" in text
    assert ("1 result(s) scored with another scorer than the one the paper's numbers of their rows were "
            "computed with are left out.") in text
    assert "![README radar: the paper's and the measured models](paper_radar.png)" in text


def test_html_and_latex_carry_the_same_values_and_n(results, out, table):
    parser = Cells()
    parser.feed((out / "paper_table.html").read_text(encoding="utf-8"))
    yue = _metric(results / "gamma" / "cv15-yue" / "metrics.json", "cv15_yue_test")
    (title,) = [t for text, t in parser.cells if text == f"{yue['wer'] * 100:.2f} (n=3)"]
    lo, hi = yue["ci95"]["wer"]
    assert title.startswith(f"95 % CI [{lo * 100:.2f}, {hi * 100:.2f}]; n = 3, failed = 0; ")
    html = (out / "paper_table.html").read_text(encoding="utf-8")
    assert f'colspan="{N_PAPER}">Paper (README results table, as printed)</th>' in html
    tex = (out / "paper_table.tex").read_text(encoding="utf-8")
    assert rf"\multicolumn{{{N_PAPER}}}{{c}}{{Paper (README results table)}}" in tex
    assert f"{yue['wer'] * 100:.2f} (n=3)" in tex and tex.count("{") == tex.count("}")
    body = tex.split("\\midrule\n", 1)[1].split("\\bottomrule")[0]
    assert len([ln for ln in body.splitlines() if ln.endswith("\\\\")]) == len(table.rows)


def test_table3_of_the_same_results_takes_only_the_paper_scorer(results, tmp_path):
    write_paper_table(results, tmp_path)  # default: the Qwen-Audio paper's Table 3
    head, rows = md_rows(tmp_path)
    assert head[-1] == "delta" and "gamma" not in head
    runs = collect_measured(results, load_paper("qwen2-audio").scorers)
    assert runs.columns == ("gamma",) and runs.other_scorer == 1


def test_radar_draws_the_measured_model_with_its_n(results, table):
    runs = collect_measured(results, table.scorers)
    _, series = radar_series(table, runs)
    assert series[-1].name == "gamma (n = 1–3)" and len(series[-1].values) == 1  # LibriSpeech test-clean only


# -- the command line ------------------------------------------------------------------------------

def test_cli_paper_option(results, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert cli.main(["paper-table", "--paper", "qwen2-audio", "--results", str(results)]) == 0
    printed = capsys.readouterr().out.split()
    assert printed == [str(Path("results/paper-qwen2-audio") / name) for name in OUTPUTS]
    assert "gamma" in (tmp_path / "results" / "paper-qwen2-audio" / "paper_table.md").read_text(encoding="utf-8")
    assert cli.main(["paper-table", "--paper", "qwen-3", "--results", str(results), "--out", "x"]) == 2
    err = capsys.readouterr().err
    assert err == "qa-eval: error: unknown paper 'qwen-3'; known: qwen-audio, qwen2-audio\n"
    assert not (tmp_path / "x").exists()
    with pytest.raises(SystemExit):
        cli.main(["paper-table", "--help"])
    assert re.search(r"--paper PAPER\s+qwen-audio: .*\(default\); qwen2-audio", capsys.readouterr().out, re.S)
