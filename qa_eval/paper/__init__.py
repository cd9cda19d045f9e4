"""The Qwen-Audio paper's Table 3 (with measured columns) and Figure 1's radar: `qa-eval paper-table`."""

from qa_eval.paper.render import OUTPUTS, write_paper_table

__all__ = ["OUTPUTS", "write_paper_table"]
