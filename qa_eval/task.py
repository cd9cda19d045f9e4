"""TaskSpec: what a task plugin declares (data, splits, scorer, prompt intent, paper numbers).

A task plugin is a module under `tasks/` exposing TaskSpec objects, registered through the
`qa_eval.tasks` entry-point group. Tasks never import torch, an adapter or a scorer: they name
the scorer by its registry name and describe their prompt as a PromptIntent.
"""

from __future__ import annotations

import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

from qa_eval import task_families
from qa_eval.errors import ConfigError, QaEvalError
from qa_eval.intent import PromptIntent
from qa_eval.records import Reference, Sample

# Words that name no split: ignored when source names are compared (see canonical_source).
GENERIC_SOURCE_WORDS = frozenset({"test", "eval", "evaluation", "set", "split"})
_WORDS = re.compile(r"[^\W\d_]+|\d+")  # runs of letters, runs of digits


class UnknownSourceWarning(UserWarning):
    """Samples or predictions carry sources that match none of the task's declared sources.

    Its message is one line, meant to be shown as `qa-eval: warning: MESSAGE` (no file, no
    line of code): those sources run and are scored as their own rows, without a paper value.
    """


@dataclass(frozen=True, slots=True)
class TaskSpec:
    """One benchmark.

    name:            registry name (`qa-eval run --task NAME`).
    description:     one line for `qa-eval tasks`.
    version:         bumped whenever prompt, data handling or scoring changes.
    scorer:          registry name of the scorer (`qa_eval.scorers` group).
    max_new_tokens:  generation budget, as the official eval scripts use.
    sources:         the splits (`source` values) this task reports; other spellings of them
                     are mapped by `canonical_source`.
    intent:          sample -> PromptIntent (may read sample.fields, e.g. the question).
    paper:           source -> metric -> the Qwen-Audio paper's number (same units as ours); for
                     a task that paper lacks, the Qwen2-Audio report's (cv15-*, fleurs-*).
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
    family:          its family (qa_eval.task_families.FAMILIES: "asr", "srwt", ...), whose
                     reference shape check_references expects; None: no reference check.
    origin:          the task file it was read from (qa_eval.task_file); None for a plugin.
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
    family: str | None = None
    origin: str | None = None

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
        if self.family is not None and self.family not in task_families.FAMILIES:
            raise ConfigError(f"task {self.name}: unknown family {self.family!r} "
                              f"(known: {', '.join(task_families.FAMILIES)})")

    @property
    def scorers(self) -> tuple[str, ...]:
        """The scorers that apply to this task: its family's (its own first)."""
        family_scorers = task_families.FAMILIES[self.family].scorers if self.family else ()
        return tuple(dict.fromkeys((self.scorer, *family_scorers)))

    def check_scorer(self, name: str) -> None:
        """ConfigError when scorer `name` does not apply to this task (checked before any model loads)."""
        if name not in self.scorers:
            kind = f"{self.family} tasks" if self.family else f"task {self.name}"
            raise ConfigError(f"scorer {name!r} does not apply to {kind}: use {' or '.join(self.scorers)}")

    def canonical_source(self, raw: str) -> str | None:
        """The declared source that `raw` names, or None when it names none or several.

        An exact match wins. Otherwise both names are compared as word sequences: lower-cased,
        cut into runs of letters and runs of digits (so "AISHELL-2" reads "aishell 2"), without
        the task's name and without generic words (GENERIC_SOURCE_WORDS). Order counts.
        Examples:
            librispeech: "test-clean", "LibriSpeech_test_clean", "librispeech-test-clean"
                         -> "librispeech_test_clean"; "librispeech_train" -> None
            covost2:     "CoVoST2 de-en", "covost2_de_en" -> "covost2_de_en_test" (never en_de)
            aishell2:    "AISHELL-2_iOS", "aishell2-test-ios" -> "aishell2_test_ios"
            aishell1:    "AISHELL-1", "aishell1 test" -> "aishell1_test" (nothing left but "test")
        """
        if raw in self.sources or self.sources == ("*",):
            return raw
        key = self._source_words(raw)
        found = [s for s in self.sources if self._source_words(s) == key]
        return found[0] if len(found) == 1 else None

    def _source_words(self, name: str) -> tuple[str, ...]:
        words = _WORDS.findall(name.lower())
        task = tuple(_WORDS.findall(self.name.lower()))
        out: list[str] = []
        i = 0
        while i < len(words):
            if task and tuple(words[i : i + len(task)]) == task:
                i += len(task)
                continue
            if words[i] not in GENERIC_SOURCE_WORDS:
                out.append(words[i])
            i += 1
        return tuple(out)

    def source_names(self, raw: Iterable[str], what: str, warn: bool = True) -> dict[str, str]:
        """raw source -> the name to report it under: its canonical_source, else itself.

        A source name alone never refuses a file (check_references looks for evidence of
        another task): sources that match none are scored as their own rows, without a paper
        value, and one UnknownSourceWarning (if `warn`) names them, on one line.
        """
        names = {r: self.canonical_source(r) for r in dict.fromkeys(raw)}
        unknown = sorted(r for r, c in names.items() if c is None)
        if unknown and warn:
            warnings.warn(
                f"task {self.name}: {what} have source(s) {unknown} that it does not declare "
                f"({', '.join(self.sources)}); they are scored as their own rows, without a paper value",
                UnknownSourceWarning,
                stacklevel=2,
            )
        return {r: c or r for r, c in names.items()}

    def check_references(
        self, rows: Iterable[tuple[str, str, Reference]], what: str, error: type[QaEvalError]
    ) -> None:
        """Refuse, with `error`, a file of another task: rows are (source, where, reference).

        Evidence is the references' shape, per source: when more than half of one source's
        references are not what the task's family expects (a list of captions for Clotho,
        timestamped words for SRWT, NSynth tags, a label of the set for a classification task
        with labels, a plain string otherwise), that source belongs to another task. A few odd
        rows are the scorer's business. Tasks without a family are not checked.
        """
        if self.family is None:
            return
        expected, fits = task_families.reference_check(self.family, self.labels)
        by_source: dict[str, list[tuple[str, Reference]]] = {}
        for source, where, reference in rows:
            by_source.setdefault(source, []).append((where, reference))
        for source, items in by_source.items():
            misfits = [(where, ref) for where, ref in items if not fits(ref)]
            if 2 * len(misfits) > len(items):
                where, ref = misfits[0]
                raise error(
                    f"{what} of source {source!r}: {len(misfits)} of {len(items)} references are not "
                    f"{expected}, as task {self.name!r} ({self.family}) expects; e.g. {where}: "
                    f"{_preview(ref)}. Is this the right task?"
                )


def _preview(ref: Reference, limit: int = 80) -> str:
    text = repr(list(ref) if isinstance(ref, tuple) else ref)
    return text if len(text) <= limit else text[: limit - 3] + "..."
