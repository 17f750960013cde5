"""Several processes, one model: PyTorch DistributedDataParallel, set up from torchrun's
environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT).

    torchrun --nproc_per_node=4 -m convnext_nb run improved

Every rank draws the same global batch (same seed, same epoch) and keeps its rows
rank::world_size; DDP averages the gradients, so a step equals one step on the whole batch.
This module only sets up and shards; `engine.train` decides when to use it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn


@dataclass(frozen=True)
class Dist:
    """This process's place among `world_size` training processes."""

    rank: int
    world_size: int
    owns_group: bool = False  # True when train created the process group (and ends it)

    @property
    def is_main(self) -> bool:
        """Rank 0 writes the checkpoints, the history and the printed lines."""
        return self.rank == 0

    def shard(self, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's rows of a global batch: X (N, ...) -> (about N / world_size, ...)."""
        return X[self.rank :: self.world_size], y[self.rank :: self.world_size]

    def sum(self, values: torch.Tensor) -> torch.Tensor:
        """Sum over all ranks (in place; a device-side collective, no host sync)."""
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
        return values


def world_size_from_env() -> int:
    """WORLD_SIZE as torchrun sets it; 1 outside torchrun."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def local_device(device: torch.device) -> torch.device:
    """This process's GPU under torchrun (cuda:LOCAL_RANK, made the current one); else `device`.

    Call it before putting data on the GPU, so that each rank keeps its data on its own GPU.
    """
    if device.type != "cuda" or world_size_from_env() <= 1:
        return device
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    torch.cuda.set_device(device)
    return device


def setup(device: torch.device) -> tuple[Dist | None, torch.device]:
    """Join the process group when torchrun started several processes; else (None, device).

    Backend nccl on CUDA (each rank on GPU LOCAL_RANK), gloo on CPU.
    """
    if world_size_from_env() <= 1:
        return None, device
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1, but this PyTorch build has no torch.distributed.")
    if device.type not in ("cuda", "cpu"):
        raise ValueError(f"multi-process training runs on CUDA or CPU, not {device.type}.")
    device = local_device(device)
    owns = not dist.is_initialized()
    if owns:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Dist(dist.get_rank(), dist.get_world_size(), owns), device


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """DistributedDataParallel around `model` (it broadcasts rank 0's weights to all ranks)."""
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def teardown(d: Dist | None) -> None:
    """Wait for every rank (rank 0's files are written by then); end the group if ours."""
    if d is None or not dist.is_initialized():
        return
    dist.barrier()
    if d.owns_group:
        dist.destroy_process_group()
