"""The paper's Table 3 and Figure 1 rules, loaded from `table3.json` (transcribed once, as printed).

Each Table 3 block (one task, one dataset, its splits) becomes rows, one per split; a row knows
which (task, source, metric) of qa-eval fills it and the factor from qa-eval's unit to the paper's
(WER: fraction -> %). Printed values stay strings, so "0.3860" keeps its trailing zero.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from qa_eval.errors import ConfigError

DATA_FILE = Path(__file__).with_name("table3.json")
QWEN_AUDIO = "Qwen-Audio"
Measure = tuple[str, str, str]  # (qa-eval task, source, metric)


@dataclass(frozen=True)
class PaperRow:
    group: int                     # index of its Table 3 block
    task: str                      # "ASR", "S2TT", ...
    dataset: str                   # "LibriSpeech"
    label: str                     # split ("dev-clean") or, when the block has no metric, the metric
    metric: str                    # the block's metric ("WER"), "" when `label` is the metric
    direction: str                 # "↓" or "↑"
    unit: str                      # "%" for WER, else ""
    measure: Measure
    scale: float                   # qa-eval value * scale = the paper's unit
    printed: Mapping[str, str]     # model -> value as printed ("-": not reported)

    @property
    def higher_is_better(self) -> bool:
        return self.direction == "↑"

    @property
    def split(self) -> str:
        return self.label if self.metric else ""

    @property
    def metric_label(self) -> str:
        name = self.metric or self.label
        return f"{name} ({self.unit})" if self.unit else name

    def paper_value(self, model: str) -> float | None:
        text = self.printed.get(model, "-")
        return None if text == "-" else float(text)


@dataclass(frozen=True)
class AxisSpec:
    label: str
    measures: tuple[Measure, ...]  # several only where Figure 1 averages (CoVoST2)


@dataclass(frozen=True)
class PaperTable:
    paper: str
    title: str
    models: Mapping[str, str | None]   # name -> citation, in column order (Qwen-Audio last)
    rows: tuple[PaperRow, ...]
    notes: tuple[str, ...]
    figure_caption: str
    figure_choice: str
    axes: tuple[AxisSpec, ...]

    @property
    def baselines(self) -> tuple[str, ...]:
        return tuple(m for m in self.models if m != QWEN_AUDIO)

    @property
    def measures(self) -> frozenset[Measure]:
        return frozenset(r.measure for r in self.rows)

    def row(self, measure: Measure) -> PaperRow:
        return next(r for r in self.rows if r.measure == measure)


@lru_cache(maxsize=1)
def load_table(path: Path = DATA_FILE) -> PaperTable:
    """Parse and check the transcription (a broken file is a packaging bug: ConfigError)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    models = dict(doc["models"])
    if list(models)[-1] != QWEN_AUDIO:
        raise ConfigError(f"{path}: 'models' must end with {QWEN_AUDIO}")
    rows = [row for i, g in enumerate(doc["groups"]) for row in _group_rows(path, i, g, models)]
    fig = doc["figure1"]
    axes = tuple(AxisSpec(a["label"], tuple(tuple(m) for m in a["measures"])) for a in fig["axes"])
    known = {r.measure for r in rows}
    for a in axes:
        if not set(a.measures) <= known:
            raise ConfigError(f"{path}: figure1 axis {a.label!r} names a measure not in the table")
    return PaperTable(doc["paper"], doc["title"], models, tuple(rows), tuple(doc["notes"]),
                      fig["caption"], fig["choice"], axes)


def _group_rows(path: Path, index: int, g: dict, models: Mapping[str, str | None]) -> list[PaperRow]:
    where = f"{path}: group {index} ({g['task']} {g['dataset']})"
    if g["direction"] not in ("↓", "↑"):
        raise ConfigError(f"{where}: direction must be ↓ or ↑")
    columns = g["columns"]
    for model, values in g["values"].items():
        if model not in models:
            raise ConfigError(f"{where}: model {model!r} is not listed under 'models'")
        if len(values) != len(columns):
            raise ConfigError(f"{where}: {model} has {len(values)} values for {len(columns)} columns")
        bad = [v for v in values if v != "-" and not _is_number(v)]
        if bad:
            raise ConfigError(f"{where}: {model} has non-numeric values {bad}")
    return [PaperRow(index, g["task"], g["dataset"], c["label"], g["metric"], g["direction"],
                     g.get("unit", ""), tuple(c["measure"]), float(c["scale"]),
                     {m: vals[j] for m, vals in g["values"].items()})
            for j, c in enumerate(columns)]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
