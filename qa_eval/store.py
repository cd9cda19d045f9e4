"""The prediction store: append-and-flush predictions.jsonl, run.json, metrics.json.

Crash safety: every batch is written with one `write` of whole lines, flushed and fsync'ed, so
after SIGKILL or Ctrl-C the file holds complete lines plus at most one torn last line. Opening
the store again truncates a torn tail and reports the ids already done, so a rerun resumes.
A run folder belongs to one fingerprint (model, revision, prompts, generation settings); when
the fingerprint differs, the old files are moved aside, never mixed with the new ones.
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


def _truncate_torn_tail(path: Path) -> None:
    """Drop bytes after the last newline (a partial line from an interrupted write)."""
    with open(path, "rb+") as f:
        data = f.read()
        end = data.rfind(b"\n") + 1
        if end != len(data):
            f.truncate(end)


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
        _truncate_torn_tail(self.path)
        self._file = open(self.path, "a", encoding="utf-8")

    def _claim(self, run_info: dict[str, Any]) -> None:
        info_path = self.out_dir / RUN_INFO
        if info_path.is_file():
            old = json.loads(info_path.read_text()).get("fingerprint")
            if old == self.fingerprint:
                return
            self._move_aside(old or "unknown")
        tmp = info_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"fingerprint": self.fingerprint, **run_info}, indent=2, default=str))
        tmp.replace(info_path)

    def _move_aside(self, old_fingerprint: str) -> None:
        """Keep a previous run's files under a name carrying its fingerprint."""
        for name in os.listdir(self.out_dir):
            if name.startswith("predictions") or name in (RUN_INFO, METRICS):
                src = self.out_dir / name
                src.rename(self.out_dir / f"{old_fingerprint[:12]}.{name}")

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
            stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(path.stat().st_mtime))
            keep = out_dir / "previous" / f"metrics.{stamp}.json"
            keep.parent.mkdir(exist_ok=True)
            path.replace(keep if not keep.exists() else keep.with_name(f"metrics.{stamp}.{os.getpid()}.json"))
    write_json_atomic(path, doc)
    return path
