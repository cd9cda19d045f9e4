"""Data preparation: a dataset's public release layout -> a manifest in the official shape.

`qa-eval data prepare TASK --from RAW_DIR --out MANIFEST` calls `prepare()`, which hands the work
to the task's own `prepare` function (declared on its TaskSpec, living beside the task in
`tasks/<family>.py`). Every task writes JSON lines shaped like the official Qwen-Audio eval lists
(`{"audio": ..., "gt": ..., "source": ..., plus task fields}`), so the manifest loader treats a
prepared manifest and an official list alike. Audio paths are written relative to the
manifest's folder when the audio lies below it, absolute otherwise.

A RAW_DIR that is a local Hugging Face `datasets` folder (`save_to_disk` output) is accepted for
every task that declares `hf_columns`; its audio is written once next to the manifest.

A task's `prepare` walks the release and yields a `Row` per usable item and a `Skip` (reason,
where) per unusable one; `write_manifest` writes the rows in order and counts the skips. Each
skipped item is counted under its reason; the report names counts per source and per reason.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from qa_eval.errors import ConfigError, ManifestError, PrerequisiteError


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


def is_hf_dataset_dir(path: Path) -> bool:
    return any((path / name).is_file() for name in ("dataset_info.json", "state.json", "dataset_dict.json"))


def prepare_hf_dataset(
    task: str,
    raw: Path,
    out: Path,
    columns: Mapping[str, str],
    split: str | None,
    default_source: str,
) -> PrepareReport:
    """A local `datasets` folder -> manifest. `columns` maps manifest fields to dataset columns.

    `columns["audio"]` and `columns["gt"]` are required; `columns.get("source")`, when given,
    names a column holding the source, else every row gets `default_source`. Other entries
    copy columns into same-named manifest fields (e.g. {"question": "QuestionText"}).
    """
    try:
        import datasets
    except ImportError:
        raise PrerequisiteError("Hugging Face datasets is not installed: pip install 'qa-eval[datasets]'") from None
    ds = datasets.load_from_disk(str(raw))
    if isinstance(ds, datasets.DatasetDict):
        if split is None:
            if len(ds) != 1:
                raise ConfigError(f"{raw}: holds splits {sorted(ds)}; pass --split")
            split = next(iter(ds))
        if split not in ds:
            raise ConfigError(f"{raw}: no split {split!r} (has {sorted(ds)})")
        ds = ds[split]
    for name in ("audio", "gt"):
        if columns.get(name) not in ds.column_names:
            raise ManifestError(f"{raw}: column {columns.get(name)!r} for {name!r} missing (has {ds.column_names})")
    ds = ds.cast_column(columns["audio"], datasets.Audio(decode=False))
    audio_dir = Path(out).with_name(Path(out).stem + "_audio")
    audio_dir.mkdir(parents=True, exist_ok=True)
    return write_manifest(task, out, _hf_items(ds, raw, columns, default_source, audio_dir))


def _hf_items(
    ds: Any, raw: Path, columns: Mapping[str, str], default_source: str, audio_dir: Path
) -> Iterator[Row | Skip]:
    """One Row or Skip per dataset row; audio stored as bytes is written once into `audio_dir`."""
    for i, row in enumerate(ds):
        gt = row[columns["gt"]]
        if not gt:
            yield Skip("empty reference", f"{raw}[{i}]")
            continue
        audio = _write_audio(row[columns["audio"]], audio_dir)
        if audio is None:
            yield Skip("audio has neither bytes nor an existing path", f"{raw}[{i}]")
            continue
        source = row[columns["source"]] if "source" in columns else default_source
        extra = {k: row[c] for k, c in columns.items() if k not in ("audio", "gt", "source")}
        yield Row(audio, list(gt) if isinstance(gt, (list, tuple)) else gt, source, extra)


def _write_audio(value: Mapping[str, Any], audio_dir: Path) -> Path | None:
    data, path = value.get("bytes"), value.get("path")
    if data:
        suffix = Path(path).suffix if path else ".wav"
        dest = audio_dir / f"{hashlib.sha256(data).hexdigest()[:24]}{suffix}"
        if not dest.exists():
            dest.write_bytes(data)
        return dest
    if path and Path(path).is_file():
        return Path(path)
    return None


def _hf_source(task: Any, split: str | None) -> tuple[str, str | None]:
    """(source for every row, datasets split) for a datasets folder without a source column.

    A one-source task uses its source and `split` names the datasets split. A task with several
    sources needs `split` to name one of them (the folder then holds exactly that split).
    """
    if "source" in task.hf_columns or len(task.sources) == 1:
        return task.sources[0], split
    if split in task.sources:
        return split, None
    raise ConfigError(
        f"task {task.name} has several sources; pass --split SOURCE naming the one this datasets "
        f"folder holds ({', '.join(task.sources)})"
    )


def prepare(task_name: str, raw_dir: Path, out: Path, split: str | None = None) -> PrepareReport:
    """Build the manifest of task `task_name` from `raw_dir` (a public release, or a datasets folder)."""
    from qa_eval import registry  # the registry imports task modules lazily

    task = registry.load("task", task_name)
    raw_dir = Path(raw_dir)
    if not raw_dir.exists():
        raise ConfigError(f"{raw_dir}: no such folder")
    if is_hf_dataset_dir(raw_dir):
        if not task.hf_columns:
            raise ConfigError(f"task {task_name}: reading a datasets folder is not supported (no hf_columns)")
        source, hf_split = _hf_source(task, split)
        return prepare_hf_dataset(task_name, raw_dir, Path(out), task.hf_columns, hf_split, source)
    if task.prepare is None:
        raise ConfigError(f"task {task_name}: no data preparation is available; pass an official manifest")
    return task.prepare(raw_dir, Path(out), split)
