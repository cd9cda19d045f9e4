"""Importing every task module (and data preparation, prompt renderers) never imports torch."""

from __future__ import annotations

import subprocess
import sys

MODULES = [
    "tasks.librispeech", "tasks.aishell", "tasks.covost2", "tasks.clotho", "tasks.clothoaqa",
    "tasks.classification", "tasks.nsynth", "tasks.srwt", "qa_eval.prepare",
    "model_adapters.qwen_audio.prompt", "model_adapters.qwen2_audio.prompt", "model_adapters.whisper.prompt",
]


def test_task_modules_do_not_import_torch():
    code = (
        "import importlib, sys\n"
        f"for m in {MODULES!r}: importlib.import_module(m)\n"
        "from qa_eval import registry\n"
        "for n in registry.names('task'): registry.load('task', n)\n"
        "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "", f"torch imported: {done.stdout.strip()}"
