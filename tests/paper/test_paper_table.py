"""`write_paper_table`: the paper's own table from an empty results folder, measured columns from
two models' metrics.json files, newest-wins, headings by revision, malformed files refused."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from paper_helpers import MD, Cells, md_rows, parse_md, plain, vocalsound, write

from qa_eval.errors import ConfigError, ManifestError
from qa_eval.paper import OUTPUTS, write_paper_table
from qa_eval.paper.data import load_table
from qa_eval.paper.measured import short_revision

N_FIXED = 4  # Task, Dataset, Split, Metric


def load(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def two_models_out(two_model_results, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("paper")
    assert [p.name for p in write_paper_table(two_model_results, out)] == list(OUTPUTS)
    return out


def check_paper_columns(head: list[str], rows: list[list[str]]) -> None:
    """Every paper cell of the rendered table equals table3.md, in the paper's rows and order."""
    table = load_table()
    names = [*table.baselines, table.subject]
    assert head[N_FIXED:N_FIXED + len(names)] == [*table.baselines, f"{table.subject} (paper)"]
    printed = {}  # (block, split index) -> model -> value
    for b, block in enumerate(parse_md(MD.read_text(encoding="utf-8"))):
        for model, values in block["models"]:
            for j, v in enumerate(values):
                printed.setdefault((b, j), {})[model.split(" (")[0]] = v
    assert len(rows) == len(printed) == 28
    for cells, key in zip(rows, sorted(printed)):
        for i, name in enumerate(names):
            expected = printed[key].get(name, "-")
            assert plain(cells[N_FIXED + i]) == ("–" if expected == "-" else expected), (key, name)


def test_empty_results_folder_gives_the_papers_own_table(tmp_path):
    (tmp_path / "runs").mkdir()
    write_paper_table(tmp_path / "runs", tmp_path / "out")
    head, rows = md_rows(tmp_path / "out")
    assert len(head) == N_FIXED + 17
    check_paper_columns(head, rows)
    assert (tmp_path / "out" / "paper_radar.png").read_bytes().startswith(b"\x89PNG")
    assert "<svg" in (tmp_path / "out" / "paper_radar.svg").read_text(encoding="utf-8")


def test_two_models_beside_the_paper(two_model_results, two_models_out):
    head, rows = md_rows(two_models_out)
    check_paper_columns(head, rows)
    assert head[N_FIXED + 17:] == ["alpha", "beta"]  # no column for unknown tasks / other files
    table = load_table()
    docs = {}
    for model in ("alpha", "beta"):
        for folder in (two_model_results / model).iterdir():
            if folder.name != "librispeech-old":
                doc = load(folder / "metrics.json")
                for src, entry in doc["per_source"].items():
                    for metric, value in entry.items():
                        docs[(model, (doc["task"], src, metric))] = value
    filled = 0
    for row, cells in zip(table.rows, rows):
        for col, model in enumerate(("alpha", "beta"), start=N_FIXED + 17):
            value = docs.get((model, row.measure))
            if value is None:
                assert cells[col] == "–"
                continue
            filled += 1
            assert float(plain(cells[col])) == pytest.approx(value * row.scale, abs=0.006)
    assert filled == 4 + 7 + 1 + 1 + 1  # alpha: 4 LibriSpeech, 7 CoVoST2, VocalSound; beta: 2


def test_newest_file_wins_and_the_footnote_says_so(two_model_results, two_models_out):
    head, rows = md_rows(two_models_out)
    row = next(i for i, r in enumerate(load_table().rows) if r.measure[1] == "librispeech_test_clean")
    new = load(two_model_results / "alpha" / "librispeech" / "metrics.json")
    old = load(two_model_results / "alpha" / "librispeech-old" / "metrics.json")
    new_wer, old_wer = (d["per_source"]["librispeech_test_clean"]["wer"] * 100 for d in (new, old))
    assert new_wer != pytest.approx(old_wer)
    assert float(plain(rows[row][head.index("alpha")])) == pytest.approx(new_wer, abs=0.006)
    text = (two_models_out / "paper_table.md").read_text(encoding="utf-8")
    assert "the run over more samples wins, then the newest file (1 other value(s) set aside)" in text


def test_a_newer_run_over_fewer_samples_never_replaces_a_full_one(tmp_path):
    """A --limit rerun (2 samples, newer) beside the full run (4 samples): the full run stays, in
    the paper table and the leaderboard, and n is shown beside the value."""
    from qa_eval.leaderboard import write_leaderboard

    write(tmp_path / "full", vocalsound("gamma", "r1", right=3, wrong=1), 1_700_000_000)
    write(tmp_path / "limit2", vocalsound("gamma", "r1", right=0, wrong=2), 1_800_000_000)
    write_paper_table(tmp_path, tmp_path / "out")
    head, rows = md_rows(tmp_path / "out")
    row = next(i for i, r in enumerate(load_table().rows) if r.measure[0] == "vocalsound")
    assert rows[row][head.index("gamma")] == "0.7500 (n=4)"
    for name in ("paper_table.tex", "paper_table.html"):
        assert "n=4" in (tmp_path / "out" / name).read_text(encoding="utf-8")
    write_leaderboard(tmp_path, tmp_path / "board")
    board = (tmp_path / "board" / "leaderboard.md").read_text(encoding="utf-8")
    (line,) = [ln for ln in board.splitlines() if "| gamma |" in ln]
    assert "| 0.7500 |" in line and "| 4 |" in line


def test_best_value_per_row_is_bold(two_models_out):
    _, rows = md_rows(two_models_out)
    for row, cells in zip(load_table().rows, rows):
        values = [float(plain(c)) if plain(c) != "–" else None for c in cells[N_FIXED:]]
        present = [v for v in values if v is not None]
        best = max(present) if row.higher_is_better else min(present)
        assert [c.startswith("**") for c in cells[N_FIXED:]] == [v == best for v in values], row.measure
    ls_test_clean = rows[2]
    assert plain(ls_test_clean[-1]) == "192.31" and not ls_test_clean[-1].startswith("**")  # beta: WER > 100 %


def test_html_hover_shows_the_95_percent_interval(two_model_results, two_models_out):
    parser = Cells()
    parser.feed((two_models_out / "paper_table.html").read_text(encoding="utf-8"))
    entry = load(two_model_results / "alpha" / "vocalsound" / "metrics.json")["per_source"]["vocalsound"]
    lo, hi = entry["ci95"]["acc"]
    (title,) = [t for text, t in parser.cells if t and text == f"{entry['acc']:.4f} (n=4)" and "alpha" in t]
    assert title.startswith(f"95 % CI [{lo:.4f}, {hi:.4f}]; n = 4, failed = 0; ")
    assert title.endswith(str(Path("alpha") / "vocalsound" / "metrics.json"))
    assert sum(1 for _, t in parser.cells if t) == 14  # every measured value, and only those


def test_latex_has_every_row_and_the_same_bold_cells(two_models_out):
    tex = (two_models_out / "paper_table.tex").read_text(encoding="utf-8")
    _, md = md_rows(two_models_out)
    body = tex.split("\\midrule\n", 1)[1].split("\\bottomrule")[0]
    rows = [ln for ln in body.splitlines() if ln.endswith("\\\\") and ln != "\\midrule"]
    assert len(rows) == 28
    for line, cells in zip(rows, md):
        tcells = line.removesuffix(" \\\\").split(" & ")
        assert len(tcells) == len(cells) == N_FIXED + 19
        assert [c.startswith("\\textbf{") for c in tcells] == [c.startswith("**") for c in cells]
    assert "WER (\\%) $\\downarrow$" in tex and "--" in tex
    assert tex.count("{") == tex.count("}")


def test_heading_names_the_revision_when_one_model_ran_two_revisions(tmp_path, two_model_results):
    write(tmp_path / "a", vocalsound("gamma", "0.1.0+27e6cbbc0313abcdef", 2, 2), 1_700_000_000)
    write(tmp_path / "b", vocalsound("gamma", "v2", 4, 0), 1_700_000_000)
    write(tmp_path / "c", vocalsound("<b>delta</b>", "x", 1, 0), 1_700_000_000)
    write_paper_table(tmp_path, tmp_path / "out")
    head, _ = md_rows(tmp_path / "out")
    assert head[N_FIXED + 17:] == ["<b>delta</b>", "gamma@0.1.0+27e6cbb", "gamma@v2"]
    html = (tmp_path / "out" / "paper_table.html").read_text(encoding="utf-8")
    assert "<b>delta" not in html and "&lt;b&gt;delta&lt;/b&gt;" in html
    assert short_revision(None) == "no revision"


@pytest.mark.parametrize(("content", "message"), [
    ("{not json", "unreadable metrics file"),
    ("[1, 2]", "top level is not an object"),
    ('{"model": "m", "per_source": {}}', "'task' missing"),
    ('{"task": "librispeech", "model": "m", "per_source": []}', "'per_source' missing or not a dict"),
    ('{"task": "librispeech", "model": "m", "per_source": {"librispeech_test_clean": 3}}', "must be an object"),
    ('{"task": "librispeech", "model": "m", "per_source": {"librispeech_test_clean": {"wer": "low"}}}',
     "wer must be a number or null"),
    ('{"task": "librispeech", "model": "m", "per_source": {"librispeech_test_clean": '
     '{"wer": 0.1, "ci95": {"wer": [0.1]}}}}', r"ci95\['wer'\] must be \[low, high\]"),
    ('{"task": "librispeech", "model": "m", "per_source": {}, "meta": {"revision": 3}}', "meta.revision"),
])
def test_a_malformed_metrics_file_is_refused_by_name(tmp_path, content, message):
    bad = tmp_path / "runs" / "m" / "metrics.json"
    bad.parent.mkdir(parents=True)
    bad.write_text(content, encoding="utf-8")
    with pytest.raises(ManifestError, match=message) as err:
        write_paper_table(tmp_path / "runs", tmp_path / "out")
    assert str(err.value).startswith(str(bad))


def test_null_and_non_finite_values_show_as_missing(tmp_path):
    doc = {"task": "vocalsound", "model": "m", "per_source": {"vocalsound": {"acc": None, "n": 0, "n_failed": 0}}}
    write(tmp_path / "a", doc, 1_700_000_000)
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "metrics.json").write_text(  # Python's json reads NaN
        '{"task": "vocalsound", "model": "n", "per_source": {"vocalsound": {"acc": NaN}}}', encoding="utf-8")
    write_paper_table(tmp_path, tmp_path / "out")
    head, rows = md_rows(tmp_path / "out")
    assert head[-2:] == ["m", "n"] and rows[-3][-2:] == ["–", "–"]
    assert rows[-3][-3] == "**0.9289**"


def test_a_missing_results_folder_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="no such results folder"):
        write_paper_table(tmp_path / "nowhere", tmp_path / "out")


def test_equal_times_pick_the_later_path_deterministically(tmp_path):
    write(tmp_path / "1", vocalsound("m", "r", 1, 3), 1_700_000_000)
    write(tmp_path / "2", vocalsound("m", "r", 3, 1), 1_700_000_000)
    write_paper_table(tmp_path, tmp_path / "out")
    _, rows = md_rows(tmp_path / "out")
    assert plain(rows[-3][-1]) == "0.7500"
    assert os.path.exists(tmp_path / "out" / "paper_table.tex")
    assert re.search(r"\(1 other value\(s\) set aside\)", (tmp_path / "out" / "paper_table.md").read_text())
