"""Which GPUs a vLLM engine gets (no vLLM needed): a rank's first GPU and the tensor-parallel
group after it; the CPU and a plain `cuda` leave the process's devices alone."""

from __future__ import annotations

import pytest

from model_adapters.vllm_engine import visible_devices
from qa_eval.distributed import World


@pytest.mark.parametrize("device, tp, expected", [
    ("cpu", 1, None), ("cuda", 2, None), ("cuda:0", 1, "0"), ("cuda:3", 1, "3"), ("cuda:2", 2, "2,3"),
    ("cuda:4", 4, "4,5,6,7"),
])
def test_visible_devices(device: str, tp: int, expected: str | None) -> None:
    assert visible_devices(device, tp) == expected


def test_torchrun_ranks_take_disjoint_tensor_parallel_groups(monkeypatch) -> None:
    import torch

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 8)
    groups = [visible_devices(World(rank, 4, rank).device_for("cuda", 2), 2) for rank in range(4)]
    assert groups == ["0,1", "2,3", "4,5", "6,7"]
    assert World(1, 2, 1).device_for("cuda") == "cuda:1"  # one GPU per rank, as before
    assert World(1, 2, 1).device_for("cpu", 2) == "cpu"
