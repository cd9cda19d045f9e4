"""Resume: generate, on this rank, the selected samples that have no prediction yet.

Rank 0 claims the run folder (run.json with the fingerprint); every rank then reads what the
folder already holds, takes its duration-balanced share of what is missing, loads the model
only if it has work, and appends to its own shard (one process: predictions.jsonl itself).
"""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Callable

from qa_eval.distributed import World, shard
from qa_eval.run.loop import LoopSettings, Timing, run_batches
from qa_eval.run.plan import RunPlan
from qa_eval.run.request import AUTO, DEFAULT_BATCH_SIZE
from qa_eval.store import PredictionStore, shard_name


def run_info(plan: RunPlan) -> dict:
    """run.json: the fingerprint's inputs and the model options."""
    return {**plan.identity, "options": asdict(plan.request.options)}


def generate_missing(world: World, plan: RunPlan, log: Callable[[str], None]) -> Timing | None:
    """Generate this rank's share of the missing predictions; None when it had nothing to do."""
    req = plan.request
    if world.is_main:
        PredictionStore(plan.out_dir, plan.fingerprint, run_info(plan)).close()  # claims run.json
    world.barrier()
    store = PredictionStore(plan.out_dir, plan.fingerprint, {},
                            shard_name(world.rank) if world.size > 1 else None, claim=False)
    try:
        done = {p.id for p in store.done() if not (req.retry_failed and p.failed)}
        world.barrier()  # every rank has read the same state before any rank writes
        missing = [s for s in plan.samples if s.id not in done]
        if world.is_main:
            log(f"{plan.task.name}: {len(plan.samples)} samples selected, {len(plan.samples) - len(missing)} "
                f"already done, {len(missing)} to run on {world.size} process(es) -> {plan.out_dir}")
        todo = shard(missing, world.rank, world.size)
        if not todo:
            return None
        t0 = time.perf_counter()
        plan.adapter.load()
        load_s = time.perf_counter() - t0
        settings = LoopSettings(req.rows_per_batch, req.num_workers, plan.decoder["name"], req.max_audio_s,
                                show_progress=world.is_main and req.show_progress, requested=req.batch_size)
        if req.batch_size == AUTO and req.options.backend == "vllm":
            log(f"--batch-size auto: vLLM schedules its own memory; chunks of {settings.batch_size} rows")
        elif req.batch_size == AUTO:
            settings.memory = plan.adapter.memory_budget(plan.generation)
            if settings.memory is None:
                settings.batch_size = DEFAULT_BATCH_SIZE
                log(f"--batch-size auto: {req.model} has no memory estimate; using {DEFAULT_BATCH_SIZE}")
            else:
                log(f"--batch-size auto: {settings.memory.describe()} (at most {settings.batch_size} rows)")
        timing = run_batches(plan.adapter, todo, lambda s: plan.prompts[s.id], plan.generation, store,
                             settings, log, lambda s: plan.intents[s.id])
        timing.extra["model_load_s"] = round(load_s, 3)
        return timing
    finally:
        store.close()
