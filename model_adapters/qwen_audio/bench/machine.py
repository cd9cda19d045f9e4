"""What the machine can do (measured matmul rate and copy bandwidth) and peak memory readings."""

from __future__ import annotations

import time
from pathlib import Path


def sync(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.synchronize()


def reset_peak(device: str) -> None:
    import torch

    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    else:
        try:  # "5" resets the process's peak RSS (VmHWM), Linux >= 4.0
            Path("/proc/self/clear_refs").write_text("5")
        except OSError:
            pass


def peak_memory(device: str) -> int:
    """Peak bytes since reset_peak: CUDA max allocated, or the process's VmHWM (peak RSS)."""
    import torch

    if device.startswith("cuda"):
        return int(torch.cuda.max_memory_allocated())
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def measure_machine(device: str, dtype) -> dict[str, float]:
    """Measured dense matmul rate (FLOP/s, in `dtype`) and copy bandwidth (bytes/s, read + write)."""
    import torch

    n = 2048 if device == "cpu" else 8192
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    best = float("inf")
    for _ in range(4):
        sync(device)
        t0 = time.perf_counter()
        a @ b
        sync(device)
        best = min(best, time.perf_counter() - t0)
    flops = 2 * n**3 / best
    del a, b
    x = torch.empty(64 << 20 if device == "cpu" else 512 << 20, device=device, dtype=torch.float32).fill_(1.0)
    y = torch.empty_like(x)
    best = float("inf")
    for _ in range(5):
        sync(device)
        t0 = time.perf_counter()
        y.copy_(x)
        sync(device)
        best = min(best, time.perf_counter() - t0)
    bw = 2 * x.numel() * x.element_size() / best
    return {"matmul_flops_per_s": flops, "matmul_n": n, "copy_bytes_per_s": bw}
