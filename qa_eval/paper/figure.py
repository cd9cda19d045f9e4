"""Figure 1's radar: Qwen-Audio (paper), the previous top-tier (best baseline of Table 3) and each
measured model, on the twelve dataset axes of `table3.json` (ASR as 1 - WER, CoVoST2 as the mean
BLEU of its seven directions, drawn only for a series that has all seven)."""

from __future__ import annotations

from statistics import fmean

from qa_eval import radar
from qa_eval.errors import ConfigError
from qa_eval.paper.data import DATA_FILE, QWEN_AUDIO, AxisSpec, Measure, PaperTable
from qa_eval.paper.measured import MeasuredRuns

TOP_TIER = "Previous top-tier (paper)"
PAPER_COLOUR, TOP_TIER_COLOUR = "#d62728", "#7f7f7f"


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
    axes = [_axis(table, spec) for spec in table.axes]
    specs = dict(zip((a.key for a in axes), table.axes))

    def values(get) -> dict[str, float]:
        out = {key: _mean([get(m) for m in spec.measures]) for key, spec in specs.items()}
        return {k: v for k, v in out.items() if v is not None}

    series = [
        radar.Series(f"{QWEN_AUDIO} (paper)", values(lambda m: _paper(table, m, (QWEN_AUDIO,))),
                     "--", PAPER_COLOUR),
        radar.Series(TOP_TIER, values(lambda m: _paper(table, m, table.baselines)), ":", TOP_TIER_COLOUR),
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
    images = radar.render(
        axes, series, title="Figure 1 (Qwen-Audio paper): test sets, each axis relative to its best",
        note="ASR: 1 - WER; CoVoST2: mean BLEU of its 7 directions. " + table.figure_choice,
    )
    if images is None:  # the paper's own series always have values
        raise ConfigError(f"{DATA_FILE}: Figure 1 has no value on any axis")
    return images
