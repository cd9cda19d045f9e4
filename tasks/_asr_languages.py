"""Multilingual ASR releases whose languages are tasks of their own (Common Voice 15, FLEURS).

The Qwen2-Audio eval lists of such a release are one file per language, and the official
evaluate_asr.py takes the language from its table of lists (a row gives it only audio, prompt, gt
and source), so each language is a task (`<dataset>-<lang>`) that says its language: the prompt's
language tag and the scorer's normalisation for rows without a `lang` field (`wer-normalized`:
per character for zh and yue, traditional -> simplified for yue). A plugin module declares its languages as a table of
ReleaseLanguage and builds its tasks with `language_task`; `language_split` picks one split of
one language in the release folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qa_eval.errors import ConfigError
from qa_eval.intent import LANGUAGE_NAMES
from qa_eval.prepare import PrepareReport
from qa_eval.task import TaskSpec
from qa_eval.task_families import asr_intent
from tasks._common import missing_split, pick_split

REPORTED_SPLIT = "test"  # the split the Qwen2-Audio report's numbers are of


@dataclass(frozen=True)
class ReleaseLanguage:
    code: str          # the prompt's and the scorer's language ("yue")
    folder: str        # the release's folder of that language ("zh-CN", "cmn_hans_cn")
    report_wer: float  # the Qwen2-Audio report's WER on the test split (fraction)


def source_name(dataset: str, lang: str, split: str) -> str:
    """The source of one split of one language: ("cv15", "yue", "test") -> "cv15_yue_test"."""
    return f"{dataset}_{lang}_{split}"


def language_split(raw: Path, dataset: str, language: ReleaseLanguage, split: str | None,
                   splits: tuple[str, ...]) -> tuple[Path, str, str]:
    """(the split's TSV `<folder>/<split>.tsv`, split name, source); `split` defaults to the
    reported one. `raw` is the language's folder or any folder above it. ConfigError listing the
    language folders present when the language's is missing, the splits present when the TSV is."""
    choices = {name: source_name(dataset, language.code, name) for name in splits}
    ((name, source),) = pick_split(split or REPORTED_SPLIT, choices, f"{dataset}-{language.code}").items()
    folders = [raw] if raw.name == language.folder else sorted(p for p in raw.rglob(language.folder) if p.is_dir())
    if not folders:
        present = sorted({p.parent.name for p in raw.rglob(f"{name}.tsv")})
        raise ConfigError(f"{raw}: no folder {language.folder}/ (the {LANGUAGE_NAMES[language.code]} part of "
                          f"the release); language folders present: {', '.join(present) or 'none'}")
    tsv = next((d / f"{name}.tsv" for d in folders if (d / f"{name}.tsv").is_file()), None)
    if tsv is None:
        present = (p.stem for d in folders for p in d.glob("*.tsv"))
        raise missing_split(raw, f"{language.folder}/{name}.tsv", present)
    return tsv, name, source


def language_task(dataset: str, title: str, language: ReleaseLanguage, splits: tuple[str, ...],
                  prepare: Callable[[Path, Path, str | None], PrepareReport], gt_column: str) -> TaskSpec:
    """The ASR task of one language: `<dataset>-<lang>`, one source per split, the report's WER
    on the test split, the official list `<dataset>_asr_<lang>_eval.jsonl`."""
    code = language.code
    return TaskSpec(
        name=f"{dataset}-{code}",
        description=f"{title} {LANGUAGE_NAMES[code]} ASR (WER, Qwen2-Audio normalisation), {'/'.join(splits)}",
        version="1",
        scorer="wer-normalized",
        max_new_tokens=256,
        sources=tuple(source_name(dataset, code, split) for split in splits),
        intent=asr_intent(code),
        paper={source_name(dataset, code, REPORTED_SPLIT): {"wer": language.report_wer}},
        manifest_name=f"{dataset}_asr_{code}_eval.jsonl",
        scorer_options={"lang": code},
        prepare=prepare,
        hf_columns={"audio": "audio", "gt": gt_column},
        family="asr",
    )
