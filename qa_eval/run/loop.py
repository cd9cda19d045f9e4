"""The generation loop: duration-sorted batches -> adapter.generate -> the prediction store.

Audio is decoded in worker processes, two batches ahead of the model. Every batch is appended
and flushed before the next starts. `BatchRunner` is the only place that handles a failing
`adapter.generate`: out of memory -> split the batch and remember the size that fitted; any
other exception -> split until the failing sample stands alone, and record it as failed.
Timing covers `adapter.generate` only (decoding overlaps with it and is not counted). Each
prediction row records what produced it (`generate_s`: its share of its batch's generation
time, `audio_s`: the decoded seconds, `batch_rows` and the requested `batch_size`), so that a
resumed or re-scored run reports the timing and settings of all its predictions (`run_totals`).
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections import Counter, deque
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Iterator, Mapping, Sequence

import numpy as np

from qa_eval.adapter import AudioInput, ModelAdapter
from qa_eval.audio import SAMPLE_RATE, load_audio
from qa_eval.batching import MemoryBudget, make_batches
from qa_eval.errors import AudioError, OutOfMemoryAtBatchSizeOne
from qa_eval.intent import PromptIntent
from qa_eval.records import Generation, GenerationConfig, Prediction, Sample
from qa_eval.run.progress import Progress
from qa_eval.store import PredictionStore

# Sample fields copied into each prediction row (docs/DESIGN.md: lang, src_lang, tgt_lang, question;
# a multiple-choice row's choices and the groups its scorer reports).
COPIED_FIELDS = ("lang", "src_lang", "tgt_lang", "question", "source_as_given",
                 "choices", "category", "sub_category", "difficulty")
PREFETCH_BATCHES = 2


def is_out_of_memory(exc: BaseException) -> bool:
    """torch.cuda.OutOfMemoryError, MemoryError, or an allocator message saying so (no torch import)."""
    if isinstance(exc, MemoryError) or type(exc).__name__ == "OutOfMemoryError":
        return True
    text = str(exc).lower()
    return "out of memory" in text or "can't allocate memory" in text


@dataclass
class BatchRunner:
    """adapter.generate with out-of-memory back-off and isolation of failing samples.

    Outputs come back one per input, in input order: no sample is lost or run twice into the
    output. `max_batch` is the size learnt from out-of-memory errors; later calls use it.
    """

    adapter: ModelAdapter
    config: GenerationConfig
    max_batch: int | None = None
    n_backoffs: int = 0

    def __call__(self, inputs: Sequence[AudioInput]) -> list[Generation]:
        out: list[Generation] = []
        start = 0
        while start < len(inputs):
            step = self.max_batch or len(inputs)
            out += self._generate(list(inputs[start:start + step]))
            start += step
        return out

    def _generate(self, inputs: list[AudioInput]) -> list[Generation]:
        try:
            return self.adapter.generate(inputs, self.config)
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # noqa: BLE001 - every failure is either backed off or recorded
            if is_out_of_memory(exc):
                return self._back_off(inputs, exc)
            if len(inputs) == 1:
                return [Generation(None, f"generation failed: {type(exc).__name__}: {exc}")]
            half = (len(inputs) + 1) // 2  # isolate the failing sample(s) by halving
            return self._generate(inputs[:half]) + self._generate(inputs[half:])

    def _back_off(self, inputs: list[AudioInput], exc: BaseException) -> list[Generation]:
        if len(inputs) == 1:
            s = inputs[0].sample
            raise OutOfMemoryAtBatchSizeOne(
                f"out of memory at batch size 1 (sample {s.id!r}, {s.duration_s or 0:.1f} s of audio) "
                f"on {self.adapter.options.device}: try --dtype bfloat16, a shorter --max-audio-s, "
                f"or a device with more memory ({type(exc).__name__}: {str(exc)[:200]})"
            ) from exc
        self.n_backoffs += 1
        half = (len(inputs) + 1) // 2
        self.max_batch = half if self.max_batch is None else min(self.max_batch, half)
        free_accelerator_cache()
        return self(inputs)


def free_accelerator_cache() -> None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def run_totals(predictions: Sequence[Prediction]) -> dict[str, Any]:
    """Timing, batch sizes and truncation of a whole run, from what its stored predictions
    record (every invocation that made them, resumed ones included): `timing` (audio seconds,
    generation seconds summed over processes, RTFx), `batch_size` (the requested size, or
    {size: predictions} when several made them; None when no row records it) and
    `n_truncated_audio`."""
    timed = [p.extra for p in predictions if isinstance(p.extra.get("generate_s"), (int, float))]
    audio = sum(float(e.get("audio_s") or 0.0) for e in timed)
    wall = sum(float(e["generate_s"]) for e in timed)
    sizes = Counter(e.get("batch_size") for e in timed)
    batch_size: Any = next(iter(sizes)) if len(sizes) == 1 else ({str(k): n for k, n in sizes.items()} or None)
    timing = {
        "audio_s": round(audio, 3), "wall_s": round(wall, 3),
        "rtfx": round(audio / wall, 3) if wall > 0 else None,
        "samples_per_s": round(len(timed) / wall, 3) if wall > 0 else None,
        "n_timed_samples": len(timed),
        "measured": "inside adapter.generate, summed over the predictions of every invocation and "
                    "process (audio decoding overlaps in workers and is not counted)",
    }
    return {"timing": timing if timed else None, "batch_size": batch_size,
            "n_truncated_audio": sum(bool(p.extra.get("truncated_audio")) for p in predictions)}


@dataclass
class Timing:
    """Audio seconds and wall seconds spent inside adapter.generate."""

    audio_s: float = 0.0
    wall_s: float = 0.0
    n_samples: int = 0
    extra: dict[str, Any] = field(default_factory=dict)

    @staticmethod
    def combine(timings: Sequence["Timing"]) -> dict[str, Any]:
        """The timing block of metrics.json. With several ranks running in parallel, wall time
        is the slowest rank's (the run took that long) and audio seconds add up."""
        wall = max(t.wall_s for t in timings)
        audio = sum(t.audio_s for t in timings)
        n = sum(t.n_samples for t in timings)
        out: dict[str, Any] = {
            "audio_s": round(audio, 3),
            "wall_s": round(wall, 3),
            "rtfx": round(audio / wall, 3) if wall > 0 else None,
            "samples_per_s": round(n / wall, 3) if wall > 0 else None,
            "n_timed_samples": n,
            "measured": "around adapter.generate only (audio decoding overlaps in workers)",
        }
        for t in timings[:1]:
            out.update(t.extra)
        return out


def decode_sample(paths: tuple[str, ...], decoder: str) -> tuple[tuple[np.ndarray, ...] | None, str | None]:
    """Worker job: all audios of one sample, or the error (runs in a worker process)."""
    try:
        return tuple(load_audio(p, decoder) for p in paths), None
    except AudioError as exc:
        return None, str(exc)


class InlineExecutor(Executor):
    """Runs jobs at submit time (num_workers=0: no worker processes)."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
        fut: Future = Future()
        fut.set_result(fn(*args, **kwargs))
        return fut


def decoder_pool(num_workers: int) -> Executor:
    if num_workers <= 0:
        return InlineExecutor()
    return ProcessPoolExecutor(num_workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_worker_setup, initargs=(os.getpid(),))


def _worker_setup(parent_pid: int) -> None:
    """A decoding worker leaves Ctrl-C to the main process (no worker tracebacks on interrupt)
    and ends with it, however it ends (SIGKILL included): on Linux the kernel sends the worker
    SIGKILL when its parent dies (PR_SET_PDEATHSIG); a worker whose parent is already gone exits.
    With every worker gone, multiprocessing's resource tracker sees its pipe close and exits too."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform.startswith("linux"):
        import ctypes

        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGKILL)
    if os.getppid() != parent_pid:
        os._exit(1)


def prefetched(batches: Sequence[list[Sample]], pool: Executor, decoder: str,
               ahead: int = PREFETCH_BATCHES) -> Iterator[tuple[list[Sample], list[Future]]]:
    """Yield (batch, futures of decoded audio) with `ahead` batches already submitted."""
    queue: deque = deque()
    it = iter(batches)

    def submit_next() -> None:
        batch = next(it, None)
        if batch is not None:
            queue.append((batch, [pool.submit(decode_sample, s.audio, decoder) for s in batch]))

    for _ in range(ahead + 1):
        submit_next()
    while queue:
        item = queue.popleft()
        submit_next()
        yield item


def make_prediction(sample: Sample, prompt: str, gen: Generation, produced: Mapping[str, Any] | None = None
                    ) -> Prediction:
    """The predictions.jsonl row of one sample; `produced`: how (generate_s, audio_s, batch_rows,
    batch_size)."""
    extra: dict[str, Any] = {k: sample.fields[k] for k in COPIED_FIELDS if k in sample.fields}
    extra.update(
        audio=list(sample.audio) if len(sample.audio) > 1 else sample.audio[0],
        duration_s=None if sample.duration_s is None else round(sample.duration_s, 3),
        prompt=prompt,
        **(produced or {}),
    )
    if gen.n_new_tokens is not None:
        extra["n_new_tokens"] = gen.n_new_tokens
    extra.update(gen.info)
    if gen.text is None and gen.error is None:
        gen = Generation(None, "adapter returned no text and no error")
    return Prediction(sample.id, sample.source, sample.reference, gen.text, gen.error, extra)


@dataclass
class LoopSettings:
    """How run_batches cuts and feeds batches."""

    batch_size: int
    num_workers: int
    decoder: str  # qa_eval.audio decoder name, chosen once per run
    max_audio_s: float | None = None
    memory: MemoryBudget | None = None
    show_progress: bool = True
    requested: int | str | None = None  # --batch-size as given (a number or "auto"), recorded per row


def run_batches(adapter: ModelAdapter, samples: Sequence[Sample], prompts: Callable[[Sample], str],
                config: GenerationConfig, store: PredictionStore, settings: LoopSettings,
                log: Callable[[str], None], intents: Callable[[Sample], PromptIntent | None] = lambda s: None
                ) -> Timing:
    """Generate every sample, appending each batch to the store. Returns generation timing."""
    timing = Timing()
    runner = BatchRunner(adapter, config)
    batches = make_batches(samples, settings.batch_size, settings.max_audio_s, settings.memory)
    sizes = [len(b) for b in batches]
    timing.extra["batches"] = {"n": len(sizes), "min_rows": min(sizes, default=0), "max_rows": max(sizes, default=0)}
    if settings.memory is not None:
        timing.extra["auto_batch"] = settings.memory.describe()
    pool = decoder_pool(settings.num_workers)
    progress = Progress(len(samples), log, enabled=settings.show_progress)
    try:
        for batch, futures in prefetched(batches, pool, settings.decoder):
            rows: dict[str, Prediction] = {}
            inputs: list[AudioInput] = []
            for sample, fut in zip(batch, futures):
                waveforms, error = (None, sample.audio_error) if sample.audio_error else fut.result()
                if waveforms is None:
                    rows[sample.id] = make_prediction(sample, prompts(sample), Generation(None, error))
                else:
                    inputs.append(AudioInput(sample, prompts(sample), waveforms, intents(sample)))
            audio_s = 0.0
            if inputs:
                start = time.perf_counter()
                generations = runner(inputs)
                spent = time.perf_counter() - start
                timing.wall_s += spent
                for item, gen in zip(inputs, generations):
                    seconds = sum(len(w) for w in item.waveforms) / SAMPLE_RATE
                    produced = {"generate_s": round(spent / len(inputs), 6), "audio_s": round(seconds, 3),
                                "batch_rows": len(inputs), "batch_size": settings.requested or settings.batch_size,
                                "output_rule": adapter.output_rule(item.intent)}
                    rows[item.sample.id] = make_prediction(item.sample, item.prompt, gen, produced)
                    audio_s += seconds
                    timing.n_samples += 1
            timing.audio_s += audio_s
            written = [rows[s.id] for s in batch]
            store.append(written)
            progress.update(len(written), sum(p.failed for p in written), audio_s, timing.wall_s)
    finally:
        progress.close()
        pool.shutdown(wait=False, cancel_futures=True)
    if runner.n_backoffs:
        timing.extra["oom_backoffs"] = runner.n_backoffs
        timing.extra["batch_size_after_backoff"] = runner.max_batch
    return timing
