"""Multi-process runs under torchrun / torch.distributed.

Each rank takes a deterministic, duration-balanced share of the samples, appends to its own
predictions shard, and rank 0 merges the shards in manifest order and scores once. Nothing
here runs unless WORLD_SIZE > 1: a plain `qa-eval run` is one process with no process group.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from typing import Any, Sequence

from qa_eval.errors import ConfigError
from qa_eval.records import Sample


@dataclass(frozen=True)
class World:
    """This process's place in the run (rank 0 of 1 for a plain run)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @classmethod
    def from_env(cls) -> "World":
        size = int(os.environ.get("WORLD_SIZE", "1"))
        if size <= 1:
            return cls()
        return cls(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))

    def init(self) -> None:
        """Join the process group; no-op for one process. Always gloo: the ranks only exchange
        a barrier and a few small objects (timings), and gloo, unlike NCCL, also lets several
        ranks share one GPU."""
        if self.size == 1:
            return
        import torch.distributed as dist

        if not dist.is_initialized():
            dist.init_process_group("gloo")

    def barrier(self) -> None:
        if self.size > 1:
            import torch.distributed as dist

            dist.barrier()

    def gather(self, obj: Any) -> list[Any]:
        """Every rank's `obj`, in rank order (on every rank)."""
        if self.size == 1:
            return [obj]
        import torch.distributed as dist

        out: list[Any] = [None] * self.size
        dist.all_gather_object(out, obj)
        return out

    def close(self) -> None:
        if self.size > 1:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()

    def device_for(self, device: str, gpus_per_rank: int = 1) -> str:
        """`cuda` becomes `cuda:LOCAL_RANK * gpus_per_rank`, the first of this rank's own GPUs
        (a tensor-parallel engine takes `gpus_per_rank` from there; ranks share the GPUs
        round-robin when there are more ranks than GPUs)."""
        if self.size > 1 and device == "cuda":
            import torch

            return f"cuda:{(self.local_rank * gpus_per_rank) % max(1, torch.cuda.device_count())}"
        return device


def shard(samples: Sequence[Sample], rank: int, size: int) -> list[Sample]:
    """This rank's samples: longest-first greedy assignment to the least-loaded rank (by audio
    seconds, ties to the lowest rank). Deterministic: every rank computes the same split."""
    if size == 1:
        return list(samples)
    load = [0.0] * size
    mine: list[Sample] = []
    order = sorted(range(len(samples)), key=lambda i: (-(samples[i].duration_s or 0.0), i))
    for i in order:
        target = min(range(size), key=lambda r: (load[r], r))
        load[target] += samples[i].duration_s or 0.0
        if target == rank:
            mine.append(samples[i])
    return mine


def torchrun_command(argv: Sequence[str], nproc: int) -> list[str]:
    """The torchrun command line equivalent to `qa-eval run ... --launcher torchrun`."""
    if nproc < 1:
        raise ConfigError(f"--nproc-per-node must be >= 1, got {nproc}")
    rest = []
    skip = False
    for i, arg in enumerate(argv):
        if skip:
            skip = False
            continue
        if arg in ("--launcher", "--nproc-per-node"):
            skip = True
            continue
        if arg.startswith(("--launcher=", "--nproc-per-node=")):
            continue
        rest.append(arg)
    return [sys.executable, "-m", "torch.distributed.run", "--standalone",
            f"--nproc-per-node={nproc}", "-m", "qa_eval", *rest]
