"""Out of memory on purpose, to prove the run loop's back-off: a simulated allocator limit on any
device, and a real one on CUDA (`torch.cuda.set_per_process_memory_fraction`).

`forced_oom_check` builds the case the back-off exists for: a device on which `fits` rows of a
batch fit and `fits + 1` do not. It decodes every input alone first (the reference), then all
inputs in one `BatchRunner` call under the limit, and finally tries two inputs under a limit that
not even one row fits. `python -m model_adapters.testing.oom` runs it on a random Qwen-Audio
checkpoint and writes the report as JSON (part of `make gpu-check`).
"""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
from torch.overrides import TorchFunctionMode

from qa_eval.adapter import AudioInput, ModelAdapter
from qa_eval.errors import OutOfMemoryAtBatchSizeOne
from qa_eval.records import GenerationConfig
from qa_eval.run.loop import BatchRunner


class AllocationLimit(TorchFunctionMode):
    """Every tensor a torch call inside a model's forward creates above `max_bytes` raises
    torch.cuda.OutOfMemoryError, as a device allocator would (limit None: only record the largest
    allocation). A torch function mode (public `torch.overrides` API) sees every torch call the
    adapter's Python code makes; global module hooks (`torch.nn.modules.module`) say when a
    module's forward runs: what runs outside one (a processor's feature extraction, which stays
    on the CPU of a GPU machine) never counts."""

    def __init__(self, max_bytes: int | None = None) -> None:
        super().__init__()
        self.max_bytes, self.largest = max_bytes, 0
        self._depth = 0
        self._hooks: list[Any] = []

    def __enter__(self):
        from torch.nn.modules.module import register_module_forward_hook, register_module_forward_pre_hook

        def enter(module, args):
            self._depth += 1

        def leave(module, args, output):
            self._depth -= 1

        self._hooks = [register_module_forward_pre_hook(enter), register_module_forward_hook(leave, always_call=True)]
        return super().__enter__()

    def __exit__(self, *exc):
        for hook in self._hooks:
            hook.remove()
        self._depth = 0
        return super().__exit__(*exc)

    def __torch_function__(self, func, types, args=(), kwargs=None):
        out = func(*args, **(kwargs or {}))
        if self._depth <= 0:
            return out
        for t in _tensors(out):
            if t.device.type != "meta":
                size = t.numel() * t.element_size()
                self.largest = max(self.largest, size)
                if self.max_bytes is not None and size > self.max_bytes:
                    raise torch.cuda.OutOfMemoryError(f"CUDA out of memory. Tried to allocate {size} bytes "
                                                      f"(simulated limit {self.max_bytes})")
        return out


def _tensors(value: Any) -> Iterator[torch.Tensor]:
    """The tensors in a torch call's result (a tensor, or tuples/lists/dicts of them)."""
    if isinstance(value, torch.Tensor):
        yield value
    elif isinstance(value, (tuple, list)):
        for v in value:
            yield from _tensors(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _tensors(v)


@contextmanager
def cuda_cap(device: str, max_bytes: int) -> Iterator[None]:
    """Let the caching allocator of `device` hold at most `max_bytes` (then back to no cap)."""
    dev = torch.device(device)
    total = torch.cuda.get_device_properties(dev).total_memory
    torch.cuda.empty_cache()
    torch.cuda.set_per_process_memory_fraction(min(1.0, max_bytes / total), dev)
    try:
        yield
    finally:
        torch.cuda.set_per_process_memory_fraction(1.0, dev)
        torch.cuda.empty_cache()


def peak_bytes(adapter: ModelAdapter, inputs: Sequence[AudioInput], config: GenerationConfig) -> int:
    """What decoding `inputs` as one batch needs at its peak: the device's peak allocated bytes
    on CUDA, the largest single allocation elsewhere."""
    device = adapter.options.device
    if device.startswith("cuda"):
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        adapter.generate(list(inputs), config)
        torch.cuda.synchronize(device)
        return int(torch.cuda.max_memory_allocated(device))
    with AllocationLimit() as record:
        adapter.generate(list(inputs), config)
    return record.largest


@contextmanager
def memory_limit(adapter: ModelAdapter, max_bytes: int) -> Iterator[None]:
    """The real cap on CUDA, the simulated one elsewhere."""
    if adapter.options.device.startswith("cuda"):
        with cuda_cap(adapter.options.device, max_bytes):
            yield
    else:
        with AllocationLimit(max_bytes):
            yield


def forced_oom_check(adapter: ModelAdapter, inputs: Sequence[AudioInput], config: GenerationConfig,
                     fits: int = 2) -> dict[str, Any]:
    """The back-off report (see the module docstring); `ok` says whether everything held."""
    reference = [BatchRunner(adapter, config)([x])[0] for x in inputs]
    small, large = peak_bytes(adapter, inputs[:fits], config), peak_bytes(adapter, inputs[:fits + 1], config)
    runner = BatchRunner(adapter, config)
    with memory_limit(adapter, (small + large) // 2):
        got = runner(inputs)
    report: dict[str, Any] = {
        "device": adapter.options.device, "inputs": len(inputs), "fits_rows": fits,
        "peak_bytes_fits": small, "peak_bytes_one_more": large, "limit_bytes": (small + large) // 2,
        "n_backoffs": runner.n_backoffs, "learnt_batch_size": runner.max_batch,
        "n_failed": sum(g.error is not None for g in got),
        "same_outputs_as_alone": [g.token_ids for g in got] == [g.token_ids for g in reference],
    }
    one = peak_bytes(adapter, inputs[:1], config)
    floor = int(torch.cuda.memory_allocated(adapter.options.device)) if adapter.options.device.startswith("cuda") else 0
    try:
        with memory_limit(adapter, floor + (one - floor) // 4 if floor else one - 1):
            BatchRunner(adapter, config)(inputs[:2])
        report["batch_size_one_error"] = None
    except OutOfMemoryAtBatchSizeOne as exc:
        report["batch_size_one_error"] = str(exc)[:300]
    report["ok"] = bool(report["n_backoffs"] >= 1 and report["learnt_batch_size"] is not None
                        and report["learnt_batch_size"] <= fits and report["n_failed"] == 0
                        and report["same_outputs_as_alone"] and report["batch_size_one_error"])
    return report


def main(argv: Sequence[str] | None = None) -> int:
    """Run the check on a random Qwen-Audio checkpoint at --shape; writes --out (JSON)."""
    from model_adapters.qwen_audio.adapter import QwenAudioAdapter
    from model_adapters.qwen_audio.bench.end_to_end import DEFAULT_WORKDIR, random_checkpoint
    from model_adapters.qwen_audio.bench.workload import PROMPT, synth_clip
    from qa_eval.adapter import ModelOptions
    from qa_eval.records import Sample

    p = argparse.ArgumentParser(prog="python -m model_adapters.testing.oom", description=__doc__)
    p.add_argument("--shape", default="tiny", choices=["tiny", "small", "full"])
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float32")
    p.add_argument("--clips", type=int, default=6)
    p.add_argument("--workdir", default=str(DEFAULT_WORKDIR))
    p.add_argument("--out", required=True)
    args = p.parse_args(argv)
    checkpoint = random_checkpoint(Path(args.workdir), args.shape, args.dtype)
    adapter = QwenAudioAdapter(ModelOptions(str(checkpoint), args.device, args.dtype))
    adapter.load()
    inputs = [AudioInput(Sample(f"clip{i}", "oom", (f"clip{i}.flac",), "", duration_s=8.0), PROMPT, (synth_clip(8.0, i),))
              for i in range(args.clips)]
    report = forced_oom_check(adapter, inputs, GenerationConfig(16, 16))
    Path(args.out).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(report, indent=2))
    return 0 if report["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
