"""Progress of a run: a tqdm bar on a terminal, a plain line now and then elsewhere.

The bar shows samples done / total, failures, audio seconds per wall second and the ETA. When
stderr is not a terminal (CI logs, files; or a terminal without a size) a line is written every
LOG_EVERY_S seconds and at the end instead. Only the process that runs this draws (rank 0 under torchrun: the caller
decides).
"""

from __future__ import annotations

import os
import sys
import time
from typing import Callable

LOG_EVERY_S = 30.0


class Progress:
    """Counts samples as batches finish and shows them."""

    def __init__(self, total: int, log: Callable[[str], None], enabled: bool = True) -> None:
        self.total, self.log, self.enabled = total, log, enabled and total > 0
        self.done = self.failed = 0
        self.audio_s = self.wall_s = 0.0
        self._bar = None
        self._start = self._last_line = time.monotonic()
        if self.enabled and _terminal_columns() > 0:
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="sample", dynamic_ncols=True, file=sys.stderr,
                             desc="generating", smoothing=0.1)

    def update(self, n: int, n_failed: int, audio_s: float, wall_s: float) -> None:
        """`n` more samples finished, `n_failed` of them failed; totals of audio and wall seconds."""
        if not self.enabled:
            return
        self.done += n
        self.failed += n_failed
        self.audio_s += audio_s
        self.wall_s = wall_s
        if self._bar is not None:
            self._bar.set_postfix_str(self._postfix(), refresh=False)
            self._bar.update(n)
        elif time.monotonic() - self._last_line >= LOG_EVERY_S or self.done == self.total:
            self._last_line = time.monotonic()
            self.log(f"progress: {self.done}/{self.total} samples, {self._postfix()}, {self._left()}")

    def _left(self) -> str:
        """"elapsed 1:02, left ~3:10" (the rest at the pace so far)."""
        elapsed = time.monotonic() - self._start
        left = elapsed / self.done * (self.total - self.done) if self.done else None
        return f"elapsed {_clock(elapsed)}, left " + ("?" if left is None else f"~{_clock(left)}")

    def _postfix(self) -> str:
        rate = f"{self.audio_s / self.wall_s:.1f}" if self.wall_s > 0 else "-"
        return f"{self.failed} failed, {rate} audio s/s"

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


def _clock(seconds: float) -> str:
    """1:02 or 1:02:03."""
    s = int(round(seconds))
    h, m = divmod(s // 60, 60)
    return f"{h}:{m:02d}:{s % 60:02d}" if h else f"{m}:{s % 60:02d}"


def _terminal_columns() -> int:
    """Columns of the terminal stderr is on (0: not a terminal, or one without a size)."""
    try:
        return os.get_terminal_size(sys.stderr.fileno()).columns if sys.stderr.isatty() else 0
    except (OSError, ValueError):
        return 0
