"""Sort samples by audio duration and cut them into batches.

Two policies: a fixed number of samples per batch, or a budget of audio seconds per batch
(`max_audio_s`, the token-budget idea: short clips run in big batches, long ones in small
ones). Sorting is stable and longest-first, so the first batch is the most memory-hungry one
(an out-of-memory error shows up at once, not after an hour) and the order is deterministic.
"""

from __future__ import annotations

from typing import Sequence

from qa_eval.records import Sample


def sort_by_duration(samples: Sequence[Sample]) -> list[Sample]:
    """Longest first; unknown durations (unreadable audio) last; ties keep manifest order."""
    return sorted(samples, key=lambda s: -(s.duration_s if s.duration_s is not None else -1.0))


def make_batches(
    samples: Sequence[Sample], batch_size: int, max_audio_s: float | None = None
) -> list[list[Sample]]:
    """Cut duration-sorted samples into batches of at most `batch_size` samples and, when
    `max_audio_s` is set, at most that many padded audio seconds (batch size x longest clip)."""
    batches: list[list[Sample]] = []
    current: list[Sample] = []
    longest = 0.0
    for s in sort_by_duration(samples):
        d = s.duration_s or 0.0
        over_budget = max_audio_s is not None and current and max(longest, d) * (len(current) + 1) > max_audio_s
        if len(current) >= batch_size or over_budget:
            batches.append(current)
            current, longest = [], 0.0
        current.append(s)
        longest = max(longest, d)
    if current:
        batches.append(current)
    return batches
