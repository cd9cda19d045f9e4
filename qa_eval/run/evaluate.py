"""evaluate: plan -> generate what is missing -> merge -> score -> metrics.json."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

from qa_eval.distributed import World
from qa_eval.errors import RunFailedError
from qa_eval.metrics import failed_fraction, metrics_document, score_predictions
from qa_eval.provenance import hardware
from qa_eval.run.loop import Timing, run_totals
from qa_eval.run.meta import RunMeta, failure_reasons
from qa_eval.run.plan import RunPlan, make_plan
from qa_eval.run.request import RunRequest
from qa_eval.run.resume import generate_missing
from qa_eval.store import finalize, merge_ordered, read_run_folder, write_metrics


def stderr_log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def evaluate(req: RunRequest, log: Callable[[str], None] = stderr_log) -> tuple[dict[str, Any] | None, Path]:
    """Run one task with one model; returns (metrics document, run folder).

    Under torchrun every rank runs this; only rank 0 merges, scores and returns a document
    (other ranks return None). Nothing stored in the run folder is ever dropped: predictions of
    samples outside the current selection stay in predictions.jsonl, unscored, and a previous
    metrics.json with other numbers is kept under previous/.
    """
    world = World.from_env()
    device = world.device_for(req.options.device, req.options.tensor_parallel_size)
    plan = make_plan(req, replace(req.options, device=device))
    world.init()
    try:
        timings = world.gather(generate_missing(world, plan, log))
        if not world.is_main:
            return None, plan.out_dir
        stored = merge_ordered(read_run_folder(plan.out_dir), plan.all_ids)
        finalize(plan.out_dir, stored)
    finally:
        world.close()
    selected = {s.id for s in plan.samples}
    predictions = [p for p in stored if p.id in selected]
    scored = score_predictions(plan.task, predictions, req.seed, scorer_name=plan.scorer_name,
                               options=plan.scorer_options, warn_unknown=False)  # load_samples warned
    meta = run_meta(plan, world.size, [t for t in timings if t is not None], len(stored), predictions)
    doc = metrics_document(plan.task, req.model, scored, meta.to_dict())
    write_metrics(plan.out_dir, doc)
    frac = failed_fraction(scored.per_source)
    if frac > req.max_failed_fraction:
        reasons = "; ".join(f"{n} x {why}" for why, n in meta.failure_reasons.items())
        raise RunFailedError(
            f"{frac:.1%} of samples failed (threshold {req.max_failed_fraction:.1%}): {reasons}. "
            f"Details in the 'error' fields of {plan.out_dir / 'predictions.jsonl'}; after fixing the cause, "
            f"rerun the same command with --retry-failed"
        )
    return doc, plan.out_dir


def run_meta(plan: RunPlan, world_size: int, timings: list[Timing], n_stored: int, predictions) -> RunMeta:
    """The provenance block. Timing, batch size and truncation come from the scored predictions
    themselves (what each row records), so a resumed or re-scored run reports the whole run; the
    batching details of this invocation are added when it generated anything."""
    req = plan.request
    totals = run_totals(predictions)
    timing = totals["timing"]
    if timing is not None and timings:
        invocation = Timing.combine(timings)
        timing = {**{k: v for k, v in invocation.items() if k not in timing}, **timing}
    return RunMeta(
        model=plan.adapter.describe(),
        batch_size=req.batch_size if totals["batch_size"] is None else totals["batch_size"],
        max_audio_s=req.max_audio_s, world_size=world_size, generation=plan.generation.to_dict(),
        prompt_hash=plan.prompt_hash, output_rules=plan.identity["output_rules"], fingerprint=plan.fingerprint,
        manifest_sha256=plan.manifest_sha256, data_sha256=plan.data_sha256, audio_decoder=plan.decoder, libraries=plan.identity["libraries"],
        n_samples=len(plan.samples), n_stored=n_stored, limit=req.limit, seed=req.seed, hardware=hardware(),
        timing=timing, n_truncated_audio=totals["n_truncated_audio"], failure_reasons=failure_reasons(predictions),
    )
