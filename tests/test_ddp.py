"""DistributedDataParallel on CPU: two processes on the gloo backend, as torchrun starts them.

Both ranks must end with identical weights, equal (within float rounding) to one process
training on the same global batches; only rank 0 writes files; resume works across processes.
"""

from __future__ import annotations

import os
import socket

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from test_engine import TinyNet, loaders

from convnext_nb import engine, make_optimizer, train

pytestmark = pytest.mark.skipif(
    not dist.is_available() or not dist.is_gloo_available(),
    reason="this PyTorch build has no torch.distributed gloo backend",
)
EPOCHS = 3


def run(checkpoint_dir, stop_after: int | None = None, resume: bool = False):
    """Train TinyNet (no dropout, so every process draws the same masks: none)."""
    torch.manual_seed(0)
    model = TinyNet(p_drop=0.0)
    opt = make_optimizer("adamw", model, lr=1e-2)
    callbacks = [lambda h: h.epochs == stop_after] if stop_after else []
    history = train(
        model, opt, *loaders(), epochs=EPOCHS, seed=0, device="cpu", lr_schedule="cosine",
        checkpoint_dir=checkpoint_dir, resume=resume, callbacks=callbacks, progress=False,
    )  # fmt: skip
    return model, history


def worker(rank: int, world_size: int, ports: tuple[int, int], folder: str) -> None:
    """One rank, with the environment torchrun gives it; train sets up the process group."""
    os.environ.update(MASTER_ADDR="127.0.0.1", RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world_size), GLOO_SOCKET_IFNAME="lo")  # fmt: skip
    torch.set_num_threads(1)
    writes = []
    save = engine.save_checkpoint
    engine.save_checkpoint = lambda path, ckpt: writes.append(path) or save(path, ckpt)
    os.environ["MASTER_PORT"] = str(ports[0])
    run(folder, stop_after=1)  # stopped after epoch 1 ...
    os.environ["MASTER_PORT"] = str(ports[1])
    model, history = run(folder, resume=True)  # ... and resumed, as a new torchrun job would
    torch.save({"model": model.state_dict(), "history": history.to_dict(), "writes": writes},
               f"{folder}/rank{rank}.pt")  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_train_like_one(tmp_path):
    ports = (free_port(), free_port())
    mp.spawn(worker, args=(2, ports, str(tmp_path / "ddp")), nprocs=2, join=True)
    ranks = [torch.load(tmp_path / "ddp" / f"rank{r}.pt", weights_only=True) for r in (0, 1)]
    model, single = run(tmp_path / "single")

    w0, w1 = ranks[0]["model"], ranks[1]["model"]
    assert all(torch.equal(w0[k], w1[k]) for k in w0)  # DDP keeps the ranks identical
    for k, v in model.state_dict().items():  # and equal to one process on the whole batch
        assert torch.allclose(w0[k], v, atol=1e-5), k
    h0, h1 = ranks[0]["history"], ranks[1]["history"]
    del h0["epoch_time"], h1["epoch_time"]
    assert h0 == h1 and h0["status"] == "completed" and len(h0["train_loss"]) == EPOCHS
    assert h0["val_acc"] == single.val_acc
    assert h0["train_loss"] == pytest.approx(single.train_loss, rel=1e-5)
    assert ranks[1]["writes"] == [] and len(ranks[0]["writes"]) >= 2  # rank 0 writes alone
    assert sorted(p.name for p in (tmp_path / "ddp").glob("*.json")) == ["history.json"]


def test_several_processes_need_a_seed(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")  # as torchrun sets it; no process group is started
    model = TinyNet()
    with pytest.raises(ValueError, match="seed="):
        train(model, make_optimizer("sgd", model), *loaders(), device="cpu", progress=False)
    assert not dist.is_initialized()
