"""`qa-eval paper-table`: a paper's table (PAPERS: the Qwen-Audio paper's Table 3 by default, the
Qwen2-Audio report's) as Markdown, HTML and LaTeX, and its radar as PNG and SVG."""

from __future__ import annotations

from pathlib import Path

from qa_eval.paper.data import DEFAULT_PAPER, load_paper
from qa_eval.paper.figure import render_radar
from qa_eval.paper.measured import collect_measured
from qa_eval.paper.page import to_html
from qa_eval.paper.table import Grid, GridRow, build_grid, fixed_cells

OUTPUTS = ("paper_table.md", "paper_table.html", "paper_table.tex", "paper_radar.png", "paper_radar.svg")
FIXED = ("Task", "Dataset", "Split", "Metric")


def write_paper_table(results_dir: Path, out_dir: Path, paper: str = DEFAULT_PAPER) -> list[Path]:
    """Read the metrics.json files under `results_dir`, write the five OUTPUTS of `paper`'s table
    to `out_dir` (ConfigError for a paper PAPERS does not name)."""
    table = load_paper(paper)
    runs = collect_measured(results_dir, table.scorers)
    grid = build_grid(table, runs, results_dir)
    images = render_radar(table, runs)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / name for name in OUTPUTS]
    paths[0].write_text(to_markdown(grid, paths[3].name), encoding="utf-8")
    paths[1].write_text(to_html(grid, images.svg), encoding="utf-8")
    paths[2].write_text(to_latex(grid), encoding="utf-8")
    paths[3].write_bytes(images.png)
    paths[4].write_text(images.svg, encoding="utf-8")
    return paths


def headings(grid: Grid) -> list[str]:
    return [*FIXED, *(grid.paper_heading(m) for m in grid.paper_columns), *grid.measured]


def to_markdown(grid: Grid, radar_file: str) -> str:
    def esc(s: str) -> str:
        return s.replace("|", "\\|")

    def value(c) -> str:
        return (f"**{c.text}**" if c.bold else c.text) + c.n_text

    lines = ["| " + " | ".join(esc(h) for h in headings(grid)) + " |",
             "|" + "---|" * len(FIXED) + "--:|" * len(grid.columns)]
    for i, gr in enumerate(grid.rows):
        cells = fixed_cells(grid, i) + [value(c) for c in gr.cells]
        lines.append("| " + " | ".join(esc(c) for c in cells) + " |")
    notes = [f"{n}. {text}" for n, text in enumerate(grid.notes, start=1)]
    return (f"# {grid.heading}\n\n" + "\n".join(lines)
            + "\n\nNotes:\n\n" + "\n".join(notes)
            + f"\n\n![{grid.table.figure.name} radar: the paper's and the measured models]({radar_file})\n")


_LATEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
          "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
          "↓": r"$\downarrow$", "↑": r"$\uparrow$", "–": "--", "×": r"$\times$"}


def tex(s: str) -> str:
    return "".join(_LATEX.get(ch, ch) for ch in s)


def _latex_row(grid: Grid, i: int, gr: GridRow) -> str:
    cells = [tex(c) for c in fixed_cells(grid, i)]
    cells += [(rf"\textbf{{{tex(c.text)}}}" if c.bold else tex(c.text)) + tex(c.n_text) for c in gr.cells]
    rule = r"\midrule" + "\n" if i and grid.rows[i - 1].row.task != gr.row.task else ""
    return rule + " & ".join(cells) + r" \\"


def to_latex(grid: Grid) -> str:
    """A table* for a LaTeX document with \\usepackage{booktabs,graphicx}."""
    spec = "llll" + "r" * len(grid.columns)
    n_paper = len(grid.paper_columns)
    group_head = rf"\multicolumn{{4}}{{l}}{{}} & \multicolumn{{{n_paper}}}{{c}}{{Paper ({tex(grid.table.label)})}}"
    rules = rf"\cmidrule(lr){{5-{4 + n_paper}}}"
    if grid.measured:
        first = 5 + n_paper
        group_head += rf" & \multicolumn{{{len(grid.measured)}}}{{c}}{{Measured (qa-eval)}}"
        rules += rf" \cmidrule(lr){{{first}-{first + len(grid.measured) - 1}}}"
    lines = [
        "% qa-eval paper-table: " + tex(grid.heading) + ".",
        r"% Needs \usepackage{booktabs} and \usepackage{graphicx}.",
        r"\begin{table*}[t]", r"\centering",
        r"\caption{" + tex(grid.heading) + ".}",
        r"\resizebox{\textwidth}{!}{%", r"\begin{tabular}{" + spec + "}", r"\toprule",
        group_head + r" \\", rules,
        " & ".join(tex(h) for h in headings(grid)) + r" \\", r"\midrule",
        *(_latex_row(grid, i, gr) for i, gr in enumerate(grid.rows)),
        r"\bottomrule", r"\end{tabular}}", r"\par\smallskip\footnotesize",
        *(f"({n}) {tex(t)}" + r"\\" for n, t in enumerate(grid.notes, start=1)),
        r"\end{table*}",
    ]
    return "\n".join(lines) + "\n"
