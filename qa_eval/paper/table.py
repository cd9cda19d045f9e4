"""A paper's table as a grid of display cells: the paper's columns as printed, then one per measured model.

Every renderer (Markdown, HTML, LaTeX) draws this one grid, so they agree on values, rounding,
the bold best value per row and the footnotes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from qa_eval.paper.data import PaperRow, PaperTable
from qa_eval.paper.measured import Measured, MeasuredRuns

MISSING = "–"


@dataclass(frozen=True)
class Cell:
    text: str               # as displayed ("2.0", "–")
    bold: bool              # best value of its row
    hover: str | None       # the 95 % interval and provenance of a measured value
    n: int | None = None    # samples behind a measured value (shown beside it in every format)

    @property
    def n_text(self) -> str:
        """" (n=2620)" after a measured value, "" elsewhere."""
        return "" if self.n is None or self.text == MISSING else f" (n={self.n})"


@dataclass(frozen=True)
class GridRow:
    row: PaperRow
    cells: tuple[Cell, ...]  # one per Grid.columns


@dataclass(frozen=True)
class Grid:
    table: PaperTable
    measured: tuple[str, ...]
    rows: tuple[GridRow, ...]
    notes: tuple[str, ...]

    @property
    def heading(self) -> str:
        return f"{self.table.name}, {self.table.title}" + (", with measured columns" if self.measured else "")

    @property
    def paper_columns(self) -> tuple[str, ...]:
        """The paper's columns in its order, the subject last."""
        return tuple(self.table.models)

    @property
    def columns(self) -> tuple[str, ...]:
        return self.paper_columns + self.measured

    def paper_heading(self, model: str) -> str:
        """A paper column's heading: the subject's says "(paper)"."""
        return f"{model} (paper)" if model == self.table.subject else model


def fixed_cells(grid: Grid, i: int) -> list[str]:
    """Task, dataset, split, metric; task and dataset only on a block's first row, as printed."""
    r = grid.rows[i].row
    first = i == 0 or grid.rows[i - 1].row.group != r.group
    return [r.task if first else "", r.dataset if first else "", r.split, f"{r.metric_label} {r.direction}"]


def decimals(text: str) -> int:
    return len(text.split(".")[1]) if "." in text else 0


def measured_decimals(row: PaperRow) -> int:
    """One digit more than the paper prints on the row, at most 4 ("2.0" % -> "2.04")."""
    printed = [decimals(t) for t in row.printed.values() if t != "-"]
    return min(max(printed, default=3) + 1, 4)


def measured_text(row: PaperRow, value: float | None) -> str:
    return MISSING if value is None else f"{value * row.scale:.{measured_decimals(row)}f}"


def _hover(row: PaperRow, m: Measured, results_dir: Path) -> str:
    dec = measured_decimals(row)
    ci = ("95 % CI " + f"[{m.ci95[0] * row.scale:.{dec}f}, {m.ci95[1] * row.scale:.{dec}f}]"
          if m.ci95 else "no 95 % CI recorded")
    try:
        where = m.path.relative_to(results_dir)
    except ValueError:
        where = m.path
    return f"{ci}; n = {m.n}, failed = {m.n_failed}; {where}"


def build_grid(table: PaperTable, runs: MeasuredRuns, results_dir: Path) -> Grid:
    """The table of the paper plus the measured columns, best value per row marked."""
    rows = []
    for row in table.rows:
        texts: list[str] = [MISSING if (t := row.printed.get(m, "-")) == "-" else t
                            for m in table.models]
        hovers: list[str | None] = [None] * len(texts)
        counts: list[int | None] = [None] * len(texts)
        for col in runs.columns:
            m = runs.cells.get((col, row.measure))
            texts.append(measured_text(row, None if m is None else m.value))
            hovers.append(None if m is None else _hover(row, m, results_dir))
            counts.append(None if m is None else m.n)
        rows.append(GridRow(row, tuple(Cell(t, b, h, n) for t, b, h, n
                                       in zip(texts, _best(row, texts), hovers, counts))))
    return Grid(table, runs.columns, tuple(rows), _notes(table, runs))


def _best(row: PaperRow, texts: list[str]) -> list[bool]:
    """Bold where the displayed value is the row's best (ties: all of them)."""
    values = [None if t == MISSING else float(t) for t in texts]
    present = [v for v in values if v is not None]
    if not present:
        return [False] * len(texts)
    best = max(present) if row.higher_is_better else min(present)
    return [v == best for v in values]


def _notes(table: PaperTable, runs: MeasuredRuns) -> tuple[str, ...]:
    notes = [
        _sources_note(table),
        *table.notes,
        "Bold: best value of the row (↓ lower is better, ↑ higher is better), compared as displayed.",
    ]
    if runs.columns:
        notes.append(
            "Measured columns: qa-eval metrics.json files, each value with the number of samples it "
            "rests on (n); WER is shown in % (fraction × 100) like the paper; hover a value in the "
            "HTML page for its 95 % interval. Where several files fill the same model, revision and "
            "row, the run over more samples wins, then the newest file"
            + (f" ({runs.superseded} other value(s) set aside)." if runs.superseded else ".")
        )
    if runs.other_scorer:
        notes.append(f"{runs.other_scorer} result(s) scored with another scorer than the one the paper's "
                     "numbers of their rows were computed with are left out.")
    return tuple(notes)


def _sources_note(table: PaperTable) -> str:
    """Where the paper columns were transcribed from, with the citations the paper gives."""
    cites = ", ".join(f"{m} ({c})" for m, c in table.models.items() if c)
    others = "".join(f"; {m}: {table.source_of(m)}" for m in table.model_sources)
    return (f"Paper columns: {table.sources[table.source]}, values as printed"
            + (f" ({cites})" if cites else "") + others + f". {MISSING}: not reported, or not run.")
