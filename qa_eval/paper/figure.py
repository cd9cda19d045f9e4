"""A paper's radar (Figure 1 of the Qwen-Audio paper, the Qwen2-Audio README's radar): the subject
(paper), the previous top-tier (best baseline of the table), the paper columns the figure draws on
their own and each measured model, on the figure's dataset axes (ASR as 1 - WER, CoVoST2 as the
mean BLEU of its seven directions, drawn only for a series that has all seven)."""

from __future__ import annotations

from statistics import fmean

from qa_eval import radar
from qa_eval.errors import ConfigError
from qa_eval.paper.data import AxisSpec, Measure, PaperTable
from qa_eval.paper.measured import MeasuredRuns

TOP_TIER = "Previous top-tier (paper)"
PAPER_COLOUR, TOP_TIER_COLOUR = "#d62728", "#7f7f7f"
OWN_SERIES_COLOURS = ("#e7969c", "#c49c94", "#dbdb8d")  # paper columns drawn on their own


def _axis(table: PaperTable, spec: AxisSpec) -> radar.Axis:
    row = table.row(spec.measures[0])
    metric = row.measure[2]
    return radar.Axis("|".join("/".join(m) for m in spec.measures), spec.label,
                      radar.transform_for(metric, row.higher_is_better))


def _mean(values: list[float | None]) -> float | None:
    return None if not values or any(v is None for v in values) else fmean(values)  # type: ignore[arg-type]


def _paper(table: PaperTable, measure: Measure, models: tuple[str, ...]) -> float | None:
    """Best of the `models`' printed values, back in qa-eval units (WER % -> fraction)."""
    row = table.row(measure)
    values = [v for m in models if (v := row.paper_value(m)) is not None]
    if not values:
        return None
    return (max(values) if row.higher_is_better else min(values)) / row.scale


def radar_series(table: PaperTable, runs: MeasuredRuns) -> tuple[list[radar.Axis], list[radar.Series]]:
    axes = [_axis(table, spec) for spec in table.figure.axes]
    specs = dict(zip((a.key for a in axes), table.figure.axes))

    def values(get) -> dict[str, float]:
        out = {key: _mean([get(m) for m in spec.measures]) for key, spec in specs.items()}
        return {k: v for k, v in out.items() if v is not None}

    drawn = table.figure.models
    top_tier = tuple(m for m in table.baselines if m not in drawn)
    series = [
        radar.Series(f"{table.subject} (paper)", values(lambda m: _paper(table, m, (table.subject,))),
                     "--", PAPER_COLOUR),
        radar.Series(TOP_TIER, values(lambda m: _paper(table, m, top_tier)), ":", TOP_TIER_COLOUR),
        *(radar.Series(f"{model} (paper)", values(lambda m, model=model: _paper(table, m, (model,))), "-.",
                       OWN_SERIES_COLOURS[i % len(OWN_SERIES_COLOURS)]) for i, model in enumerate(drawn)),
    ]
    for col in runs.columns:
        def measured(m: Measure, col: str = col) -> float | None:
            cell = runs.cells.get((col, m))
            return None if cell is None else cell.value
        counts = [c.n for (heading, _), c in runs.cells.items() if heading == col and c.value is not None]
        label = f"{col} ({radar.n_label(counts)})" if counts else col
        series.append(radar.Series(label, values(measured)))
    return axes, series


def render_radar(table: PaperTable, runs: MeasuredRuns) -> radar.RadarImages:
    axes, series = radar_series(table, runs)
    images = radar.render(axes, series, title=table.figure.title, note=f"{table.figure.note} {table.figure.choice}")
    if images is None:  # the paper's own series always have values
        raise ConfigError(f"{table.path}: the figure has no value on any axis")
    return images
