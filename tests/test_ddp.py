"""DistributedDataParallel on CPU: two processes on the gloo backend, as torchrun starts them.

Both ranks must end with identical weights, equal (within float rounding) to one process
training on the same global batches; only rank 0 writes files; resume works across processes;
`torchrun ... -m convnext_nb run` trains once, writes once, prints once and reloads.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

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


def worker(rank: int, world_size: int, port: int, folder: str) -> None:
    """One rank, with the environment torchrun gives it; train sets up the process group."""
    os.environ.update(MASTER_ADDR="127.0.0.1", RANK=str(rank), LOCAL_RANK=str(rank),
                      WORLD_SIZE=str(world_size), GLOO_SOCKET_IFNAME="lo")  # fmt: skip
    torch.set_num_threads(1)
    writes = []
    save = engine.save_checkpoint
    engine.save_checkpoint = lambda path, ckpt: writes.append(path) or save(path, ckpt)
    os.environ["MASTER_PORT"] = str(port)
    run(folder, stop_after=1)  # stopped after epoch 1 ...
    model, history = run(folder, resume=True)  # ... and resumed, in the same process group
    torch.save({"model": model.state_dict(), "history": history.to_dict(), "writes": writes},
               f"{folder}/rank{rank}.pt")  # fmt: skip


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_processes_train_like_one(tmp_path):
    mp.spawn(worker, args=(2, free_port(), str(tmp_path / "ddp")), nprocs=2, join=True)
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


def run_to_end(command: list[str], env: dict[str, str], timeout: float) -> tuple[int, str]:
    """(exit status, stdout + stderr) of `command`; its whole process group killed (torchrun
    and its workers) and the test failed with their output if it runs past `timeout`."""
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)  # fmt: skip
    try:
        output = proc.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        pytest.fail(f"{command[2]} still running after {timeout} s:\n{proc.communicate()[0]}")
    return proc.returncode, output


def test_torchrun_cli_trains_once_then_reloads(tmp_path):
    """Two ranks run `convnext-nb run` twice each (tests/ddp_cli.py): rank 0 alone writes the
    run folder and prints; the second call loads the saved run on both ranks."""
    runs = tmp_path / "runs"
    argv = ["run", "test3_atto_radam", "--quick", "--epochs", "1", "--subset", "64", "--test",
            "--dataset", "fake_cifar100", "--runs-dir", str(runs), "--device", "cpu",
            "--no-progress"]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo",
           "XDG_CACHE_HOME": str(tmp_path / "cache"),  # fake CIFAR-100 written by rank 0 here
           "PYTHONPATH": os.pathsep.join([str(Path(__file__).parents[1]),
                                          os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
               "--monitor-interval=0.1", str(Path(__file__).with_name("ddp_cli.py")),
               str(tmp_path), *argv]  # fmt: skip
    code, output = run_to_end(command, env, timeout=120)
    assert code == 0, f"torchrun exited {code}:\n{output}"
    ranks = [json.loads((tmp_path / f"rank{r}.json").read_text()) for r in (0, 1)]
    first, second = zip(*ranks, strict=True)  # each: (rank 0's call, rank 1's call)

    folder = runs / "test3_atto_radam-fake_cifar100-quick"
    assert [p.name for p in runs.iterdir()] == [folder.name]  # no lock, nothing set aside
    files = {"config.json", "history.json", "last.pt", "best.pt"}
    assert {p.name for p in folder.iterdir()} == files
    assert {Path(f).name for f in first[0]["written"] if folder.name in f} == files
    assert first[1]["written"] == [] and first[1]["printed"] == ""  # rank 1: silent, no files
    summary = "test3_atto_radam-fake_cifar100-quick: best val acc"
    assert first[0]["printed"].count(summary) == 1 and "Epoch 1, loss" in first[0]["printed"]
    assert "test acc" in first[0]["printed"]

    assert [call["written"] for call in second] == [[], []]  # loaded, not retrained
    assert "Found saved run at" in second[0]["printed"] and "Epoch" not in second[0]["printed"]
    assert second[0]["printed"].count(summary) == 1 and second[1]["printed"] == ""
    saved = json.loads((folder / "config.json").read_text())
    assert saved["test_acc"] is not None and saved["settings"]["epochs"] == 1
