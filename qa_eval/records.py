"""The records that flow through a run: samples in, predictions out, metrics per source.

They are frozen dataclasses with explicit JSON (de)serialisation, so the on-disk formats of
docs/DESIGN.md (`predictions.jsonl`, `metrics.json`) have exactly one definition.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from qa_eval.errors import ConfigError, ScorerError
from qa_eval.jsonl import json_object

Reference = str | tuple[str, ...]

# Fields of a predictions.jsonl row that have their own attribute; everything else is `extra`.
_PREDICTION_FIELDS = ("id", "source", "reference", "prediction", "error")


@dataclass(frozen=True, slots=True)
class Sample:
    """One evaluation item, as read from a manifest or a dataset.

    `audio` holds resolved paths (a prompt may reference several audios); `fields` keeps the
    manifest's task fields (`question`, `lang`, `src_lang`, `tgt_lang`, `prompt`, ...).
    `duration_s` is the total audio duration, known before batching (None if unreadable).
    """

    id: str
    source: str
    audio: tuple[str, ...]
    reference: Reference
    fields: Mapping[str, Any] = field(default_factory=dict)
    duration_s: float | None = None
    audio_error: str | None = None  # why the audio header could not be read (set at load time)


def reference_value(value: Any, field: str, where: str, error: type[Exception]) -> str | tuple[str, ...]:
    """A reference as read from JSON: a string, or a list of strings (-> tuple); else `error`."""
    if isinstance(value, list):
        if not all(isinstance(v, str) for v in value):
            raise error(f"{where}: '{field}' list must hold strings")
        return tuple(value)
    if not isinstance(value, str):
        raise error(f"{where}: '{field}' must be a string or a list of strings")
    return value


@dataclass(frozen=True, slots=True)
class Prediction:
    """One row of predictions.jsonl. `prediction` is None exactly when `error` says why."""

    id: str
    source: str
    reference: Reference
    prediction: str | None
    error: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def failed(self) -> bool:
        return self.error is not None or self.prediction is None

    def get(self, key: str, default: Any = None) -> Any:
        """A task field (`lang`, `question`, ...) stored beside the prediction."""
        return self.extra.get(key, default)

    def to_json(self) -> str:
        row: dict[str, Any] = {
            "id": self.id,
            "source": self.source,
            "reference": list(self.reference) if isinstance(self.reference, tuple) else self.reference,
            "prediction": self.prediction,
            "error": self.error,
        }
        # Keys starting with "_" are reader annotations (e.g. "_where"), never written back.
        row.update({k: v for k, v in self.extra.items() if k not in _PREDICTION_FIELDS and not k.startswith("_")})
        return json.dumps(row, ensure_ascii=False)

    @classmethod
    def from_json(cls, line: str, where: str = "<predictions>") -> "Prediction":
        """Parse one line; `where` ("file:line") is put into every error message."""
        return cls.from_row(json_object(line, where, ScorerError), where)

    @classmethod
    def from_row(cls, row: Mapping[str, Any], where: str = "<predictions>") -> "Prediction":
        """A parsed row; `where` ("file:line") is put into every error message."""
        for key in ("id", "source", "reference"):
            if key not in row:
                raise ScorerError(f"{where}: field '{key}' missing")
        ref = reference_value(row["reference"], "reference", where, ScorerError)
        pred, error = row.get("prediction"), row.get("error")
        if pred is not None and not isinstance(pred, str):
            raise ScorerError(f"{where}: 'prediction' must be a string or null, got {type(pred).__name__}")
        if error is not None and not isinstance(error, str):
            raise ScorerError(f"{where}: 'error' must be a string or null")
        if pred is None and error is None:
            raise ScorerError(f"{where}: 'prediction' is null but no 'error' says why")
        extra = {k: v for k, v in row.items() if k not in _PREDICTION_FIELDS}
        return cls(str(row["id"]), str(row["source"]), ref, pred, error, extra)


@dataclass(frozen=True, slots=True)
class GenerationConfig:
    """Greedy decoding settings shared by every adapter (checked before any model loads).

    Batch size is not here: it is the run loop's business and never changes a prediction."""

    max_new_tokens: int
    min_new_tokens: int = 1

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if not 0 <= self.min_new_tokens <= self.max_new_tokens:
            raise ConfigError(
                f"min_new_tokens must be in [0, max_new_tokens], got {self.min_new_tokens}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {
            "decoding": "greedy",
            "max_new_tokens": self.max_new_tokens,
            "min_new_tokens": self.min_new_tokens,
        }


@dataclass(frozen=True, slots=True)
class Generation:
    """What an adapter returns for one sample: text, or the error that prevented it."""

    text: str | None
    error: str | None = None
    n_new_tokens: int | None = None
    info: Mapping[str, Any] = field(default_factory=dict)  # e.g. {"truncated_audio": True}
    token_ids: tuple[int, ...] | None = None  # the new ids, end token excluded (raw generation)


@dataclass(frozen=True, slots=True)
class SampleStatistics:
    """One source's per-sample statistics, as the scorer computed them (what a paired comparison
    resamples): the sample ids, one statistics row per id, and the source-wide facts."""

    ids: tuple[str, ...]
    rows: tuple[tuple[float, ...], ...]
    facts: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        rows = [[int(x) if float(x).is_integer() else float(x) for x in r] for r in self.rows]
        return {"ids": list(self.ids), "rows": rows, "facts": dict(self.facts)}

    @classmethod
    def from_dict(cls, row: Mapping[str, Any]) -> "SampleStatistics":
        return cls(tuple(map(str, row["ids"])), tuple(tuple(float(x) for x in r) for r in row["rows"]),
                   row.get("facts") or {})


@dataclass(frozen=True, slots=True)
class SourceMetrics:
    """Metrics of one source: `values` by metric name (None = could not be computed, see notes)."""

    values: Mapping[str, float | None]
    n: int
    n_failed: int
    ci95: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    details: Mapping[str, Any] = field(default_factory=dict)  # e.g. S/D/I counts, bleu signature
    samples: SampleStatistics | None = None  # what the values were reduced from (not in to_dict)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = dict(self.values)
        out["n"] = self.n
        out["n_failed"] = self.n_failed
        if self.ci95:
            out["ci95"] = {k: [lo, hi] for k, (lo, hi) in self.ci95.items()}
        if self.details:
            out["details"] = dict(self.details)
        return out
