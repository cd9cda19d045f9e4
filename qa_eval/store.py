"""The prediction store: append-and-flush predictions.jsonl, run.json, metrics.json.

Crash safety: every batch is written with one `write` of whole lines, flushed and fsync'ed, so
after SIGKILL or Ctrl-C the file holds complete lines plus at most one torn last line. Opening
the store again moves a torn tail into `<file>.torn` and reports the ids already done, so a
rerun resumes.

A run folder belongs to one fingerprint (model, revision, prompts, generation settings): when
another fingerprint claims it (an explicit --out reused with other settings), the current files
are set aside as `<fingerprint[:12]>.<name>` and the claiming fingerprint's own files, set aside
earlier, come back, so its predictions are reused. Nothing is ever overwritten or truncated: a
predictions file set aside next to an earlier one of the same fingerprint is appended to it
(a resume reads the last row of an id), and a metrics.json that would be replaced goes to
`previous/`.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any, Iterable, Sequence

from qa_eval.errors import ConfigError, ScorerError
from qa_eval.jsonl import iter_jsonl
from qa_eval.records import Prediction

PREDICTIONS = "predictions.jsonl"
RUN_INFO = "run.json"
METRICS = "metrics.json"
MIN_FREE_BYTES = 50 * 1024 * 1024  # refuse to start a run with less free disk than this


def check_writable(out_dir: Path, what: str = "output folder") -> None:
    """Fail before any model loads if a folder cannot be created, written or filled."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        probe = out_dir / f".write-test-{os.getpid()}"  # one per process: ranks probe the same folder
        with open(probe, "w") as f:
            f.write("ok")
        probe.unlink()
    except OSError as exc:
        raise ConfigError(f"{what} {out_dir} is not writable: {exc.strerror or exc}") from None
    free = shutil.disk_usage(out_dir).free
    if free < MIN_FREE_BYTES:
        raise ConfigError(
            f"{what} {out_dir} has only {free // 2**20} MiB free; need at least "
            f"{MIN_FREE_BYTES // 2**20} MiB"
        )


def read_predictions(path: Path, resume: bool = False) -> list[Prediction]:
    """All rows of a predictions file; every problem is a ScorerError naming file:line.

    Strict (scoring) mode refuses duplicate ids and an empty file, and records each row's
    origin in `extra["_where"]` so that a scorer rejecting a row names the same line.
    Resume mode ignores a last line without its newline (a write cut by a crash) and allows
    an id twice (a retried failure; the last row wins when merged).
    """
    out: list[Prediction] = []
    seen: dict[str, int] = {}
    for where, lineno, row in iter_jsonl(Path(path), ScorerError, "predictions file", skip_torn_tail=resume):
        p = Prediction.from_row(row, where)
        if not resume:
            if p.id in seen:
                raise ScorerError(f"{where}: duplicate id {p.id!r} (first on line {seen[p.id]})")
            seen[p.id] = lineno
            p = replace(p, extra={**p.extra, "_where": where})
        out.append(p)
    if not out and not resume:
        raise ScorerError(f"{path}: predictions file has no rows")
    return out


def _set_torn_tail_aside(path: Path) -> None:
    """Move the bytes after the last newline (a partial line from an interrupted write) into
    `<file>.torn`, so that appends start on a line of their own and no byte is lost."""
    with open(path, "rb+") as f:
        data = f.read()
        end = data.rfind(b"\n") + 1
        if end != len(data):
            _append_bytes(path.with_name(path.name + ".torn"), data[end:] + b"\n")
            f.truncate(end)


def _append_bytes(path: Path, data: bytes) -> None:
    with open(path, "ab") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())


class PredictionStore:
    """One run folder: predictions.jsonl (or a per-rank shard) plus run.json."""

    def __init__(
        self, out_dir: Path, fingerprint: str, run_info: dict[str, Any], shard: str | None = None,
        claim: bool = True,
    ):
        """`claim`: this process owns run.json (rank 0); other ranks only write their shard."""
        self.out_dir = out_dir
        self.fingerprint = fingerprint
        self.path = out_dir / (shard or PREDICTIONS)
        if claim:
            self._claim(run_info)
        self.path.touch()
        _set_torn_tail_aside(self.path)
        self._file = open(self.path, "a", encoding="utf-8")

    def _claim(self, run_info: dict[str, Any]) -> None:
        """Make the folder this fingerprint's (module docstring)."""
        info_path = self.out_dir / RUN_INFO
        old = read_run_info(self.out_dir).get("fingerprint")
        if old == self.fingerprint:
            return
        for name in _run_files(self.out_dir):
            _keep(self.out_dir / name, self.out_dir / f"{(old or 'unknown')[:12]}.{name}")
        prefix = f"{self.fingerprint[:12]}."
        for name in sorted(os.listdir(self.out_dir)):
            if name.startswith(prefix) and _is_run_file(name[len(prefix):]):
                _keep(self.out_dir / name, self.out_dir / name[len(prefix):])
        tmp = info_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"fingerprint": self.fingerprint, **run_info}, indent=2, default=str))
        tmp.replace(info_path)

    def done(self) -> list[Prediction]:
        """Predictions already written in this folder, by any rank (for resume)."""
        return read_run_folder(self.out_dir)

    def append(self, predictions: Sequence[Prediction]) -> None:
        """Write one batch as whole lines, then flush to disk."""
        if not predictions:
            return
        self._file.write("".join(p.to_json() + "\n" for p in predictions))
        self._file.flush()
        os.fsync(self._file.fileno())

    def close(self) -> None:
        self._file.close()


def _is_run_file(name: str) -> bool:
    return name.startswith(PREDICTIONS.split(".")[0]) or name in (RUN_INFO, METRICS)


def _run_files(folder: Path) -> list[str]:
    """The names of the files of the folder's current run (predictions, shards, run.json, ...)."""
    return sorted(n for n in os.listdir(folder) if _is_run_file(n) and (folder / n).is_file())


def _keep(src: Path, dest: Path) -> None:
    """Move `src` to `dest` without losing either: predictions are appended to an existing
    `dest`, an existing metrics.json goes to previous/ first, run.json (the same fingerprint's
    identity) is replaced."""
    if dest.exists() and dest.name.endswith((".jsonl", ".torn")):
        data = src.read_bytes()
        if data and not data.endswith(b"\n"):
            data += b"\n"  # a torn last line stays a line of its own
        _append_bytes(dest, data)
        src.unlink()
        return
    if dest.exists() and dest.name.endswith(METRICS):
        _keep_previous_metrics(dest)
    src.replace(dest)


def read_run_info(folder: Path) -> dict[str, Any]:
    """A run folder's run.json (the fingerprint's inputs: task, model, checkpoint, revision, ...);
    {} when there is none or it cannot be read."""
    try:
        info = json.loads((Path(folder) / RUN_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return info if isinstance(info, dict) else {}


def shard_name(rank: int) -> str:
    return f"predictions.rank{rank}.jsonl"


def read_run_folder(out_dir: Path) -> list[Prediction]:
    """predictions.jsonl plus every rank shard (torn tails ignored), in file order."""
    files = [out_dir / PREDICTIONS] + sorted(out_dir.glob("predictions.rank*.jsonl"))
    return [p for f in files if f.is_file() for p in read_predictions(f, resume=True)]


def finalize(out_dir: Path, predictions: Sequence[Prediction]) -> Path:
    """Rewrite predictions.jsonl atomically with `predictions` (every stored one, merged by
    `merge_ordered`), then drop the rank shards they came from."""
    path = out_dir / PREDICTIONS
    tmp = path.with_suffix(".jsonl.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write("".join(p.to_json() + "\n" for p in predictions))
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)
    for shard in out_dir.glob("predictions.rank*.jsonl"):
        shard.unlink()
    return path


def write_json_atomic(path: Path, obj: Any) -> None:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


def merge_ordered(predictions: Iterable[Prediction], order: Sequence[str]) -> list[Prediction]:
    """Predictions in manifest order (last write of an id wins, none duplicated); ids that
    `order` does not list follow in the order first written (never dropped)."""
    by_id = {p.id: p for p in predictions}
    listed = set(order)
    return [by_id[i] for i in order if i in by_id] + [p for i, p in by_id.items() if i not in listed]


def write_metrics(out_dir: Path, doc: dict[str, Any]) -> Path:
    """Write the run's metrics.json. A previous metrics.json with other numbers (another
    --limit, a retried failure) is kept as previous/metrics.<its time>.json, never replaced."""
    path = out_dir / METRICS
    if path.is_file():
        try:
            old = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = None
        if not isinstance(old, dict) or old.get("per_source") != json.loads(json.dumps(doc["per_source"])):
            _keep_previous_metrics(path)
    write_json_atomic(path, doc)
    return path


def _keep_previous_metrics(path: Path) -> None:
    """Move a metrics.json into previous/ under its time (a free name: none is ever replaced)."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(path.stat().st_mtime))
    folder = path.parent / "previous"
    folder.mkdir(exist_ok=True)
    keep, n = folder / f"metrics.{stamp}.json", 1
    while keep.exists():
        keep, n = folder / f"metrics.{stamp}.{n}.json", n + 1
    path.replace(keep)
