"""The self-contained HTML page: a paper's table with measured columns, and the radar as a data: URI.

Nothing on the page loads from elsewhere (no scripts, no links, no fonts) and a
Content-Security-Policy forbids it; a measured value's 95 % interval is its cell's title (hover).
"""

from __future__ import annotations

import base64
from html import escape
from xml.sax.saxutils import quoteattr

from qa_eval.paper.table import Cell, Grid, fixed_cells

CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
HEADER_BG, MEASURED_BG, QWEN_BG = "#dfe7f3", "#f3f8ee", "#fbf3e4"
STYLE = f"""
body{{font-family:"DejaVu Sans",Arial,sans-serif;margin:24px;color:#222}}
h1{{font-size:20px;margin:0 0 12px}}
table{{border-collapse:collapse;font-size:12px}}
th,td{{border:1px solid #c8ccd4;padding:3px 6px;white-space:nowrap}}
thead th{{background:{HEADER_BG}}}
th.model{{writing-mode:vertical-rl;transform:rotate(180deg);text-align:left;padding:6px 3px}}
th.group{{background:#c5d3ea}}
td.num{{text-align:right}}
td.measured{{background:{MEASURED_BG}}}
small.n{{color:#667;font-size:10px}}
td.qwen{{background:{QWEN_BG}}}
td[title]{{text-decoration:underline dotted #889;cursor:help}}
tr.first td{{border-top:2px solid #7a8597}}
ol.notes{{font-size:12px;max-width:1100px}}
figure{{margin:20px 0}}
figure img{{width:720px;height:auto}}
"""


def _td(cell: Cell, kind: str) -> str:
    classes = f"num {kind}".strip()
    title = f' title="{escape(cell.hover)}"' if cell.hover else ""
    text = escape(cell.text)
    n = f'<small class="n">{escape(cell.n_text)}</small>' if cell.n_text else ""
    return f'<td class="{classes}"{title}>{f"<strong>{text}</strong>" if cell.bold else text}{n}</td>'


def _head(grid: Grid) -> str:
    n_paper = len(grid.paper_columns)
    top = (f'<th colspan="4"></th><th class="group" colspan="{n_paper}">'
           f'Paper ({escape(grid.table.label)}, as printed)</th>')
    if grid.measured:
        top += f'<th class="group" colspan="{len(grid.measured)}">Measured (qa-eval)</th>'
    names = ["Task", "Dataset", "Split", "Metric", *grid.paper_columns, *grid.measured]
    cites = [None] * 4 + [grid.table.models[m] for m in grid.paper_columns] + [None] * len(grid.measured)
    cells = "".join(
        f'<th{" class=model" if i >= 4 else ""}{f" title={quoteattr(c)}" if c else ""}>{escape(n)}</th>'
        for i, (n, c) in enumerate(zip(names, cites)))
    return f"<thead><tr>{top}</tr><tr>{cells}</tr></thead>"


def _body(grid: Grid) -> str:
    lines = []
    n_paper = len(grid.paper_columns)
    for i, gr in enumerate(grid.rows):
        cells = "".join(f"<td>{escape(c)}</td>" for c in fixed_cells(grid, i))
        kinds = [""] * (n_paper - 1) + ["qwen"] + ["measured"] * len(grid.measured)
        cells += "".join(_td(c, k) for c, k in zip(gr.cells, kinds))
        starts = i > 0 and grid.rows[i - 1].row.group != gr.row.group
        lines.append(("<tr class=\"first\">" if starts else "<tr>") + cells + "</tr>")
    return "<tbody>\n" + "\n".join(lines) + "\n</tbody>"


def to_html(grid: Grid, radar_svg: str) -> str:
    uri = "data:image/svg+xml;base64," + base64.b64encode(radar_svg.encode("utf-8")).decode("ascii")
    notes = "".join(f"<li>{escape(n)}</li>" for n in grid.notes)
    title, figure = grid.heading, grid.table.figure.name
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n<body>"
        f"<h1>{escape(title)}</h1>\n<table>{_head(grid)}\n{_body(grid)}</table>\n"
        f'<ol class="notes">{notes}</ol>\n'
        f'<figure><img alt="{escape(figure)} radar of the paper\'s and the measured models" src="{uri}">'
        f"<figcaption>{escape(figure)} style radar: each axis relative to its best value.</figcaption></figure>\n"
        "</body></html>\n"
    )
