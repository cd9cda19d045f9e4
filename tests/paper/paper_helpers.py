"""Helpers of the paper-table tests: the committed transcriptions (Table 3, the Qwen2-Audio README's
table) and their parser, and metrics.json documents scored by qa-eval's own scorers (or another
scorer of the task's family) from hand-written predictions (no model)."""

from __future__ import annotations

import json
import os
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

from qa_eval import registry
from qa_eval.metrics import metrics_document, score_predictions
from qa_eval.paper.data import PaperTable
from qa_eval.records import Prediction

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "results" / "baselines" / "whisper-tiny.en" / "librispeech-sample" / "metrics.json"
MD = ROOT / "tests" / "data" / "paper" / "table3.md"
QWEN2_MD = ROOT / "tests" / "data" / "paper" / "qwen2_audio.md"
REF = "the quick brown fox jumps over the lazy dog"  # 9 words


def scored(task_name: str, model: str, revision: str, rows: list[tuple[str, Any, str, dict]],
           scorer: str | None = None) -> dict:
    """A metrics.json document: (source, reference, prediction, fields) rows through `scorer`
    (default: the task's own)."""
    task = registry.load("task", task_name)
    preds = [Prediction(f"{task_name}-{i}", src, ref, hyp, extra=extra)
             for i, (src, ref, hyp, extra) in enumerate(rows)]
    return metrics_document(task, model, score_predictions(task, preds, seed=0, scorer_name=scorer),
                            {"model_id": f"test/{model}", "revision": revision})


def write(folder: Path, doc: dict, mtime: float) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "metrics.json"
    path.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    os.utime(path, (mtime, mtime))
    return path


def librispeech(model: str, revision: str, hyps: dict[str, str]) -> dict:
    en = {"lang": "en"}
    return scored("librispeech", model, revision,
                  [(src, REF, hyp, en) for src, hyp in hyps.items()] + [(src, "a b c d", "a b c d", en) for src in hyps])


def covost2(model: str, revision: str) -> dict:
    rows = []
    for pair in ("en_de", "de_en", "en_zh", "zh_en", "es_en", "fr_en", "it_en"):
        src, tgt = pair.split("_")
        ref = "我们今天去公园散步" if tgt == "zh" else ("wir gehen heute im park spazieren" if tgt == "de"
                                                    else "we go for a walk in the park today")
        hyp = ref if pair in ("en_de", "zh_en") else ref.replace("park", "garden")
        rows += [(f"covost2_{pair}_test", ref, hyp, {"src_lang": src, "tgt_lang": tgt})] * 2
    return scored("covost2", model, revision, rows)


def vocalsound(model: str, revision: str, right: int, wrong: int) -> dict:
    return scored("vocalsound", model, revision,
                  [("vocalsound", "Laughter", "Laughter", {})] * right + [("vocalsound", "Laughter", "Cough", {})] * wrong)




def table_blocks(table: PaperTable) -> list[dict]:
    """The shape parse_md gives, rebuilt from a loaded transcription."""
    blocks: list[dict] = []
    for g in sorted({r.group for r in table.rows}):
        rows = [r for r in table.rows if r.group == g]
        first = rows[0]
        blocks.append({
            "task": first.task,
            "dataset": f"{first.dataset} {' / '.join(r.label for r in rows)}".strip(),
            "metric": f"{first.metric} {first.direction}".strip(),
            "models": [(f"{m} ({table.models[m]})" if table.models[m] else m, [r.printed[m] for r in rows])
                       for m in first.printed],
        })
    return blocks


def parse_md(text: str) -> list[dict]:
    """Blocks of a transcription's Markdown table: task, dataset cell, metric cell, [(model cell, values)]."""
    lines = [ln for ln in text.splitlines() if ln.startswith("|")][2:]
    blocks: list[dict] = []
    for line in lines:
        task, dataset, metric, model, values = (c.strip() for c in line.strip().strip("|").split("|"))
        if task:
            blocks.append({"task": task, "dataset": dataset, "metric": metric, "models": []})
        blocks[-1]["models"].append((model, values.split(" / ")))
    return blocks


def md_text() -> str:
    """table3.md as one line of single-spaced text (for the prose below the table)."""
    return " ".join(MD.read_text(encoding="utf-8").split())


def md_rows(out: Path) -> tuple[list[str], list[list[str]]]:
    """(header cells, body rows of cells) of the paper_table.md written into `out`."""
    lines = [ln for ln in (out / "paper_table.md").read_text(encoding="utf-8").splitlines() if ln.startswith("|")]
    split = [[c.strip() for c in ln.strip().strip("|").split(" | ")] for ln in lines]
    return split[0], split[2:]


def plain(cell: str) -> str:
    """The value of a cell: without bold and without the " (n=N)" of a measured value."""
    return cell.split(" (n=")[0].removeprefix("**").removesuffix("**")


class Cells(HTMLParser):
    """(text, title) of every <td>."""

    def __init__(self) -> None:
        super().__init__()
        self.cells: list[tuple[str, str | None]] = []
        self._open: list | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "td":
            self._open = ["", dict(attrs).get("title")]

    def handle_data(self, data):
        if self._open is not None:
            self._open[0] += data

    def handle_endtag(self, tag):
        if tag == "td" and self._open is not None:
            self.cells.append((self._open[0], self._open[1]))
            self._open = None
