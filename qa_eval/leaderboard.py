"""`qa-eval leaderboard`: every metrics.json under a folder -> Markdown, CSV, HTML, radar PNG.

One row per (model, checkpoint revision, task, source, scorer, metric). When several runs fill
the same row (a rerun, or another --limit), the run over more samples wins, then the newest
(`qa_eval.results.preferred`): a --limit run never replaces a full one. Every format shows n.
The paper's number and the difference stand beside each value scored as the paper scored it.
The HTML page is self-contained (the radar chart is embedded) and escapes every string.
"""

from __future__ import annotations

import base64
import csv
import html
from pathlib import Path

from qa_eval.report import ResultRow, result_rows
from qa_eval.results import preferred, read_results
from qa_eval.scoring import declared_metric

RULE = ("One row per model, checkpoint revision, task, source, scorer and metric; when several runs "
        "fill the same row, the run over more samples wins, then the newest metrics.json.")
TITLE_RULE = ("one row per model, checkpoint, task, source, scorer, metric; the run over the most samples, "
              "then the newest, wins a row")
HEADER = ["model", "task", "source", "metric", "value", "95% CI", "paper", "diff", "n", "failed", "scorer",
          "checkpoint"]
CSV_HEADER = ["model", "task", "source", "metric", "value", "ci95_low", "ci95_high", "paper", "diff", "n",
              "n_failed", "scorer", "checkpoint", "revision", "metrics_file"]


def collect(results_dir: Path) -> list[tuple[ResultRow, Path]]:
    """Every row of every metrics.json under `results_dir`, one run per row key (`preferred`);
    sorted by model, checkpoint, task, source, metric. ConfigError when the folder is missing."""
    candidates: dict[tuple, list[tuple[tuple[ResultRow, Path], int, float]]] = {}
    for result in read_results(results_dir):
        for row in result_rows(result):
            key = (row.model, row.revision, row.task, row.source, row.scorer, row.metric)
            candidates.setdefault(key, []).append(((row, result.path), row.n, result.mtime))
    ordered = sorted(candidates.items(), key=lambda kv: tuple(str(k) for k in kv[0]))
    return [preferred(found)[0] for _, found in ordered]


def write_leaderboard(results_dir: Path, out_dir: Path) -> list[Path]:
    """Write leaderboard.md/.csv/.html and radar.png; returns the written paths."""
    found = collect(results_dir)
    rows = [row for row, _ in found]
    out_dir.mkdir(parents=True, exist_ok=True)
    png = radar_png(rows)
    written = [out_dir / "leaderboard.md", out_dir / "leaderboard.csv", out_dir / "leaderboard.html"]
    written[0].write_text(to_markdown(rows), encoding="utf-8")
    with open(written[1], "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_HEADER)
        for r, path in found:
            writer.writerow([r.model, r.task, r.source, r.metric, r.value,
                             r.ci95[0] if r.ci95 else "", r.ci95[1] if r.ci95 else "",
                             "" if r.paper is None else r.paper, "" if r.diff is None else r.diff, r.n, r.n_failed,
                             r.scorer or "", r.checkpoint or "", r.revision or "", str(path)])
    written[2].write_text(to_html(rows, png), encoding="utf-8")
    if png is not None:
        (out_dir / "radar.png").write_bytes(png)
        written.append(out_dir / "radar.png")
    return written


def checkpoint_label(r: ResultRow) -> str:
    """The checkpoint a row was measured on: its model id and a short revision."""
    rev = (r.revision or "").removeprefix("sha256:")[:12]
    return " @ ".join(x for x in (r.checkpoint or "", rev) if x)


def _cells(r: ResultRow) -> list[str]:
    ci = f"[{r.fmt(r.ci95[0])}, {r.fmt(r.ci95[1])}]" if r.ci95 else ""
    return [r.model, r.task, r.source, r.metric, r.fmt(r.value), ci, "" if r.paper is None else r.fmt(r.paper),
            r.fmt_diff(), str(r.n), str(r.n_failed), r.scorer or "",
            checkpoint_label(r)]


def to_markdown(rows: list[ResultRow]) -> str:
    def esc(s: str) -> str:
        return s.replace("|", "\\|")

    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(esc(c) for c in _cells(r)) + " |" for r in rows]
    return f"# qa-eval leaderboard ({TITLE_RULE})\n\n" + "\n".join(lines) + "\n"


def to_html(rows: list[ResultRow], png: bytes | None) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in HEADER)
    body = "\n".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in _cells(r)) + "</tr>" for r in rows
    )
    img = ""
    if png is not None:
        img = f'<img alt="radar chart" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>qa-eval leaderboard</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#eee}</style>"
        f"</head><body><h1>qa-eval leaderboard</h1><p>{html.escape(RULE)}</p><table><tr>{head}</tr>\n{body}\n"
        f"</table>{img}</body></html>\n"
    )


def radar_png(rows: list[ResultRow]) -> bytes | None:
    """Figure-1-style radar: one axis per (task, source, metric), one line per model and
    checkpoint, the paper's numbers dashed; a model is drawn only on the axes it ran, each
    metric mapped so that higher is better (no clipping) and scaled to the axis' best."""
    from qa_eval import radar

    axes: dict[str, radar.Axis] = {}
    series: dict[str, dict[str, float]] = {}
    counts: dict[str, set[int]] = {}  # the n of a model's values, shown in its legend
    paper: dict[str, float] = {}
    for r in rows:
        key = f"{r.task}/{r.source}/{r.metric}"
        if key not in axes:
            direction = declared_metric(r.scorer, r.metric).higher_is_better
            axes[key] = radar.Axis(key, f"{r.task}\n{r.source}\n{r.metric}", radar.transform_for(r.metric, direction))
        if r.value is not None:
            label = r.model + (f" @ {checkpoint_label(r)}" if r.revision else "")
            series.setdefault(label, {})[key] = r.value
            counts.setdefault(label, set()).add(r.n)
        if r.paper is not None:
            paper[key] = r.paper
    lines = [radar.Series(f"{name} ({radar.n_label(counts[name])})", values) for name, values in series.items()]
    if paper:
        lines.append(radar.Series("paper (Qwen-Audio)", paper, linestyle="--"))
    images = radar.render(list(axes.values()), lines, title="qa-eval: each axis scaled to its best value")
    return None if images is None else images.png
