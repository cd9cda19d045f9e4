"""Hugging Face `datasets` as manifest rows: the one reader behind `qa-eval run --hf-dataset` and
`qa-eval data prepare TASK --from HF_FOLDER`.

A dataset is a local `save_to_disk` folder (a Dataset or a DatasetDict), a local data folder, or
a hub id where a hub is reachable (`--hf-config` names its configuration). The task's
`hf_columns` say which columns hold the audio, the reference and task fields (default: `audio`
and `text`). Audio is read undecoded and written once, by content hash, into an audio folder as
an absolute path, so the run decodes it like any file whatever the working directory.

Which source the rows are: a `source` column when the task maps one, else `--hf-source`, else
the task source that the configuration and split name (`clean` + `test` -> librispeech's
`librispeech_test_clean`), else the task's only source, else `<dataset>_<split>` (scored as its
own row, with a warning).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterator, Mapping

from qa_eval.errors import ConfigError, ManifestError, PrerequisiteError
from qa_eval.task import TaskSpec

DEFAULT_COLUMNS = {"audio": "audio", "gt": "text"}
SAVED_MARKERS = ("dataset_info.json", "state.json", "dataset_dict.json")


def _datasets():
    try:
        import datasets
    except ImportError:
        raise PrerequisiteError("Hugging Face datasets is not installed: pip install 'qa-eval[datasets]'") from None
    return datasets


def is_saved_dataset(path: Path) -> bool:
    return any((Path(path) / name).is_file() for name in SAVED_MARKERS)


def open_split(name_or_path: str, split: str | None, config: str | None = None) -> tuple[Any, str | None]:
    """(the dataset split, its split name). `split` None: a folder holding one Dataset, or a
    DatasetDict with exactly one split. Errors list the splits that exist."""
    datasets = _datasets()
    path = Path(name_or_path).expanduser()
    try:
        if is_saved_dataset(path):
            ds = datasets.load_from_disk(str(path))
        else:
            ds = datasets.load_dataset(name_or_path, config, split=None)
    except (OSError, ValueError, FileNotFoundError) as exc:
        raise ManifestError(f"{name_or_path}: cannot load the dataset ({type(exc).__name__}: {exc})") from None
    except Exception as exc:  # datasets raises many types (DatasetNotFoundError, ConnectionError, ...)
        raise ManifestError(f"{name_or_path}: cannot load the dataset ({type(exc).__name__}: {exc}); "
                            "pass a local folder saved with save_to_disk") from None
    if isinstance(ds, datasets.DatasetDict):
        if split is None and len(ds) == 1:
            split = next(iter(ds))
        if split not in ds:
            raise ConfigError(f"{name_or_path}: no split {split!r}; it has: {', '.join(sorted(ds))} "
                              "(choose one with --hf-split)")
        return ds[split], split
    return ds, split


def task_columns(task: TaskSpec) -> Mapping[str, str]:
    return task.hf_columns or DEFAULT_COLUMNS


def default_source(task: TaskSpec, dataset_name: str, split: str | None, config: str | None,
                   strict: bool = False) -> str:
    """The source rows without a source column are scored under (see the module docstring);
    `strict`: a ConfigError instead of a source of the dataset's own name."""
    guesses = [f"{config}_{split}", f"{split}_{config}"] if config else []
    for guess in guesses + ([split] if split else []):
        found = task.canonical_source(guess)
        if found:
            return found
    if len(task.sources) == 1:
        return task.sources[0]
    if strict:
        raise ConfigError(f"task {task.name} has several sources; pass --split SOURCE naming the one this "
                          f"datasets folder holds ({', '.join(task.sources)})")
    return f"{Path(dataset_name).name}_{split or 'all'}"


def manifest_rows(ds: Any, name: str, columns: Mapping[str, str], source: str,
                  audio_dir: Path) -> Iterator[tuple[str, int, dict[str, Any]]]:
    """(where, index, manifest row) per dataset row; audio written into `audio_dir`."""
    for key in ("audio", "gt"):
        if columns[key] not in ds.column_names:
            raise ManifestError(f"{name}: column {columns[key]!r} (the {key}) missing; "
                                f"it has {', '.join(ds.column_names)}")
    ds = ds.cast_column(columns["audio"], _datasets().Audio(decode=False))
    audio_dir = audio_dir.resolve()
    audio_dir.mkdir(parents=True, exist_ok=True)
    for i, row in enumerate(ds):
        where = f"{name}[{i}]"
        out: dict[str, Any] = {
            "audio": write_audio(row[columns["audio"]], audio_dir, where),
            "gt": list(row[columns["gt"]]) if isinstance(row[columns["gt"]], (list, tuple)) else row[columns["gt"]],
            "source": row[columns["source"]] if "source" in columns else source,
        }
        for field, col in columns.items():
            if field not in ("audio", "gt", "source"):
                out[field] = row[col]
        if "id" in row and row["id"] is not None:
            out["id"] = str(row["id"])
        yield where, i, out


def write_audio(value: Mapping[str, Any], audio_dir: Path, where: str) -> str:
    """An undecoded datasets Audio value -> an absolute file path (bytes written once by hash)."""
    data, path = value.get("bytes"), value.get("path")
    if data:
        suffix = Path(path).suffix if path else ".wav"
        out = audio_dir / f"{hashlib.sha256(data).hexdigest()[:24]}{suffix}"
        if not out.exists():
            tmp = out.with_name(out.name + ".tmp")
            tmp.write_bytes(data)
            tmp.replace(out)
        return str(out)
    if path:
        return str(Path(path).expanduser().resolve())
    raise ManifestError(f"{where}: audio value has neither bytes nor a path")


def load_hf_samples(task: TaskSpec, name_or_path: str, split: str | None, config: str | None,
                    source: str | None, audio_dir: Path) -> list:
    """The samples of one dataset split for `task` (`qa-eval run --hf-dataset`)."""
    from qa_eval.manifest import samples_from_rows

    ds, split = open_split(name_or_path, split, config)
    name = f"{name_or_path}[{split}]" if split else name_or_path
    src = source or default_source(task, name_or_path, split, config)
    return samples_from_rows(manifest_rows(ds, name, task_columns(task), src, audio_dir), audio_dir, src)
