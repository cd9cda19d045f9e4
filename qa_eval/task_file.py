"""Task files: a task of a known family declared in TOML, without writing Python.

    name = "srwt-zh-news"                 # optional; default: the file name without .toml
    description = "Mandarin news, word timestamps (AAS, ms)"   # optional
    family = "srwt"                       # asr, translation, caption, classification, aqa,
                                          # srwt, note-analysis, multiple-choice
                                          # (qa_eval.task_families)
    version = "1"                         # optional; bump it when data or settings change
    sources = ["srwt_zh_news"]            # the source values it reports
    language = "zh"                       # family keys, below
    manifest = "srwt_zh_news.jsonl"       # optional; relative to this file
    max_new_tokens = 256                  # optional; default: the family's official budget
    scorer = "srwt"                       # optional; default: the family's first scorer
    [paper.srwt_zh_news]                  # optional reference numbers, in metrics.json units
    aas_ms = 62.0

Family keys (language: an ISO 639 code as the models spell it, "en", "zh", "yue", ...):
    asr             language (required); scorer "wer" (default) or "wer-normalized"
    translation     language (spoken, required), target_language (required)
    caption         style: "plain" (default), "clotho" or "audiocaps"; references are lists
    classification  labels (required), label_set: "scene", "emotion" or "vocal_sound"
                    (required: which prompt), language (spoken; default "unknown")
    aqa             language (of question and answer; default "en"); rows need `question`
    srwt            language (default: the row's `lang`, else guessed from the reference)
    note-analysis   (none)
    multiple-choice language (of question and options; default "en"); rows need `question` and
                    `choices` (option texts), `gt` is the right option's text; optional
                    `category`, `sub_category`, `difficulty` are scored as groups (scorer "mmau")
Any mistake (an unknown key or family, a missing or mistyped value, a bad label list, a paper
value for a source or metric the task does not have) is a ConfigError naming file and key.

Why TOML, not YAML: Python reads it with the standard library (tomllib, 3.11+; the `tomli`
package on 3.10), as pyproject.toml already is, so task files add no dependency; and its values
keep their type. YAML 1.1 loaders read `no`, `yes`, `on`, `off` as booleans and `1.10` as a
number, so the Norwegian language code or a yes/no label set would silently change meaning,
whereas every TOML string is quoted.

A tasks folder (task_files_in) holds such files; default ./qa_eval_tasks, or $QA_EVAL_TASKS_DIR.
It lives beside a project's runs (./runs is the default results folder), so running from the
project's root, as CI does, finds both; the variable points elsewhere (a shared checkout).
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from types import ModuleType
from typing import Any, Callable, Mapping

from qa_eval.errors import ConfigError, PrerequisiteError
from qa_eval.task import TaskSpec
from qa_eval.task_families import (
    CAPTION_STYLES,
    CLASSIFY_MAX_NEW_TOKENS,
    FAMILIES,
    IntentFn,
    aqa_intent,
    asr_intent,
    caption_intent,
    choice_intent,
    classify_intent,
    note_intent,
    srwt_intent,
    translation_intent,
)

TASKS_DIR_ENV = "QA_EVAL_TASKS_DIR"
DEFAULT_TASKS_DIR = "qa_eval_tasks"

# key -> required, for every family
_COMMON = {"name": False, "description": False, "version": False, "family": True, "sources": True,
           "manifest": False, "max_new_tokens": False, "scorer": False, "paper": False}
_FAMILY_KEYS: dict[str, dict[str, bool]] = {
    "asr": {"language": True},
    "translation": {"language": True, "target_language": True},
    "caption": {"style": False},
    "classification": {"labels": True, "label_set": True, "language": False},
    "aqa": {"language": False},
    "srwt": {"language": False},
    "note-analysis": {},
    "multiple-choice": {"language": False},
}
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
_LANGUAGE = re.compile(r"[a-z]{2,3}")
_FRACTIONS = {"wer", "acc", "acc_binary", "map", "instrument_acc", "pitch_acc", "velocity_acc"}


def default_tasks_dir(env: Mapping[str, str] = os.environ) -> Path:
    """$QA_EVAL_TASKS_DIR, else ./qa_eval_tasks (relative to the working directory)."""
    return Path(env.get(TASKS_DIR_ENV) or DEFAULT_TASKS_DIR)


def task_files_in(folder: Path) -> list[TaskSpec]:
    """The tasks of every `*.toml` file directly in `folder`, by file name; [] when the folder
    does not exist. A broken file, or two files declaring one name, is a ConfigError."""
    folder = Path(folder)
    if not folder.exists():
        return []
    if not folder.is_dir():
        raise ConfigError(f"{folder}: not a folder (a tasks folder holds *.toml task files)")
    seen: dict[str, Path] = {}
    tasks = []
    for path in sorted(folder.glob("*.toml")):
        task = load_task_file(path)
        if task.name in seen:
            raise ConfigError(f"{path}: task {task.name!r} is already declared by {seen[task.name]}")
        seen[task.name] = path
        tasks.append(task)
    return tasks


def load_task_file(path: str | Path) -> TaskSpec:
    """The TaskSpec a task file declares (see the module docstring for its keys)."""
    path = Path(path)
    toml = _toml()
    try:
        data = toml.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the task file ({exc.strerror or exc})") from None
    except toml.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return _TaskFile(path, data).task()


def _toml() -> ModuleType:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        try:
            import tomli as tomllib
        except ModuleNotFoundError:
            raise PrerequisiteError("reading task files on Python 3.10 needs tomli: pip install tomli") from None
    return tomllib


class _TaskFile:
    """One parsed file; every accessor checks its key's type and names file and key on error."""

    def __init__(self, path: Path, data: Mapping[str, Any]) -> None:
        self.path, self.data = path, data

    def error(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.path}: key '{key}': {problem}")

    def string(self, key: str, default: str | None = None) -> str | None:
        value = self.data.get(key, default)
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise self.error(key, f"expected a non-empty string, got {value!r}")
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str | None = None) -> str:
        value = self.string(key, default)
        if value is None:
            raise self.error(key, f"missing; choose one of {', '.join(choices)}")
        if value not in choices:
            raise self.error(key, f"expected one of {', '.join(choices)}, got {value!r}")
        return value

    def language(self, key: str, default: str | None = None) -> str | None:
        value = self.string(key)
        if value is None:
            return default
        if not _LANGUAGE.fullmatch(value):
            raise self.error(key, f"expected a language code such as \"en\" or \"zh\", got {value!r}")
        return value

    def strings(self, key: str) -> tuple[str, ...]:
        """A non-empty list of distinct strings without surrounding spaces."""
        value = self.data.get(key)
        if not isinstance(value, list) or not value:
            raise self.error(key, f"expected a non-empty list of strings, got {value!r}")
        for item in value:
            if not isinstance(item, str) or not item or item != item.strip():
                raise self.error(key, f"{item!r} is not a non-empty string without surrounding spaces")
        duplicates = sorted({item for item in value if value.count(item) > 1})
        if duplicates:
            raise self.error(key, f"listed twice: {duplicates}")
        return tuple(value)

    def version(self) -> str:
        value = self.data.get("version", "1")
        if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
            return str(value)
        return self.string("version", "1")

    def positive_int(self, key: str, default: int) -> int:
        value = self.data.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.error(key, f"expected a positive integer, got {value!r}")
        return value

    def task(self) -> TaskSpec:
        family = self.choice("family", tuple(FAMILIES))
        keys = {**_COMMON, **_FAMILY_KEYS[family]}
        unknown = sorted(set(self.data) - set(keys))
        if unknown:
            raise ConfigError(f"{self.path}: unknown key(s) {', '.join(map(repr, unknown))} for a {family} "
                              f"task file (valid: {', '.join(keys)})")
        missing = [k for k, required in keys.items() if required and k not in self.data]
        if missing:
            raise ConfigError(f"{self.path}: missing key(s) {', '.join(map(repr, missing))} "
                              f"(a {family} task file needs them)")
        intent, options, labels, budget = _FAMILY_BUILDERS[family](self)
        scorer = self.choice("scorer", FAMILIES[family].scorers, FAMILIES[family].scorers[0])
        sources = self.strings("sources")
        name = self.string("name", self.path.stem)
        if not _NAME.fullmatch(name):
            raise self.error("name", f"{name!r}: use letters, digits, '.', '_' and '-' (no spaces or '/')")
        manifest = self.string("manifest")
        return TaskSpec(
            name=name,
            description=self.string("description", f"{family} task ({self.path.name})"),
            version=self.version(),
            scorer=scorer,
            max_new_tokens=self.positive_int("max_new_tokens", budget),
            sources=sources,
            intent=intent,
            paper=self.paper(sources, scorer),
            labels=labels,
            manifest=str(self.path.absolute().parent / Path(manifest).expanduser()) if manifest else None,
            scorer_options=options,
            family=family,
            origin=str(self.path),
        )

    def paper(self, sources: tuple[str, ...], scorer: str) -> dict[str, dict[str, float]]:
        """[paper.SOURCE] tables of metric = number, for declared sources and the scorer's metrics."""
        from qa_eval import registry  # the scorer says which metrics it reports

        table = self.data.get("paper", {})
        if not isinstance(table, dict):
            raise self.error("paper", "expected tables [paper.SOURCE] of metric = number")
        metrics = set(registry.load("scorer", scorer).higher_is_better)
        paper: dict[str, dict[str, float]] = {}
        for source, values in table.items():
            key = f"paper.{source}"
            if source not in sources:
                raise self.error(key, f"source {source!r} is not declared in 'sources' ({', '.join(sources)})")
            if not isinstance(values, dict) or not values:
                raise self.error(key, "expected a table of metric = number, e.g. {wer = 0.021}")
            paper[source] = {}
            for metric, value in values.items():
                if metric not in metrics:
                    raise self.error(f"{key}.{metric}", f"scorer {scorer!r} reports no such metric "
                                                        f"(it reports {', '.join(sorted(metrics))})")
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    raise self.error(f"{key}.{metric}", f"expected a number, got {value!r}")
                if metric in _FRACTIONS and not 0 <= value <= 1:
                    raise self.error(f"{key}.{metric}", f"{metric} is a fraction (0.021 for 2.1 %), got {value}")
                paper[source][metric] = float(value)
        return paper


# family -> (intent, scorer options, labels, default max_new_tokens), read from a task file
_Built = tuple[IntentFn, dict[str, Any], "tuple[str, ...] | None", int]


def _asr(f: _TaskFile) -> _Built:
    lang = f.language("language")
    return asr_intent(lang), {"lang": lang}, None, FAMILIES["asr"].max_new_tokens


def _translation(f: _TaskFile) -> _Built:
    src, tgt = f.language("language"), f.language("target_language")
    if src == tgt:
        raise f.error("target_language", f"must differ from the spoken language ({src!r})")
    return translation_intent((src, tgt)), {"tgt_lang": tgt}, None, FAMILIES["translation"].max_new_tokens


def _caption(f: _TaskFile) -> _Built:
    style = f.choice("style", CAPTION_STYLES, "plain")
    return caption_intent(style), {}, None, FAMILIES["caption"].max_new_tokens


def _classification(f: _TaskFile) -> _Built:
    labels = f.strings("labels")
    label_set = f.choice("label_set", tuple(CLASSIFY_MAX_NEW_TOKENS))
    intent = classify_intent(label_set, f.language("language", "unknown"), labels)
    return intent, {}, labels, CLASSIFY_MAX_NEW_TOKENS[label_set]


def _aqa(f: _TaskFile) -> _Built:
    return aqa_intent(f.language("language", "en")), {}, None, FAMILIES["aqa"].max_new_tokens


def _srwt(f: _TaskFile) -> _Built:
    lang = f.language("language")
    return srwt_intent(lang), ({"lang": lang} if lang else {}), None, FAMILIES["srwt"].max_new_tokens


def _note(f: _TaskFile) -> _Built:
    return note_intent(), {}, None, FAMILIES["note-analysis"].max_new_tokens


def _multiple_choice(f: _TaskFile) -> _Built:
    return choice_intent(f.language("language", "en")), {}, None, FAMILIES["multiple-choice"].max_new_tokens


_FAMILY_BUILDERS: dict[str, Callable[[_TaskFile], _Built]] = {
    "asr": _asr,
    "translation": _translation,
    "caption": _caption,
    "classification": _classification,
    "aqa": _aqa,
    "srwt": _srwt,
    "note-analysis": _note,
    "multiple-choice": _multiple_choice,
}


def find_task(name: str, folder: Path | None = None) -> TaskSpec:
    """The installed task `name`, else the task file of that name in the tasks folder
    (`default_tasks_dir()`); installed tasks win (`qa-eval tasks` marks a file that clashes)."""
    from qa_eval import registry
    from qa_eval.errors import RegistryError

    if name in registry.names("task"):
        return registry.load("task", name)
    folder = folder or default_tasks_dir()
    files = {t.name: t for t in task_files_in(folder)}
    if name in files:
        return files[name]
    try:
        return registry.load("task", name)  # raises with suggestions
    except RegistryError as exc:
        extra = f" Task files in {folder}: {', '.join(sorted(files))}." if files else ""
        raise RegistryError(f"{exc}{extra}") from None
