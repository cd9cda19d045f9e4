"""`qa-eval run`: load samples, plan, resume, generate, score, write metrics.json."""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from qa_eval import manifest as manifest_io
from qa_eval import registry
from qa_eval.adapter import ModelAdapter, ModelOptions
from qa_eval.distributed import World, shard
from qa_eval.errors import ConfigError, RunFailedError
from qa_eval.metrics import (
    failed_fraction,
    hardware,
    metrics_document,
    score_predictions,
)
from qa_eval.records import GenerationConfig, Sample
from qa_eval.runner import (
    RunPlan,
    Timing,
    load_task_and_adapter,
    plan_summary,
    render_prompts,
    run_batches,
)
from qa_eval.store import (
    METRICS,
    PredictionStore,
    check_writable,
    finalize,
    merge_ordered,
    read_run_folder,
    shard_name,
    write_json_atomic,
)
from qa_eval.task import TaskSpec


DEFAULT_BATCH_SIZE = 8
AUTO = "auto"
AUTO_MAX_ROWS = 256  # --batch-size auto never builds larger batches


@dataclass(frozen=True)
class RunRequest:
    """Options of one `qa-eval run` (already validated and resolved by the CLI)."""

    task: str
    model: str
    options: ModelOptions
    batch_size: int | str = DEFAULT_BATCH_SIZE  # or "auto": as many rows as free memory allows
    max_new_tokens: int | None = None  # None: the task's
    min_new_tokens: int = 1
    manifest: str | None = None
    data_root: str | None = None
    hf_dataset: str | None = None
    hf_split: str = "test"
    limit: int | None = None
    out_dir: str | None = None
    results_dir: str = "runs"
    num_workers: int = 2
    max_audio_s: float | None = None
    max_failed_fraction: float = 0.05
    retry_failed: bool = False
    seed: int = 0
    scorer: str | None = None  # None: the task's
    scorer_options: Mapping[str, Any] = field(default_factory=dict)


def load_samples(task: TaskSpec, req: RunRequest, cache_dir: Path) -> tuple[list[Sample], str]:
    """The task's samples and the sha256 of their manifest (or a dataset description)."""
    default_source = task.sources[0] if len(task.sources) == 1 else None
    if req.hf_dataset:
        samples = manifest_io.load_hf_dataset(req.hf_dataset, req.hf_split, cache_dir / "hf_audio", source=default_source)
        digest = hashlib.sha256(f"{req.hf_dataset}:{req.hf_split}".encode()).hexdigest()
    else:
        path = _manifest_path(task, req)
        samples = manifest_io.load_manifest(path, req.data_root, default_source)
        digest = manifest_io.file_sha256(path)
    if req.limit is not None:
        samples = samples[: req.limit]
    samples = manifest_io.canonical_sources(samples, task)
    if not samples:
        raise ConfigError(f"task {task.name}: the manifest holds no samples")
    return samples, digest


def _manifest_path(task: TaskSpec, req: RunRequest) -> Path:
    if req.manifest:
        return Path(req.manifest)
    if req.data_root and task.manifest_name:
        return Path(req.data_root) / task.manifest_name
    if task.manifest:
        return Path(task.manifest)
    raise ConfigError(
        f"task {task.name} has no bundled data: pass --manifest FILE (or --data-root DIR holding "
        f"{task.manifest_name or 'its manifest'}); see `qa-eval data prepare {task.name} --help`"
    )


def default_out_dir(req: RunRequest, fingerprint: str) -> Path:
    safe_model = req.model.replace("/", "_")
    return Path(req.results_dir) / req.task / f"{safe_model}-{fingerprint[:12]}"


def evaluate(req: RunRequest, log: Any = print) -> tuple[dict[str, Any] | None, Path]:
    """Run one task with one model; returns (metrics document, output folder).

    Under torchrun every rank runs this; only rank 0 merges, scores and returns a document
    (other ranks return None).
    """
    world = World.from_env()
    options = replace(req.options, device=world.device_for(req.options.device))
    task, adapter = load_task_and_adapter(req.task, req.model, options)
    rows = AUTO_MAX_ROWS if req.batch_size == AUTO else int(req.batch_size)
    generation = GenerationConfig(req.max_new_tokens or task.max_new_tokens, req.min_new_tokens, rows)
    samples, manifest_sha = load_samples(task, req, Path(req.results_dir) / ".cache")
    prompts, prompt_hash = render_prompts(task, adapter, samples)  # refuses unsupported tasks here
    plan = RunPlan(task.name, task.version, req.model, req.options, generation, prompt_hash)
    fingerprint = plan.fingerprint()
    out_dir = Path(req.out_dir) if req.out_dir else default_out_dir(req, fingerprint)
    check_writable(out_dir)  # before any model loads
    world.init(options.device)
    try:
        timing = _generate_missing(world, req, adapter, samples, prompts, generation, out_dir, fingerprint, plan, log)
        timings = world.gather(timing)
        if not world.is_main:
            return None, out_dir
        predictions = merge_ordered(read_run_folder(out_dir), [s.id for s in samples])
        finalize(out_dir, predictions)
    finally:
        world.close()
    scored = score_predictions(task, predictions, req.seed, scorer_name=req.scorer, options=req.scorer_options,
                               warn_unknown=False)  # load_samples warned about unknown sources
    meta = {
        **adapter.describe(),
        "batch_size": req.batch_size,
        "max_audio_s": req.max_audio_s,
        "world_size": world.size,
        "generation": generation.to_dict(),
        "prompt_hash": prompt_hash,
        "fingerprint": fingerprint,
        "manifest_sha256": manifest_sha,
        "n_samples": len(samples),
        "seed": req.seed,
        "hardware": hardware(),
    }
    ran = [t for t in timings if t is not None]
    if ran:
        meta["timing"] = Timing.combine(ran)
        meta["n_truncated_audio"] = sum(t.n_truncated_audio for t in ran)
    doc = metrics_document(task, req.model, scored, meta)
    write_json_atomic(out_dir / METRICS, doc)
    frac = failed_fraction(scored.per_source)
    if frac > req.max_failed_fraction:
        raise RunFailedError(
            f"{frac:.1%} of samples failed (threshold {req.max_failed_fraction:.1%}); see the "
            f"'error' fields in {out_dir / 'predictions.jsonl'}"
        )
    return doc, out_dir


def _generate_missing(
    world: World, req: RunRequest, adapter: ModelAdapter, samples: list[Sample], prompts: list[str],
    generation: GenerationConfig, out_dir: Path, fingerprint: str, plan: RunPlan, log: Any,
) -> Timing | None:
    """Resume: generate this rank's share of the samples that have no prediction yet."""
    if world.is_main:
        PredictionStore(out_dir, fingerprint, plan_summary(plan)).close()  # claims run.json
    world.barrier()
    store = PredictionStore(out_dir, fingerprint, {}, shard_name(world.rank) if world.size > 1 else None,
                            claim=False)
    try:
        done = {p.id for p in store.done() if not (req.retry_failed and p.failed)}
        world.barrier()  # every rank has read the same state before any rank writes
        todo = shard([s for s in samples if s.id not in done], world.rank, world.size)
        if world.is_main:
            log(f"{req.task}: {len(samples)} samples, {len(done)} already done, "
                f"{len(samples) - len(done)} to run on {world.size} process(es) -> {out_dir}")
        if not todo:
            return None
        t0 = time.perf_counter()
        adapter.load()
        load_s = time.perf_counter() - t0
        prompt_of = {s.id: p for s, p in zip(samples, prompts)}
        memory = None
        if req.batch_size == AUTO:
            memory = adapter.memory_budget(generation)
            if memory is None:
                generation = replace(generation, batch_size=DEFAULT_BATCH_SIZE)
                log(f"--batch-size auto: {req.model} has no memory estimate; using {DEFAULT_BATCH_SIZE}")
            else:
                log(f"--batch-size auto: {memory.describe()} (at most {AUTO_MAX_ROWS} rows)")
        timing = run_batches(adapter, todo, prompt_of, generation, store, req.num_workers, req.max_audio_s, memory)
        timing.extra["model_load_s"] = round(load_s, 3)
        return timing
    finally:
        store.close()


def model_names_with_descriptions() -> list[tuple[str, str]]:
    return [(n, registry.load("model", n).description) for n in registry.names("model")]
