"""A paper's results table and radar rules, loaded from its JSON transcription (each number as printed).

PAPERS names the transcriptions: `qwen-audio` (the Qwen-Audio paper's Table 3 and Figure 1,
`table3.json`) and `qwen2-audio` (the Qwen2-Audio report's numbers as its repository's README
gives them, `qwen2_audio.json`). Each table block (one task, one dataset, its splits) becomes rows,
one per split; a row knows which (task, source, metric) of qa-eval fills it, the scorer the paper's
own numbers were computed with (None: the task's own scorer) and the factor from qa-eval's unit to
the paper's (WER: fraction -> %). Printed values stay strings, so "0.3860" keeps its trailing zero.
Every printed number has a source: its column's entry in `model_sources`, else the table's
`source` (both name an entry of `sources`: where the number was transcribed from).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from qa_eval.errors import ConfigError

HERE = Path(__file__).parent
PAPERS = {"qwen-audio": HERE / "table3.json", "qwen2-audio": HERE / "qwen2_audio.json"}
DEFAULT_PAPER = "qwen-audio"
DATA_FILE = PAPERS[DEFAULT_PAPER]
Measure = tuple[str, str, str]  # (qa-eval task, source, metric)


@dataclass(frozen=True)
class PaperRow:
    group: int                     # index of its table block
    task: str                      # "ASR", "S2TT", ...
    dataset: str                   # "LibriSpeech"
    label: str                     # split ("dev-clean") or, when the block has no metric, the metric
    metric: str                    # the block's metric ("WER"), "" when `label` is the metric
    direction: str                 # "↓" or "↑"
    unit: str                      # "%" for WER, else ""
    measure: Measure
    scale: float                   # qa-eval value * scale = the paper's unit
    printed: Mapping[str, str]     # model -> value as printed ("-": not reported)
    scorer: str | None = None      # the scorer the paper's numbers were computed with (None: the task's)

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
    measures: tuple[Measure, ...]  # several only where the figure averages (CoVoST2)


@dataclass(frozen=True)
class FigureSpec:
    """The paper's radar: its axes, and what is drawn besides the subject and the measured models."""

    name: str                      # "Figure 1"
    title: str                     # the rendered radar's title
    caption: str                   # what the paper's figure shows (its caption, or its legend and axes)
    note: str                      # how values become radii ("ASR: 1 - WER; ...")
    choice: str                    # the splits drawn where the figure names only a dataset
    models: tuple[str, ...]        # paper columns drawn as series of their own (not in the top tier)
    axes: tuple[AxisSpec, ...]


@dataclass(frozen=True)
class PaperTable:
    paper: str                         # the publication, in full
    name: str                          # short name for headings ("Qwen-Audio paper")
    label: str                         # the table's name in the publication ("Table 3")
    title: str
    subject: str                       # the publication's own model: the last paper column
    models: Mapping[str, str | None]   # name -> citation, in column order (the subject last)
    variants: tuple[str, ...]          # columns of the subject under other conditions (not baselines)
    sources: Mapping[str, str]         # source id -> where numbers were transcribed from
    source: str                        # the source id of every column not in `model_sources`
    model_sources: Mapping[str, str]   # column -> source id, where it is not `source`
    rows: tuple[PaperRow, ...]
    notes: tuple[str, ...]
    figure: FigureSpec
    path: Path

    @property
    def baselines(self) -> tuple[str, ...]:
        return tuple(m for m in self.models if m != self.subject and m not in self.variants)

    @property
    def measures(self) -> frozenset[Measure]:
        return frozenset(r.measure for r in self.rows)

    @property
    def scorers(self) -> dict[Measure, str | None]:
        """measure -> the scorer the paper's numbers of its row were computed with (None: the task's)."""
        return {r.measure: r.scorer for r in self.rows}

    def row(self, measure: Measure) -> PaperRow:
        return next(r for r in self.rows if r.measure == measure)

    def source_of(self, model: str) -> str:
        """Where the printed numbers of column `model` were transcribed from."""
        return self.sources[self.model_sources.get(model, self.source)]


def paper_file(paper: str) -> Path:
    """The transcription of `paper` (a PAPERS name); ConfigError naming the known ones otherwise."""
    if paper not in PAPERS:
        raise ConfigError(f"unknown paper {paper!r}; known: {', '.join(PAPERS)}")
    return PAPERS[paper]


def load_paper(paper: str = DEFAULT_PAPER) -> PaperTable:
    return load_table(paper_file(paper))


@lru_cache(maxsize=None)
def load_table(path: Path = DATA_FILE) -> PaperTable:
    """Parse and check a transcription (a broken file is a packaging bug: ConfigError)."""
    doc = json.loads(path.read_text(encoding="utf-8"))
    models = dict(doc["models"])
    subject = doc["subject"]
    if list(models)[-1] != subject:
        raise ConfigError(f"{path}: 'models' must end with the subject, {subject}")
    variants = tuple(doc.get("variants", ()))
    sources, source, model_sources = dict(doc["sources"]), doc["source"], dict(doc.get("model_sources", {}))
    _check_sources(path, models, variants, sources, source, model_sources)
    rows = [row for i, g in enumerate(doc["groups"]) for row in _group_rows(path, i, g, models)]
    measures = [r.measure for r in rows]
    if len(set(measures)) != len(measures):
        raise ConfigError(f"{path}: a (task, source, metric) fills more than one row")
    figure = _figure(path, doc["figure"], set(measures), models, subject)
    return PaperTable(doc["paper"], doc["name"], doc["table"], doc["title"], subject, models, variants, sources,
                      source, model_sources, tuple(rows), tuple(doc["notes"]), figure, path)


def _check_sources(path: Path, models: Mapping[str, str | None], variants: tuple[str, ...],
                   sources: Mapping[str, str], source: str, model_sources: Mapping[str, str]) -> None:
    unknown = ({source} | set(model_sources.values())) - set(sources)
    if unknown:
        raise ConfigError(f"{path}: source(s) {sorted(unknown)} not listed under 'sources'")
    strangers = (set(model_sources) | set(variants)) - set(models)
    if strangers:
        raise ConfigError(f"{path}: {sorted(strangers)} not listed under 'models'")
    empty = [key for key, text in sources.items() if not text.strip()]
    if empty:
        raise ConfigError(f"{path}: source(s) {empty} say nothing")


def _figure(path: Path, fig: dict, measures: set[Measure], models: Mapping[str, str | None],
            subject: str) -> FigureSpec:
    axes = tuple(AxisSpec(a["label"], tuple(tuple(m) for m in a["measures"])) for a in fig["axes"])
    for a in axes:
        if not set(a.measures) <= measures:
            raise ConfigError(f"{path}: figure axis {a.label!r} names a measure not in the table")
    drawn = tuple(fig.get("models", ()))
    if not set(drawn) <= set(models) - {subject}:
        raise ConfigError(f"{path}: figure models {list(drawn)} must be paper columns other than {subject}")
    return FigureSpec(fig["name"], fig["title"], fig["caption"], fig["note"], fig["choice"], drawn, axes)


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
                     {m: vals[j] for m, vals in g["values"].items()}, g.get("scorer"))
            for j, c in enumerate(columns)]


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
