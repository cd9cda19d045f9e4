"""A paper's results table (with measured columns) and its radar: `qa-eval paper-table`.

The Qwen-Audio paper's Table 3 and Figure 1 (`--paper qwen-audio`, the default) and the
Qwen2-Audio report's table and radar (`--paper qwen2-audio`); see `qa_eval.paper.data.PAPERS`."""

from qa_eval.paper.data import DEFAULT_PAPER, PAPERS
from qa_eval.paper.render import OUTPUTS, write_paper_table

__all__ = ["DEFAULT_PAPER", "OUTPUTS", "PAPERS", "write_paper_table"]
