"""Data preparation: a dataset's public release layout -> a manifest in the official shape.

`qa-eval data prepare TASK --from RAW_DIR --out MANIFEST` calls `prepare()`, which hands the work
to the task's own `prepare` function (declared on its TaskSpec, living beside the task in
`tasks/<family>.py`). Every task writes JSON lines shaped like the official Qwen-Audio eval lists
(`{"audio": ..., "gt": ..., "source": ..., plus task fields}`), so the manifest loader treats a
prepared manifest and an official list alike. Audio paths are written relative to the
manifest's folder when the audio lies below it, absolute otherwise.

A RAW_DIR that is a local Hugging Face `datasets` folder (`save_to_disk` output) is read by
`qa_eval.hf_dataset`, the reader `qa-eval run --hf-dataset` uses, honouring the task's
`hf_columns`; its audio is written once next to the manifest.

A task's `prepare` walks the release and yields a `Row` per usable item and a `Skip` (reason,
where) per unusable one; `write_manifest` writes the rows in order and counts the skips. Each
skipped item is counted under its reason; the report names counts per source and per reason.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa_eval.errors import ConfigError, ManifestError


@dataclass
class PrepareReport:
    """What a preparation found: rows written per source, items skipped per reason."""

    task: str
    out: Path
    written: Counter = field(default_factory=Counter)  # source -> rows written
    skipped: Counter = field(default_factory=Counter)  # reason -> items skipped
    examples: dict[str, str] = field(default_factory=dict)  # reason -> first item it hit

    @property
    def n_written(self) -> int:
        return sum(self.written.values())

    @property
    def n_skipped(self) -> int:
        return sum(self.skipped.values())

    def __str__(self) -> str:
        lines = [f"{self.task}: wrote {self.n_written} rows to {self.out}"]
        lines += [f"  {src}: {n}" for src, n in sorted(self.written.items())]
        if self.skipped:
            lines.append(f"skipped {self.n_skipped}:")
            lines += [
                f"  {n} x {reason} (e.g. {self.examples[reason]})"
                for reason, n in self.skipped.most_common()
            ]
        return "\n".join(lines)


class ManifestWriter:
    """Collects manifest rows and skip reasons; `close()` writes the file (sorted as added)."""

    def __init__(self, task: str, out: Path) -> None:
        self.out = Path(out)
        self.base = self.out.resolve().parent
        self.report = PrepareReport(task, self.out)
        self._rows: list[dict[str, Any]] = []

    def audio_path(self, path: Path) -> str:
        """`path` relative to the manifest's folder when below it, else absolute."""
        p = Path(path).resolve()
        try:
            return p.relative_to(self.base).as_posix()
        except ValueError:
            return p.as_posix()

    def add(self, audio: Path | str, gt: str | list[str], source: str, **fields: Any) -> None:
        row: dict[str, Any] = {
            "audio": self.audio_path(Path(audio)) if isinstance(audio, Path) else audio,
            "gt": gt,
            "source": source,
        }
        row.update(fields)
        self._rows.append(row)
        self.report.written[source] += 1

    def skip(self, reason: str, where: object) -> None:
        self.report.skipped[reason] += 1
        self.report.examples.setdefault(reason, str(where))

    def close(self) -> PrepareReport:
        if not self._rows:
            detail = f" ({self.report.n_skipped} skipped: {dict(self.report.skipped)})" if self.report.skipped else ""
            raise ManifestError(f"{self.report.task}: found no usable items{detail}")
        self.out.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.out.with_name(self.out.name + ".tmp")
        with open(tmp, "w", encoding="utf-8") as f:
            for row in self._rows:
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        os.replace(tmp, self.out)
        return self.report


@dataclass(frozen=True)
class Row:
    """A usable item: one manifest row (audio, reference, source, then the task's own fields)."""

    audio: Path | str
    gt: str | list[str]
    source: str
    fields: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Skip:
    """An unusable item: why (counted per reason) and where (the first one is shown per reason)."""

    reason: str
    where: object


def write_manifest(task: str, out: Path, items: Iterable[Row | Skip]) -> PrepareReport:
    """Write the rows among `items` to `out` in their order and count the skips.

    Raises ManifestError (naming the skip reasons) when `items` holds no row.
    """
    writer = ManifestWriter(task, out)
    for item in items:
        if isinstance(item, Skip):
            writer.skip(item.reason, item.where)
        else:
            writer.add(item.audio, item.gt, item.source, **item.fields)
    return writer.close()


def require_dir(path: Path, what: str) -> Path:
    """`path` if it is a folder, else a ConfigError naming what was expected there."""
    if not path.is_dir():
        raise ConfigError(f"{path}: not a folder ({what} expected)")
    return path


def find_one(root: Path, pattern: str, what: str) -> Path:
    """The single file under `root` matching a glob pattern (searched recursively)."""
    hits = sorted(root.rglob(pattern))
    if not hits:
        raise ConfigError(f"{root}: no {pattern} found ({what})")
    return hits[0]


def prepare_hf_dataset(task: Any, raw: Path, out: Path, split: str | None, config: str | None) -> PrepareReport:
    """A local `datasets` folder -> manifest, through the reader `qa-eval run --hf-dataset` uses.

    `split` names the datasets split, or (for a folder holding one split of a task with several
    sources) the task source it is; its audio is written once beside the manifest."""
    from qa_eval.hf_dataset import default_source, manifest_rows, open_split, task_columns

    source = task.canonical_source(split) if split else None
    ds, hf_split = open_split(str(raw), None if source else split, config)
    if "source" not in task_columns(task):
        source = source or default_source(task, str(raw), hf_split, config, strict=True)
    audio_dir = Path(out).with_name(Path(out).stem + "_audio")
    rows = manifest_rows(ds, str(raw), task_columns(task), source, audio_dir)
    return write_manifest(task.name, out, (_hf_item(where, row) for where, _, row in rows))


def _hf_item(where: str, row: dict[str, Any]) -> Row | Skip:
    if not row["gt"]:
        return Skip("empty reference", where)
    extra = {k: v for k, v in row.items() if k not in ("audio", "gt", "source")}
    return Row(Path(row["audio"]), row["gt"], row["source"], extra)


def prepare(task_name: str, raw_dir: Path, out: Path, split: str | None = None,
            hf_config: str | None = None) -> PrepareReport:
    """Build the manifest of task `task_name` from `raw_dir` (a public release, or a datasets folder)."""
    from qa_eval import registry  # the registry imports task modules lazily
    from qa_eval.hf_dataset import is_saved_dataset

    task = registry.load("task", task_name)
    raw_dir = Path(raw_dir)
    if not raw_dir.exists():
        raise ConfigError(f"{raw_dir}: no such folder")
    if is_saved_dataset(raw_dir):
        return prepare_hf_dataset(task, raw_dir, Path(out), split, hf_config)
    if task.prepare is None:
        raise ConfigError(f"task {task_name}: no data preparation is available; pass an official manifest")
    return task.prepare(raw_dir, Path(out), split)
