"""Loading real adapters on their test checkpoints (shared by the adapter test folders)."""

from __future__ import annotations


def loaded_adapter(adapter_cls, checkpoint):
    """An adapter of `adapter_cls` on `checkpoint`, float32 on the CPU, loaded."""
    from qa_eval.adapter import ModelOptions

    adapter = adapter_cls(ModelOptions(str(checkpoint), "cpu", "float32"))
    adapter.load()
    return adapter


def plan_ids(plan, batch_size: int = 8) -> list[list[int]]:
    """The greedy ids of every sample of a run plan, in manifest order, its adapter loaded and
    fed `batch_size` samples at a time (as the run feeds it)."""
    from qa_eval.adapter import AudioInput
    from qa_eval.audio import load_audio

    plan.adapter.load()
    inputs = [AudioInput(s, plan.prompts[s.id], tuple(load_audio(a) for a in s.audio), plan.intents[s.id])
              for s in plan.samples]
    return [ids for i in range(0, len(inputs), batch_size)
            for ids in plan.adapter.generate_ids(inputs[i:i + batch_size], plan.generation)]


def stored_rows(folder) -> dict[str, dict]:
    """The complete prediction rows of a run folder by id (a line torn by a kill is left out)."""
    import json
    from pathlib import Path

    out = {}
    for line in (Path(folder) / "predictions.jsonl").read_text(encoding="utf-8").splitlines():
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue
        out[row["id"]] = row
    return out
