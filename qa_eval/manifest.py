"""Manifests -> Samples.

Two sources: JSON-lines manifests in the official Qwen-Audio shape
(`{"audio": "x.flac", "gt": "...", "source": "librispeech_test_clean", ...}`, loaded unchanged),
and Hugging Face `datasets` (a local folder saved with `save_to_disk`, a local data folder, or a
hub id where a hub is reachable). Relative audio paths resolve against `data_root` when given,
else against the manifest's own folder. `canonical_sources` renames sources to the task's
declared spelling.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from qa_eval.audio import probe_duration
from qa_eval.errors import AudioError, ManifestError, PrerequisiteError
from qa_eval.records import Sample, reference_value

if TYPE_CHECKING:
    from qa_eval.task import TaskSpec

# Manifest fields that are not task fields.
_CORE_FIELDS = ("audio", "gt", "source", "id")


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def load_manifest(
    path: str | Path, data_root: str | Path | None = None, default_source: str | None = None
) -> list[Sample]:
    """Read a JSONL manifest. Errors name the file and line; duplicate ids are refused."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found")
    base = Path(data_root) if data_root is not None else path.parent
    rows = []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            where = f"{path}:{lineno}"
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ManifestError(f"{where}: not valid JSON ({exc.msg})") from None
            if not isinstance(row, dict):
                raise ManifestError(f"{where}: expected a JSON object")
            rows.append((where, lineno, row))
    return samples_from_rows(rows, base, default_source)


def samples_from_rows(
    rows: Iterable[tuple[str, int, Mapping[str, Any]]], base: Path, default_source: str | None
) -> list[Sample]:
    """Validate manifest rows (where, index, row) and turn them into Samples."""
    samples: list[Sample] = []
    seen: dict[str, str] = {}
    for where, index, row in rows:
        for key in ("audio", "gt"):
            if key not in row:
                raise ManifestError(f"{where}: field '{key}' missing")
        audio = row["audio"]
        audio_list = audio if isinstance(audio, list) else [audio]
        if not audio_list or not all(isinstance(a, str) and a for a in audio_list):
            raise ManifestError(f"{where}: 'audio' must be a path or a list of paths")
        gt = reference_value(row["gt"], "gt", where, ManifestError)
        source = row.get("source", default_source)
        if not isinstance(source, str) or not source:
            raise ManifestError(f"{where}: field 'source' missing and the task has no default")
        paths = tuple(str(_resolve(base, a)) for a in audio_list)
        sample_id = str(row["id"]) if row.get("id") is not None else f"{index:06d}:{audio_list[0]}"
        if sample_id in seen:
            raise ManifestError(f"{where}: duplicate id {sample_id!r} (first at {seen[sample_id]})")
        seen[sample_id] = where
        duration, error = _probe(paths)
        fields = {k: v for k, v in row.items() if k not in _CORE_FIELDS}
        samples.append(Sample(sample_id, source, paths, gt, fields, duration, error))
    return samples


def canonical_sources(samples: list[Sample], task: "TaskSpec") -> list[Sample]:
    """Each sample's source as the task declares it (TaskSpec.canonical_source), the manifest's
    own spelling kept in fields["source_as_given"] where it differs. Sources that match none are
    kept as given (they run and are scored as their own rows) with one warning. ManifestError,
    before any model work, when a source's references show another task's data
    (TaskSpec.check_references); never for a source name alone."""
    task.check_references(((s.source, f"sample {s.id!r}", s.reference) for s in samples),
                          "manifest samples", ManifestError)
    names = task.source_names((s.source for s in samples), "manifest samples")
    return [s if names[s.source] == s.source else
            replace(s, source=names[s.source], fields={**s.fields, "source_as_given": s.source})
            for s in samples]


def _resolve(base: Path, audio: str) -> Path:
    p = Path(audio).expanduser()
    return p if p.is_absolute() else (base / p)


def _probe(paths: tuple[str, ...]) -> tuple[float | None, str | None]:
    """Total duration of a sample's audios, or the error that prevents reading one."""
    total = 0.0
    for p in paths:
        try:
            total += probe_duration(p)
        except AudioError as exc:
            return None, str(exc)
    return total, None


def load_hf_dataset(
    name_or_path: str,
    split: str,
    cache_dir: Path,
    audio_column: str = "audio",
    gt_column: str = "text",
    source: str | None = None,
    extra_columns: Mapping[str, str] | None = None,
) -> list[Sample]:
    """Samples from a Hugging Face dataset (local `save_to_disk` folder, local files, or hub id).

    Audio is read undecoded (bytes or path) and written once under `cache_dir` so that the run
    loop decodes it like any file; datasets' own decoder is not used.
    """
    try:
        import datasets
    except ImportError:
        raise PrerequisiteError("Hugging Face datasets is not installed: pip install 'qa-eval[datasets]'") from None
    p = Path(name_or_path)
    try:
        if (p / "dataset_info.json").is_file() or (p / "state.json").is_file():
            ds = datasets.load_from_disk(str(p))
        elif (p / "dataset_dict.json").is_file():
            ds = datasets.load_from_disk(str(p))[split]
        else:
            ds = datasets.load_dataset(name_or_path, split=split)
    except Exception as exc:
        raise ManifestError(f"{name_or_path}: cannot load dataset split {split!r}: {exc}") from None
    if isinstance(ds, datasets.DatasetDict):
        ds = ds[split]
    for col in (audio_column, gt_column):
        if col not in ds.column_names:
            raise ManifestError(f"{name_or_path}: column {col!r} missing (has {ds.column_names})")
    ds = ds.cast_column(audio_column, datasets.Audio(decode=False))
    cache_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, row in enumerate(ds):
        where = f"{name_or_path}[{split}][{i}]"
        manifest_row: dict[str, Any] = {
            "audio": _materialize(row[audio_column], cache_dir, where),
            "gt": row[gt_column],
            "source": source or f"{Path(name_or_path).name}_{split}",
        }
        for field_name, col in (extra_columns or {}).items():
            manifest_row[field_name] = row[col]
        if "id" in row:
            manifest_row["id"] = row["id"]
        rows.append((where, i, manifest_row))
    return samples_from_rows(rows, cache_dir, source)


def _materialize(audio: Mapping[str, Any], cache_dir: Path, where: str) -> str:
    """An undecoded datasets Audio value -> a file path on disk."""
    data, path = audio.get("bytes"), audio.get("path")
    if data:
        suffix = Path(path).suffix if path else ".wav"
        digest = hashlib.sha256(data).hexdigest()[:24]
        out = cache_dir / f"{digest}{suffix}"
        if not out.exists():
            tmp = out.with_suffix(out.suffix + ".tmp")
            with io.open(tmp, "wb") as f:
                f.write(data)
            tmp.replace(out)
        return str(out)
    if path:
        return str(path)
    raise ManifestError(f"{where}: audio value has neither bytes nor path")
