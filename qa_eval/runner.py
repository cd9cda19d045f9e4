"""The run loop: samples -> duration-sorted batches -> adapter.generate -> predictions.jsonl.

Audio is decoded in worker processes, prefetched ahead of the model. Every batch is appended
and flushed before the next starts; a rerun with the same fingerprint skips finished samples.
Timing covers generation only (decoding overlaps with it and is not counted).
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import sys
import time
from collections import deque
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np

from qa_eval import registry
from qa_eval.adapter import AudioInput, ModelAdapter, ModelOptions
from qa_eval.audio import load_audio
from qa_eval.batching import MemoryBudget, make_batches
from qa_eval.errors import AudioError, QaEvalError
from qa_eval.records import Generation, GenerationConfig, Prediction, Sample
from qa_eval.store import PredictionStore
from qa_eval.task import TaskSpec

# Sample fields copied into each prediction row (DESIGN.md: lang, src_lang, tgt_lang, question).
_COPIED_FIELDS = ("lang", "src_lang", "tgt_lang", "question", "source_as_given")


@dataclass(frozen=True)
class RunPlan:
    """Everything that decides the predictions of a run (hashed into the fingerprint)."""

    task: str
    task_version: str
    model: str
    options: ModelOptions
    generation: GenerationConfig
    prompt_hash: str

    def fingerprint(self) -> str:
        key = {
            "task": self.task,
            "task_version": self.task_version,
            "model": self.model,
            "checkpoint": self.options.checkpoint,
            "revision": self.options.revision,
            "dtype": self.options.dtype,
            "generation": self.generation.to_dict(),
            "prompt_hash": self.prompt_hash,
        }
        return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()


@dataclass
class Timing:
    """Audio seconds and wall seconds spent inside adapter.generate."""

    audio_s: float = 0.0
    wall_s: float = 0.0
    n_samples: int = 0
    n_truncated_audio: int = 0
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


def render_prompts(task: TaskSpec, adapter: ModelAdapter, samples: Sequence[Sample]) -> tuple[list[str], str]:
    """Each sample's prompt and a hash of the distinct prompts (refuses unsupported tasks early)."""
    prompts = [adapter.render_prompt(task.intent(s), len(s.audio)) for s in samples]
    digest = hashlib.sha256("\n\0".join(sorted(set(prompts))).encode()).hexdigest()
    return prompts, digest


def decode_sample(paths: tuple[str, ...]) -> tuple[tuple[np.ndarray, ...] | None, str | None]:
    """Worker job: all audios of one sample, or the error (runs in a worker process)."""
    try:
        return tuple(load_audio(p) for p in paths), None
    except AudioError as exc:
        return None, str(exc)


class _InlineExecutor(Executor):
    """Runs jobs at submit time (num_workers=0: no worker processes)."""

    def submit(self, fn, /, *args, **kwargs):  # type: ignore[override]
        fut: Future = Future()
        fut.set_result(fn(*args, **kwargs))
        return fut


def make_decoder_pool(num_workers: int) -> Executor:
    if num_workers <= 0:
        return _InlineExecutor()
    return ProcessPoolExecutor(num_workers, mp_context=multiprocessing.get_context("spawn"))


def prefetched(
    batches: Sequence[list[Sample]], pool: Executor, ahead: int = 2
) -> Iterator[tuple[list[Sample], list[Future]]]:
    """Yield (batch, futures of decoded audio) with `ahead` batches already submitted."""
    queue: deque = deque()
    it = iter(batches)

    def submit_next() -> None:
        batch = next(it, None)
        if batch is not None:
            queue.append((batch, [pool.submit(decode_sample, s.audio) for s in batch]))

    for _ in range(ahead + 1):
        submit_next()
    while queue:
        item = queue.popleft()
        submit_next()
        yield item


def make_prediction(sample: Sample, prompt: str, gen: Generation) -> Prediction:
    extra: dict[str, Any] = {k: sample.fields[k] for k in _COPIED_FIELDS if k in sample.fields}
    extra.update(
        audio=list(sample.audio) if len(sample.audio) > 1 else sample.audio[0],
        duration_s=None if sample.duration_s is None else round(sample.duration_s, 3),
        prompt=prompt,
    )
    if gen.n_new_tokens is not None:
        extra["n_new_tokens"] = gen.n_new_tokens
    extra.update(gen.info)
    if gen.text is None and gen.error is None:
        gen = Generation(None, "adapter returned no text and no error")
    return Prediction(sample.id, sample.source, sample.reference, gen.text, gen.error, extra)


def is_out_of_memory(exc: BaseException) -> bool:
    """torch.cuda.OutOfMemoryError (or an allocator message saying so), without importing torch."""
    return type(exc).__name__ == "OutOfMemoryError" or "out of memory" in str(exc).lower()


class OutOfMemoryAtBatchSizeOne(QaEvalError):
    """Even one sample does not fit: nothing smaller to back off to."""


@dataclass
class BatchGenerator:
    """adapter.generate with out-of-memory back-off and per-sample failure isolation.

    On out-of-memory the batch is split in halves and retried, and later batches are cut to the
    size that last fitted (no sample lost or duplicated: outputs come back in input order).
    At one sample it raises a clear error. Any other exception from a batch is retried sample
    by sample, so one bad sample is recorded as failed instead of killing its neighbours.
    """

    adapter: ModelAdapter
    config: GenerationConfig
    max_batch: int | None = None  # learnt from out-of-memory errors
    n_backoffs: int = 0

    def __call__(self, inputs: list[AudioInput]) -> list[Generation]:
        step = self.max_batch or len(inputs)
        return [g for i in range(0, len(inputs), step) for g in self._generate(inputs[i:i + step])]

    def _generate(self, inputs: list[AudioInput]) -> list[Generation]:
        try:
            out = self.adapter.generate(inputs, self.config)
        except (KeyboardInterrupt, MemoryError):
            raise
        except Exception as exc:
            if is_out_of_memory(exc):
                return self._back_off(inputs, exc)
            if len(inputs) == 1:
                return [Generation(None, f"generation failed: {type(exc).__name__}: {exc}")]
            return [g for item in inputs for g in self._generate([item])]
        if len(out) != len(inputs):
            raise QaEvalError(f"adapter returned {len(out)} outputs for a batch of {len(inputs)}")
        return out

    def _back_off(self, inputs: list[AudioInput], exc: Exception) -> list[Generation]:
        if len(inputs) == 1:
            s = inputs[0].sample
            raise OutOfMemoryAtBatchSizeOne(
                f"out of memory at batch size 1 (sample {s.id!r}, {s.duration_s or 0:.1f} s of audio) "
                f"on {self.adapter.options.device}: try --dtype bfloat16, a shorter --max-audio-s, "
                f"or a device with more memory ({exc})"
            ) from exc
        self.n_backoffs += 1
        self.max_batch = max(1, len(inputs) // 2)
        _free_accelerator_cache()
        half = (len(inputs) + 1) // 2
        return self._generate(inputs[:half]) + self._generate(inputs[half:])


def _free_accelerator_cache() -> None:
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        torch.cuda.empty_cache()


def run_batches(
    adapter: ModelAdapter,
    samples: Sequence[Sample],
    prompts: dict[str, str],
    config: GenerationConfig,
    store: PredictionStore,
    num_workers: int = 2,
    max_audio_s: float | None = None,
    memory: MemoryBudget | None = None,
) -> Timing:
    """Generate every sample, appending each batch to the store. Returns generation timing."""
    timing = Timing()
    generate = BatchGenerator(adapter, config)
    batches = make_batches(samples, config.batch_size, max_audio_s, memory)
    sizes = [len(b) for b in batches]
    timing.extra["batches"] = {"n": len(sizes), "min_rows": min(sizes, default=0), "max_rows": max(sizes, default=0)}
    if memory is not None:
        timing.extra["auto_batch"] = memory.describe()
    pool = make_decoder_pool(num_workers)
    try:
        for batch, futures in prefetched(batches, pool):
            results: dict[str, Prediction] = {}
            inputs: list[AudioInput] = []
            for sample, fut in zip(batch, futures):
                waveforms, error = (None, sample.audio_error) if sample.audio_error else fut.result()
                if waveforms is None:
                    results[sample.id] = make_prediction(sample, prompts[sample.id], Generation(None, error))
                else:
                    inputs.append(AudioInput(sample, prompts[sample.id], waveforms))
            if inputs:
                start = time.perf_counter()
                generations = generate(inputs)
                timing.wall_s += time.perf_counter() - start
                for item, gen in zip(inputs, generations):
                    results[item.sample.id] = make_prediction(item.sample, item.prompt, gen)
                    timing.audio_s += sum(len(w) for w in item.waveforms) / 16_000
                    timing.n_samples += 1
                    timing.n_truncated_audio += bool(gen.info.get("truncated_audio"))
            store.append([results[s.id] for s in batch])
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    if generate.n_backoffs:
        timing.extra["oom_backoffs"] = generate.n_backoffs
        timing.extra["batch_size_after_backoff"] = generate.max_batch
    return timing


def load_task_and_adapter(task_name: str, model_name: str, options: ModelOptions) -> tuple[TaskSpec, ModelAdapter]:
    task = registry.load("task", task_name)
    adapter_cls = registry.load("model", model_name)
    return task, adapter_cls(options)


def plan_summary(plan: RunPlan) -> dict[str, Any]:
    return {
        "task": plan.task,
        "task_version": plan.task_version,
        "model": plan.model,
        "options": asdict(plan.options),
        "generation": plan.generation.to_dict(),
        "prompt_hash": plan.prompt_hash,
    }
