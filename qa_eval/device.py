"""Devices: resolve `auto`, check that the asked-for device exists, and how much memory is free.

Everything here is checked before any model loads, so a typo in `--device` is one clear line.
"""

from __future__ import annotations

import re

from qa_eval.errors import AdapterError, ConfigError

_CUDA = re.compile(r"^cuda(:\d+)?$")


def resolve_device(device: str) -> str:
    """"auto" -> "cuda" when a CUDA device is usable, else "cpu"; other values are checked."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    check_device(device)
    return device


def resolve_dtype(dtype: str, device: str) -> str:
    """"auto" -> bfloat16 on CUDA, float32 elsewhere (other values are checked by ModelOptions)."""
    if dtype != "auto":
        return dtype
    return "bfloat16" if device.startswith("cuda") else "float32"


def check_device(device: str) -> None:
    """ConfigError unless `device` names a device this machine has ("cpu", "cuda", "cuda:N", "mps")."""
    import torch

    if device == "cpu":
        return
    if _CUDA.match(device):
        n = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(device.split(":")[1]) if ":" in device else 0
        if index >= n:
            have = f"{n} CUDA device(s) (cuda:0..cuda:{n - 1})" if n else "no usable CUDA device"
            raise ConfigError(f"--device {device}: this machine has {have}; use --device cpu or auto")
        return
    if device == "mps":
        if not (hasattr(torch.backends, "mps") and torch.backends.mps.is_available()):
            raise ConfigError("--device mps: Apple's MPS backend is not available here; use --device cpu or auto")
        return
    raise ConfigError(f"--device {device!r}: expected cpu, cuda, cuda:N, mps or auto")


def free_memory_bytes(device: str) -> int:
    """Bytes a new allocation can still get on `device`: CUDA free + what torch's caching
    allocator holds unused; elsewhere MemAvailable from /proc/meminfo (Linux)."""
    import torch

    if device.startswith("cuda"):
        dev = torch.device(device)
        free, _ = torch.cuda.mem_get_info(dev)
        return int(free + torch.cuda.memory_reserved(dev) - torch.cuda.memory_allocated(dev))
    try:
        with open("/proc/meminfo") as f:
            info = dict(line.split(":", 1) for line in f)
        return int(info["MemAvailable"].split()[0]) * 1024
    except (OSError, KeyError, ValueError):
        raise AdapterError("cannot read free memory (/proc/meminfo): pass a number to --batch-size") from None
