"""Provenance facts for metrics.json: the qa-eval source commit, library versions and the hardware."""

from __future__ import annotations

import platform
import subprocess
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any


@lru_cache(maxsize=1)
def git_sha() -> str | None:
    """The commit of the qa-eval source tree, when it is a git checkout."""
    root = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def library_versions(*dists: str) -> dict[str, str | None]:
    """Installed versions of the named distributions, read from their metadata without importing
    them (None when one is missing)."""
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str | None] = {}
    for d in dict.fromkeys(dists):
        try:
            out[d] = version(d)
        except PackageNotFoundError:
            out[d] = None
    return out


def hardware() -> dict[str, Any]:
    """What ran the model: CPU, accelerator (if torch is already loaded), Python."""
    info: dict[str, Any] = {"machine": platform.machine(), "python": platform.python_version()}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        info["cpu"] = platform.processor() or None
    torch = sys.modules.get("torch")
    if torch is not None:
        info["torch"] = torch.__version__
        info["cpu_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            info["gpus"] = [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
            info["cuda"] = torch.version.cuda
    return info
