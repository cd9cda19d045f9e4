"""RunMeta: the provenance block (`meta`) of a run's metrics.json, as one frozen record."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Mapping, Sequence

from qa_eval.records import Prediction


@dataclass(frozen=True)
class RunMeta:
    """What produced a run's numbers (docs/DESIGN.md: metrics.json `meta`)."""

    model: Mapping[str, Any]  # the adapter's describe(): model_id, revision, dtype, device, ...
    batch_size: int | str
    max_audio_s: float | None
    world_size: int
    generation: Mapping[str, Any]
    prompt_hash: str
    output_rules: Mapping[str, str]  # task kind -> how the decoded text became the prediction
    fingerprint: str
    manifest_sha256: str
    data_sha256: str
    audio_decoder: Mapping[str, Any]
    libraries: Mapping[str, str | None]  # versions of the libraries that shaped the predictions
    n_samples: int  # samples scored (the selection)
    n_stored: int  # predictions kept in the run folder (--limit scores fewer than it keeps)
    limit: int | None
    seed: int
    hardware: Mapping[str, Any]
    timing: Mapping[str, Any] | None = None
    n_truncated_audio: int = 0
    failure_reasons: Mapping[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out.update(out.pop("model"))  # model_id, revision, dtype, device stay top-level keys
        if self.timing is None:
            out.pop("timing")
        return out


def failure_reasons(predictions: Sequence[Prediction], most: int = 5) -> dict[str, int]:
    """The commonest error messages of the failed predictions, with the sample-specific part
    (a path or id before the first ": ") left out so that alike failures count together."""
    reasons: Counter[str] = Counter()
    for p in predictions:
        if p.failed:
            text = p.error or "no prediction"
            head, sep, rest = text.partition(": ")
            reasons[rest if sep and ("/" in head or "." in head or head == p.id) else text] += 1
    return dict(reasons.most_common(most))
