"""Speech recognition with word-level timestamps (SRWT; average alignment shift, ms).

The paper's SRWT set is closed (industrial data, arXiv 2305.11013); evaluate_srwt.py names it
`industrial_srwt` and reads `industrial_srwt_eval.jsonl`. Any manifest whose `gt` holds
timestamped words works, e.g.
`{"audio": "001001.wav", "gt": "<|0.00|><|sil|><|0.54|>面<|0.86|>条<|1.17|>", "source": "aishell2"}`
(QwenLM/Qwen-Audio eval_audio/EVALUATION.md). The spoken language comes from the row's `lang`
field, else from the reference text (CJK characters -> "zh", otherwise "en").
There is no public release to prepare from, so this task has no `prepare`.
"""

from __future__ import annotations

from qa_eval.task import TaskSpec
from qa_eval.task_families import srwt_intent

SOURCE = "industrial_srwt"


SRWT = TaskSpec(
    name="srwt",
    description="Speech recognition with word-level timestamps (AAS, ms)",
    version="1",
    scorer="srwt",
    max_new_tokens=256,
    sources=(SOURCE,),
    intent=srwt_intent(),
    paper={SOURCE: {"aas_ms": 51.5}},
    manifest_name="industrial_srwt_eval.jsonl",
    family="srwt",
)
