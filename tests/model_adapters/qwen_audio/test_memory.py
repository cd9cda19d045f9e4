"""`--batch-size auto`: the engine's per-row memory estimate against the measured peak.

A subprocess builds a random Qwen-Audio model (real vocabulary, a layout where the cache and
prefill activations matter), runs one batch through the engine, and reports the growth of its
peak resident memory (Linux VmHWM, reset through /proc/self/clear_refs). The estimate must not
be below the measurement (a batch it admits must fit) nor far above it (batches would be
needlessly small). Measured while writing this: 1.6x and 1.9x over for this test's two
layouts, 1.9-2.7x for the bench's small shape on four layouts.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from model_adapters.qwen_audio.config import QwenAudioConfig
from model_adapters.qwen_audio.memory import memory_budget, row_bytes
from model_adapters.testing.qwen_audio import config_dict, tiny_config_dict

ROOT = Path(__file__).resolve().parents[3]

PROBE = r"""
import json, sys, torch
from model_adapters.qwen_audio.bench.modes import build_engine
from model_adapters.qwen_audio.bench.workload import PROMPT, synth_clip
from model_adapters.qwen_audio.memory import encoder_reserve, row_bytes
torch.set_num_threads(2)
cfg_dict, b, secs, new = json.loads(sys.argv[1])
pipe = build_engine(cfg_dict, "cpu", "float32")
prepared = [pipe.prepare(PROMPT, [synth_clip(secs, i)]) for i in range(b)]
pipe.run(prepared[:1], 2, 2)  # warm-up: one-time allocations are not the batch's
def status(key):
    return next(int(l.split()[1]) * 1024 for l in open("/proc/self/status") if l.startswith(key))
open("/proc/self/clear_refs", "w").write("5")
base = status("VmRSS")
pipe.run(prepared, new, new)
cfg = pipe.model.config
print(json.dumps({"measured": status("VmHWM") - base,
                  "estimate": b * row_bytes(cfg, 4, new, secs) + encoder_reserve(cfg, 4)}))
"""


def _clear_refs_works() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _clear_refs_works(), reason="needs Linux /proc/self/clear_refs to reset the peak RSS")
@pytest.mark.parametrize("rows,seconds,new_tokens", [(8, 20.0, 16), (24, 4.0, 8)])
def test_estimate_covers_measured_peak(rows, seconds, new_tokens):
    cfg = tiny_config_dict(hidden=256, layers=4, heads=4, enc_state=128, enc_layers=2, enc_heads=4)
    proc = subprocess.run([sys.executable, "-c", PROBE, json.dumps([cfg, rows, seconds, new_tokens])],
                          cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    ratio = out["estimate"] / out["measured"]
    assert 1.0 <= ratio <= 3.5, out


def test_budget_gives_fewer_rows_for_longer_clips():
    cfg = QwenAudioConfig.from_dict(config_dict(), "full")
    budget = memory_budget(cfg, 2, 256, free_bytes=60 * 2**30)  # an H100 after 16 GiB of bf16 weights
    assert budget.max_rows(30.0) < budget.max_rows(10.0) < budget.max_rows(2.0)
    # full size, bf16, 30 s: the cache alone is 2 x 32 layers x (814 + 256) tokens x 4096 x 2 B
    assert row_bytes(cfg, 2, 256, 30.0) > 2 * 32 * (814 + 256) * 4096 * 2
    assert budget.max_rows(30.0) >= 16
    assert memory_budget(cfg, 2, 256, free_bytes=2**30).max_rows(30.0) == 1  # never 0
