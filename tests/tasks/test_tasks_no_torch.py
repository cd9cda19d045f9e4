"""Importing every task module (and data preparation, prompt renderers, task files) never imports torch."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"

MODULES = [
    "tasks.librispeech", "tasks.aishell", "tasks.covost2", "tasks.clotho", "tasks.clothoaqa",
    "tasks.classification", "tasks.nsynth", "tasks.srwt", "tasks.mmau", "tasks.common_voice",
    "tasks.fleurs", "qa_eval.prepare",
    "qa_eval.task_families", "qa_eval.task_file",
    "model_adapters.qwen_audio.prompt", "model_adapters.qwen2_audio.prompt", "model_adapters.whisper.prompt",
]


def test_task_modules_do_not_import_torch():
    code = (
        "import importlib, sys\n"
        f"for m in {MODULES!r}: importlib.import_module(m)\n"
        "from qa_eval import registry\n"
        "for n in registry.names('task'): registry.load('task', n)\n"
        "from qa_eval.task_file import task_files_in\n"  # task files name their scorer (paper metrics)
        f"assert len(task_files_in({str(EXAMPLES)!r})) == 3\n"
        "bad = sorted(m for m in sys.modules if m == 'torch' or m.startswith('torch.'))\n"
        "print(','.join(bad))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "", f"torch imported: {done.stdout.strip()}"
