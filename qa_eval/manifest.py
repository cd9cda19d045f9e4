"""Manifests -> Samples.

JSON-lines manifests in the official Qwen-Audio shape (`{"audio": "x.flac", "gt": "...",
"source": "librispeech_test_clean", ...}`, loaded unchanged; UTF-8, a BOM is accepted), and rows
from any other reader (`qa_eval.hf_dataset`) through `samples_from_rows`. Relative audio paths
resolve against `data_root` when given, else against the manifest's own folder. `canonical_sources` renames sources to the task's
declared spelling.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from qa_eval.audio import probe_duration
from qa_eval.errors import AudioError, ManifestError
from qa_eval.jsonl import iter_jsonl
from qa_eval.records import Sample, reference_value

if TYPE_CHECKING:
    from qa_eval.task import TaskSpec

# Manifest fields that are not task fields.
_CORE_FIELDS = ("audio", "gt", "source", "id")


def load_manifest(
    path: str | Path, data_root: str | Path | None = None, default_source: str | None = None
) -> list[Sample]:
    """Read a JSONL manifest. Errors name the file and line; duplicate ids are refused."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"{path}: manifest not found")
    base = Path(data_root) if data_root is not None else path.parent
    rows = list(iter_jsonl(path, ManifestError, "manifest"))
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
        if not (gt.strip() if isinstance(gt, str) else gt and all(r.strip() for r in gt)):
            raise ManifestError(f"{where}: 'gt' is empty; every sample needs a reference to score against")
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
