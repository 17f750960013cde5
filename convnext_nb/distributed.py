"""Several processes, one model: PyTorch DistributedDataParallel, set up from torchrun's
environment (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT).

    torchrun --nproc_per_node=4 -m convnext_nb run improved

Every rank draws the same global batch (same seed, same epoch) and keeps its rows
rank::world_size; DDP averages the gradients, so a step equals one step on the whole batch.
Rank 0 alone writes files and prints; what it decides (load or train, a budget's cut) reaches
the other ranks through `from_main`, its errors included, so that no rank waits for ever.
This module only sets up, shards and shares; `engine.train` and `run_experiment` use it.
"""

from __future__ import annotations

import atexit
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

import torch
import torch.distributed as dist
import torch.nn as nn

T = TypeVar("T")


@dataclass(frozen=True)
class Dist:
    """This process's place among `world_size` training processes."""

    rank: int
    world_size: int

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


class MainRankError(RuntimeError):
    """What the other ranks raise when rank 0 failed in `from_main` (rank 0 reports the error)."""


def world_size_from_env() -> int:
    """WORLD_SIZE as torchrun sets it; 1 outside torchrun."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank_from_env() -> int:
    """RANK as torchrun sets it; 0 outside torchrun (known before the process group exists)."""
    return int(os.environ.get("RANK", "0"))


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
    if not dist.is_initialized():  # once per process: a second group on torchrun's store can hang
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        atexit.register(_end_group)
    return Dist(dist.get_rank(), dist.get_world_size()), device


def _end_group() -> None:
    if dist.is_initialized():
        dist.destroy_process_group()


def wrap(model: nn.Module, device: torch.device) -> nn.Module:
    """DistributedDataParallel around `model` (it broadcasts rank 0's weights to all ranks)."""
    for p in model.parameters():  # (1, 1, 1, C) GRN weights after channels_last: give them
        if p.dim() == 4 and p.shape[:3] == (1, 1, 1):  # the strides their gradients get
            p.data = p.data.clone(memory_format=torch.contiguous_format)
    ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=ids)


def barrier(d: Dist | None) -> None:
    """Wait for every rank (rank 0's files are written by then). Skipped after an error: the
    other ranks may never come, and torchrun stops them when this one exits."""
    if d is not None and dist.is_initialized():
        dist.barrier()


@contextmanager
def group(device: torch.device) -> Iterator[tuple[Dist | None, torch.device]]:
    """`setup`, then the block, then a `barrier` (the group lives until the process exits)."""
    d, device = setup(device)
    yield d, device
    barrier(d)


def share(d: Dist | None, value: T) -> T:
    """Rank 0's `value` on every rank (a pickled broadcast; every rank must call it)."""
    if d is None:
        return value
    box = [value]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def from_main(d: Dist | None, fn: Callable[[], T]) -> T:
    """fn() run by rank 0 alone; every rank gets its result. When fn fails, rank 0 raises its
    error and the other ranks a `MainRankError` (none is left waiting). Without `d`: fn()."""
    if d is None:
        return fn()
    result, error = None, None
    if d.is_main:
        try:
            result = fn()
        except Exception as err:
            error = err
    result, message = share(d, (result, None if error is None else f"{error}"))
    if error is not None:
        raise error
    if message is not None:
        raise MainRankError(f"rank 0 failed: {message}")
    return result


@contextmanager
def main_first(d: Dist | None) -> Iterator[None]:
    """Run the block on rank 0, then on the other ranks (e.g. rank 0 writes files they read)."""
    if d is not None and not d.is_main:
        from_main(d, lambda: None)  # wait for rank 0's block; its error, if any
        yield
        return
    with_error = None
    try:
        yield
    except Exception as err:
        with_error = err
    from_main(d, lambda: _reraise(with_error))


def _reraise(error: Exception | None) -> None:
    if error is not None:
        raise error
