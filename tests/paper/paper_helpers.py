"""Helpers of the paper-table tests: the committed Table 3 transcription and its parser, and
metrics.json documents scored by qa-eval's own scorers from hand-written predictions (no model)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from qa_eval import registry
from qa_eval.metrics import metrics_document, score_predictions
from qa_eval.records import Prediction

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "results" / "baselines" / "whisper-tiny.en" / "librispeech-sample" / "metrics.json"
MD = ROOT / "tests" / "data" / "paper" / "table3.md"
REF = "the quick brown fox jumps over the lazy dog"  # 9 words


def scored(task_name: str, model: str, revision: str, rows: list[tuple[str, Any, str, dict]]) -> dict:
    """A metrics.json document: (source, reference, prediction, fields) rows through the task's scorer."""
    task = registry.load("task", task_name)
    preds = [Prediction(f"{task_name}-{i}", src, ref, hyp, extra=extra)
             for i, (src, ref, hyp, extra) in enumerate(rows)]
    return metrics_document(task, model, score_predictions(task, preds, seed=0),
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




def parse_md(text: str) -> list[dict]:
    """Blocks of table3.md's Markdown table: task, dataset cell, metric cell, [(model cell, values)]."""
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
