"""table3.json against the paper's Table 3 as transcribed in tests/data/paper/table3.md: every
block, model, citation and printed number, the note, and Figure 1's rules."""

from __future__ import annotations

import json
import re

import pytest
from paper_helpers import MD, md_text, parse_md, table_blocks

from qa_eval import registry
from qa_eval.errors import ConfigError
from qa_eval.paper.data import DATA_FILE, load_table
from qa_eval.paper.figure import radar_series
from qa_eval.paper.measured import MeasuredRuns
from qa_eval.scoring import declared_metric


def test_every_block_model_and_number_as_printed():
    expected = parse_md(MD.read_text(encoding="utf-8"))
    got = table_blocks(load_table())
    assert len(got) == len(expected) == 14
    for e, g in zip(expected, got):
        assert g == e
    assert sum(len(v) for b in expected for _, v in b["models"]) == 87  # printed cells, "-" included


def test_rows_and_columns():
    table = load_table()
    assert len(table.rows) == 28
    assert [r.task for r in table.rows].count("ASR") == 9
    assert table.baselines == ("SpeechT5", "SpeechNet", "SLM-FT", "SALMONN", "MMSpeech-base", "MMSpeech-large",
                               "Paraformer-large", "SpeechLLaMA", "BLSP", "Pengi", "Force-aligner",
                               "Paraformer-large-TP", "CochlScene", "WavLM-large", "ClothoAQA", "CLAP")
    assert len(table.measures) == len(table.rows)  # each row filled by its own (task, source, metric)


def test_rows_name_declared_sources_and_match_the_task_plugins_paper_numbers():
    for row in load_table().rows:
        task_name, source, metric = row.measure
        task = registry.load("task", task_name)
        assert source in task.sources, row
        assert task.paper[source][metric] * row.scale == pytest.approx(row.paper_value("Qwen-Audio"), abs=1e-9)
        assert declared_metric(task.scorer, metric).higher_is_better == row.higher_is_better, row


def test_table_note_as_printed():
    printed = re.search(r"Table 3's note: (.+?\.) ", md_text()).group(1)
    (note,) = load_table().notes
    assert note[0].lower() + note[1:] == printed


def test_figure1_rules():
    text = md_text()
    n_datasets = int(re.search(r"over the (\d+) datasets", text).group(1))
    directions = re.search(r"seven directions \(([^)]+)\)", text).group(1).split(", ")
    table = load_table()
    axes, series = radar_series(table, MeasuredRuns((), {}, 0))
    assert len(axes) == n_datasets == 12
    one_minus = {a.label.split("\n")[0] for a in axes if a.transform == "one_minus"}
    assert one_minus == {"LibriSpeech", "Aishell1", "Aishell2"}
    (covost,) = [s for s in table.figure.axes if s.label.startswith("CoVoST2")]
    assert [m[1] for m in covost.measures] == [f"covost2_{d.replace('-', '_')}_test" for d in directions]
    paper = series[0].values
    covost_key = next(a.key for a in axes if a.label.startswith("CoVoST2"))
    assert paper[covost_key] == pytest.approx((25.1 + 33.9 + 41.5 + 15.7 + 39.7 + 38.5 + 36.0) / 7)
    for spec in table.figure.axes:  # never two different tasks, or two sources outside CoVoST2's mean
        assert len({m[0] for m in spec.measures}) == 1
        assert len(spec.measures) == 1 or spec.label.startswith("CoVoST2")


def test_a_broken_transcription_is_refused(tmp_path):
    doc = json.loads(DATA_FILE.read_text(encoding="utf-8"))
    doc["groups"][0]["values"]["SpeechT5"][1] = "5,5"
    bad = tmp_path / "table3.json"
    bad.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ConfigError, match="SpeechT5 has non-numeric values"):
        load_table(bad)
