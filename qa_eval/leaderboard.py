"""`qa-eval leaderboard`: every metrics.json under a folder -> Markdown, CSV, HTML, radar PNG.

One row per (model, task, source, metric), the newest metrics.json winning when a model ran a
task several times. The paper's number and the difference stand beside each measured value.
The HTML page is self-contained (the radar chart is embedded) and escapes every string.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
from pathlib import Path
from typing import Any

from qa_eval.errors import ManifestError
from qa_eval.report import ResultRow, fmt, higher_is_better, result_rows


def collect(results_dir: Path) -> list[tuple[dict[str, Any], Path]]:
    """The newest metrics.json per (model, task), sorted by model then task."""
    newest: dict[tuple[str, str], tuple[float, dict[str, Any], Path]] = {}
    for path in sorted(results_dir.rglob("metrics.json")):
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ManifestError(f"{path}: unreadable metrics file ({exc})") from None
        if not isinstance(doc, dict) or "per_source" not in doc or "task" not in doc:
            raise ManifestError(f"{path}: not a qa-eval metrics.json (no 'task'/'per_source')")
        key = (str(doc.get("model")), str(doc["task"]))
        mtime = path.stat().st_mtime
        if key not in newest or mtime > newest[key][0]:
            newest[key] = (mtime, doc, path)
    return [(doc, path) for _, (_, doc, path) in sorted(newest.items())]


def write_leaderboard(results_dir: Path, out_dir: Path) -> list[Path]:
    """Write leaderboard.md/.csv/.html and radar.png; returns the written paths."""
    docs = collect(results_dir)
    rows = [r for doc, _ in docs for r in result_rows(doc)]
    directions = {(doc["task"], m): doc.get("scorer", {}).get("name") for doc, _ in docs
                  for e in doc["per_source"].values() for m in e}
    out_dir.mkdir(parents=True, exist_ok=True)
    png = radar_png(rows, directions)
    written = [out_dir / "leaderboard.md", out_dir / "leaderboard.csv", out_dir / "leaderboard.html"]
    written[0].write_text(to_markdown(rows), encoding="utf-8")
    with open(written[1], "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["model", "task", "source", "metric", "value", "ci95_low", "ci95_high",
                         "paper", "diff", "n", "n_failed"])
        for r in rows:
            writer.writerow([r.model, r.task, r.source, r.metric, r.value,
                             r.ci95[0] if r.ci95 else "", r.ci95[1] if r.ci95 else "",
                             "" if r.paper is None else r.paper, "" if r.diff is None else r.diff, r.n, r.n_failed])
    written[2].write_text(to_html(rows, png), encoding="utf-8")
    if png is not None:
        (out_dir / "radar.png").write_bytes(png)
        written.append(out_dir / "radar.png")
    return written


def _cells(r: ResultRow) -> list[str]:
    ci = f"[{fmt(r.ci95[0], r.metric)}, {fmt(r.ci95[1], r.metric)}]" if r.ci95 else ""
    return [r.model, r.task, r.source, r.metric, fmt(r.value, r.metric), ci,
            "" if r.paper is None else fmt(r.paper, r.metric),
            "" if r.diff is None else f"{r.diff:+.4f}", str(r.n), str(r.n_failed)]


HEADER = ["model", "task", "source", "metric", "value", "95% CI", "paper", "diff", "n", "failed"]


def to_markdown(rows: list[ResultRow]) -> str:
    def esc(s: str) -> str:
        return s.replace("|", "\\|")

    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    lines += ["| " + " | ".join(esc(c) for c in _cells(r)) + " |" for r in rows]
    return "# qa-eval leaderboard\n\n" + "\n".join(lines) + "\n"


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
        f"</head><body><h1>qa-eval leaderboard</h1><table><tr>{head}</tr>\n{body}\n</table>{img}</body></html>\n"
    )


def _radar_value(metric: str, value: float, scorer: str | None) -> float | None:
    """A 'higher is better', roughly 0-1 score for the radar (None: metric not drawn)."""
    if metric.endswith("_ms"):
        return None
    if metric == "bleu":
        value = value / 100.0
    return value if higher_is_better(metric, scorer) else 1.0 - value


def radar_png(rows: list[ResultRow], scorers: dict[tuple[str, str], str | None]) -> bytes | None:
    """Radar chart like the paper's figure: one axis per (task, source, metric), one polygon
    per model, the paper's numbers dashed. None when there is nothing to draw."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    axes_keys = sorted({(r.task, r.source, r.metric) for r in rows
                        if r.value is not None and _radar_value(r.metric, r.value, None) is not None})
    if not axes_keys:
        return None
    angles = np.linspace(0, 2 * np.pi, len(axes_keys), endpoint=False).tolist()
    fig = plt.figure(figsize=(8, 8))
    ax = fig.add_subplot(111, polar=True)
    series: dict[str, dict[tuple[str, str, str], float]] = {}
    paper: dict[tuple[str, str, str], float] = {}
    for r in rows:
        key = (r.task, r.source, r.metric)
        if key not in axes_keys or r.value is None:
            continue
        scorer = scorers.get((r.task, r.metric))
        series.setdefault(r.model, {})[key] = _radar_value(r.metric, r.value, scorer)  # type: ignore[assignment]
        if r.paper is not None:
            paper[key] = _radar_value(r.metric, r.paper, scorer)  # type: ignore[assignment]
    for model, values in list(series.items()) + ([("paper (Qwen-Audio)", paper)] if paper else []):
        pts = [values.get(k, 0.0) for k in axes_keys]
        style = "--" if model.startswith("paper") else "-"
        ax.plot(angles + angles[:1], pts + pts[:1], style, label=model)
        ax.fill(angles + angles[:1], pts + pts[:1], alpha=0.08)
    ax.set_xticks(angles)
    ax.set_xticklabels([f"{t}\n{s}\n{m}" for t, s, m in axes_keys], fontsize=7)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper right", bbox_to_anchor=(1.3, 1.1), fontsize=8)
    ax.set_title("qa-eval (higher is better: 1-WER, BLEU/100, accuracy, CIDEr...)", fontsize=9)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()
