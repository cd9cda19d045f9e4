"""RunRequest: the options of one `qa-eval run`, checked as soon as they are given.

Every default of a run lives here once (the CLI and the benchmarks read them from here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from qa_eval.adapter import ModelOptions
from qa_eval.errors import ConfigError

DEFAULT_BATCH_SIZE = 8
DEFAULT_MAX_FAILED_FRACTION = 0.05  # above this share of failed samples the run exits 3
DEFAULT_NUM_WORKERS = 2  # audio decoding processes
DEFAULT_RESULTS_DIR = "runs"
AUTO = "auto"  # --batch-size auto: as many rows as free memory allows
AUTO_MAX_ROWS = 256  # --batch-size auto never builds larger batches


@dataclass(frozen=True)
class RunRequest:
    """Options of one run (device and dtype already resolved in `options`).

    task / task_file:  a registered task name, or a task file (TOML) declaring one.
    manifest / data_root / hf_*: where the samples come from (default: the task's own list).
    limit:             only the first N samples (predictions of the others are kept, not scored).
    """

    task: str
    model: str
    options: ModelOptions
    task_file: str | None = None
    batch_size: int | str = DEFAULT_BATCH_SIZE
    max_new_tokens: int | None = None  # None: the task's
    min_new_tokens: int | None = None  # None: the adapter's family default (ModelAdapter.min_new_tokens)
    manifest: str | None = None
    data_root: str | None = None
    hf_dataset: str | None = None
    hf_split: str = "test"
    hf_config: str | None = None
    hf_source: str | None = None
    limit: int | None = None
    out_dir: str | None = None
    results_dir: str = DEFAULT_RESULTS_DIR
    num_workers: int = DEFAULT_NUM_WORKERS
    max_audio_s: float | None = None
    max_failed_fraction: float = DEFAULT_MAX_FAILED_FRACTION
    retry_failed: bool = False
    seed: int = 0
    scorer: str | None = None  # None: the task's
    scorer_options: Mapping[str, Any] = field(default_factory=dict)
    show_progress: bool = True  # a progress bar (rank 0; a line every 30 s when not a terminal)

    def __post_init__(self) -> None:
        if self.batch_size != AUTO and not (isinstance(self.batch_size, int) and self.batch_size >= 1):
            raise ConfigError(f"--batch-size must be a positive integer or 'auto', got {self.batch_size!r}")
        _at_least("--max-new-tokens", self.max_new_tokens, 1)
        if self.min_new_tokens is not None:
            _at_least("--min-new-tokens", self.min_new_tokens, 0)
        _at_least("--limit", self.limit, 1)
        _at_least("--num-workers", self.num_workers, 0)
        if None not in (self.max_new_tokens, self.min_new_tokens) and self.min_new_tokens > self.max_new_tokens:
            raise ConfigError(f"--min-new-tokens {self.min_new_tokens} is above --max-new-tokens {self.max_new_tokens}")
        if self.max_audio_s is not None and not self.max_audio_s > 0:
            raise ConfigError(f"--max-audio-s must be above 0 seconds, got {self.max_audio_s}")
        if not 0.0 <= self.max_failed_fraction <= 1.0:
            raise ConfigError(f"--max-failed must be a fraction in [0, 1], got {self.max_failed_fraction}")
        sources = [n for n, v in (("--manifest", self.manifest), ("--hf-dataset", self.hf_dataset)) if v]
        if len(sources) > 1:
            raise ConfigError("give either --manifest or --hf-dataset, not both")
        if (self.hf_config or self.hf_source) and not self.hf_dataset:
            raise ConfigError("--hf-config and --hf-source go with --hf-dataset")

    @property
    def rows_per_batch(self) -> int:
        """The most rows a batch may hold (the cap of --batch-size auto, or the number given)."""
        return AUTO_MAX_ROWS if self.batch_size == AUTO else int(self.batch_size)


def _at_least(flag: str, value: int | None, low: int) -> None:
    if value is not None and (not isinstance(value, int) or value < low):
        raise ConfigError(f"{flag} must be an integer >= {low}, got {value!r}")
