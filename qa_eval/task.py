"""TaskSpec: what a task plugin declares (data, splits, scorer, prompt intent, paper numbers).

A task plugin is a module under `tasks/` exposing TaskSpec objects, registered through the
`qa_eval.tasks` entry-point group. Tasks never import torch, an adapter or a scorer: they name
the scorer by its registry name and describe their prompt as a PromptIntent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from qa_eval.errors import ConfigError
from qa_eval.intent import PromptIntent
from qa_eval.records import Sample


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """One benchmark.

    name:            registry name (`qa-eval run --task NAME`).
    description:     one line for `qa-eval tasks`.
    version:         bumped whenever prompt, data handling or scoring changes.
    scorer:          registry name of the scorer (`qa_eval.scorers` group).
    max_new_tokens:  generation budget, as the official eval scripts use.
    sources:         the splits (`source` values) this task reports.
    intent:          sample -> PromptIntent (may read sample.fields, e.g. the question).
    paper:           source -> metric -> the Qwen-Audio paper's number (same units as ours).
    labels:          the closed label set, when there is one.
    manifest:        default manifest path (a bundled one, or None: the user passes --manifest).
    manifest_name:   file name of the official Qwen-Audio eval list, looked up under --data-root.
    scorer_options:  keyword options passed to the scorer (e.g. {"lang": "zh"}).
    prepare:         (raw_dir, out_manifest, split | None) -> qa_eval.prepare.PrepareReport:
                     builds a manifest in the official shape from the dataset's public release
                     layout (`qa-eval data prepare`); None when the task has no public release.
    hf_columns:      manifest field -> column of a Hugging Face dataset holding it ("audio",
                     "gt", optionally "source" and task fields such as "question"); empty when
                     no datasets layout is supported.
    """

    name: str
    description: str
    version: str
    scorer: str
    max_new_tokens: int
    sources: tuple[str, ...]
    intent: Callable[[Sample], PromptIntent]
    paper: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    labels: tuple[str, ...] | None = None
    manifest: str | None = None
    manifest_name: str | None = None
    scorer_options: Mapping[str, object] = field(default_factory=dict)
    prepare: Callable[[Path, Path, "str | None"], Any] | None = None
    hf_columns: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ConfigError(f"task {self.name}: max_new_tokens must be >= 1")
        if not self.sources:
            raise ConfigError(f"task {self.name}: declares no sources")
        unknown = set(self.paper) - set(self.sources)
        if unknown:
            raise ConfigError(f"task {self.name}: paper numbers for undeclared sources {sorted(unknown)}")
        if self.hf_columns and not {"audio", "gt"} <= set(self.hf_columns):
            raise ConfigError(f"task {self.name}: hf_columns must map 'audio' and 'gt'")
