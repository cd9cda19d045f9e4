"""Sort samples by audio duration and cut them into batches.

Three limits, all optional but the count: a fixed number of samples per batch, a budget of
padded audio seconds per batch (`max_audio_s`, the token-budget idea: short clips run in big
batches, long ones in small ones), and a memory budget (`MemoryBudget`, from the adapter's
estimate of what one row costs and the device's free memory: `--batch-size auto`). Sorting is stable and longest-first, so the first batch is the most memory-hungry one
(an out-of-memory error shows up at once, not after an hour) and the order is deterministic.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

from qa_eval.records import Sample


@dataclass(frozen=True)
class MemoryBudget:
    """Bytes a batch may allocate, and the bytes one row costs when the batch's longest clip
    lasts `longest_s` seconds (every row is padded to it)."""

    free_bytes: int
    row_bytes: Callable[[float], int]

    def max_rows(self, longest_s: float) -> int:
        return max(1, int(self.free_bytes // max(1, self.row_bytes(longest_s))))

    def describe(self) -> dict[str, Any]:
        return {"free_bytes": int(self.free_bytes), "rows_at_30s": self.max_rows(30.0),
                "rows_at_10s": self.max_rows(10.0), "rows_at_2s": self.max_rows(2.0)}


def sort_by_duration(samples: Sequence[Sample]) -> list[Sample]:
    """Longest first; unknown durations (unreadable audio) last; ties keep manifest order."""
    return sorted(samples, key=lambda s: -(s.duration_s if s.duration_s is not None else -1.0))


def make_batches(
    samples: Sequence[Sample], batch_size: int, max_audio_s: float | None = None,
    memory: MemoryBudget | None = None,
) -> list[list[Sample]]:
    """Cut duration-sorted samples into batches of at most `batch_size` samples and, when
    `max_audio_s` is set, at most that many padded audio seconds (batch size x longest clip),
    and, when `memory` is set, at most the rows it allows for the batch's longest clip."""
    batches: list[list[Sample]] = []
    current: list[Sample] = []
    longest = 0.0
    for s in sort_by_duration(samples):
        d = s.duration_s or 0.0
        rows, pad_s = len(current) + 1, max(longest, d)
        over_budget = bool(current) and (
            (max_audio_s is not None and pad_s * rows > max_audio_s)
            or (memory is not None and rows > memory.max_rows(pad_s))
        )
        if len(current) >= batch_size or over_budget:
            batches.append(current)
            current, longest = [], 0.0
        current.append(s)
        longest = max(longest, d)
    if current:
        batches.append(current)
    return batches
