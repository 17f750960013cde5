"""A run folder on disk: one process at a time, and a saved run kept until its retrain starts.

    with run_lock(Path("runs/improved-cifar100")):      # RunLockedError if another process has it
        aside = set_aside(path)                           # force=True: the saved run waits aside
        ... train into path ...
        settle(path, aside)                               # drop it, or put it back

The lock is a file beside the folder (`runs/.<name>.lock`) holding the pid, host and start time
of the process that trains the run. A second process gets a clear error naming them; a lock left
by a process that is gone (killed, crashed) is removed with a message. A retrained run keeps the
saved one in `runs/.<name>.replaced` until the new run has finished an epoch: if it fails or is
interrupted before, the saved run is put back, now or by the next process that takes the lock.

This module only handles files; it knows nothing of models or training (experiments.py does).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

FINISHED_MARKER = "last.pt"  # a run folder holding this has finished at least one epoch
WRITE_GRACE_S = 5.0  # a lock file younger than this may still be being written


class RunLockedError(RuntimeError):
    """Another live process is training this run."""


def lock_path(path: Path) -> Path:
    return path.parent / f".{path.name}.lock"


def aside_path(path: Path) -> Path:
    return path.parent / f".{path.name}.replaced"


def _pid_alive(pid: int) -> bool:
    if os.name == "nt":  # os.kill would terminate the process on Windows
        import ctypes

        handle = ctypes.windll.kernel32.OpenProcess(0x1000, False, pid)  # QUERY_LIMITED_INFO
        if not handle:
            return False
        code = ctypes.c_ulong()
        ctypes.windll.kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        ctypes.windll.kernel32.CloseHandle(handle)
        return code.value == 259  # STILL_ACTIVE
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, owned by another user
        return True
    return True


def _read_lock(lock: Path) -> dict[str, Any] | None:
    try:
        info = json.loads(lock.read_text())
        return info if isinstance(info, dict) and isinstance(info.get("pid"), int) else {}
    except FileNotFoundError:
        return None  # released meanwhile
    except (OSError, ValueError):
        return {}  # unreadable: treated as stale


def _try_create(lock: Path, info: dict[str, Any]) -> bool:
    """Create `lock` only if it does not exist (O_EXCL: atomic on every filesystem)."""
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w") as f:
        json.dump(info, f)
    return True


def _being_written(lock: Path) -> bool:
    """An empty or unreadable lock a few seconds old: its creator may still be writing it."""
    try:
        return time.time() - lock.stat().st_mtime < WRITE_GRACE_S
    except FileNotFoundError:
        return False


def _held_by(path: Path, holder: dict[str, Any]) -> str:
    me = " (this process)" if holder["pid"] == os.getpid() else ""
    return (f"run {path.name} is being trained by process {holder['pid']}{me} on "
            f"{holder.get('host', '?')} since {holder.get('started', '?')}")  # fmt: skip


@contextmanager
def run_lock(path: Path, log: Callable[[str], None] = print) -> Iterator[None]:
    """Hold the lock of run folder `path` (created beside it) for the duration of the block.

    Raises RunLockedError when a live process holds it; removes (and says so) a lock whose
    process is gone. A lock from another host cannot be checked: the error says how to remove it.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = lock_path(path)
    info = {"pid": os.getpid(), "host": socket.gethostname(),
            "started": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime())}  # fmt: skip
    while not _try_create(lock, info):
        holder = _read_lock(lock)
        if holder is None:
            continue
        if not holder and _being_written(lock):
            time.sleep(0.1)
            continue
        if holder and holder.get("host") != info["host"]:
            raise RunLockedError(f"{_held_by(path, holder)}; if that process is gone, delete "
                                 f"{lock}.")  # fmt: skip
        if holder and _pid_alive(holder["pid"]):
            raise RunLockedError(
                f"{_held_by(path, holder)}. Wait for it to finish or stop it, or train under "
                "another run_name/runs_dir."
            )
        what = f"process {holder['pid']} is gone" if holder else "the lock file is unreadable"
        log(f"Removing a stale lock on {path} ({what}); its run can resume.")
        lock.unlink(missing_ok=True)
    try:
        recover(path, log)
        yield
    finally:
        lock.unlink(missing_ok=True)


def set_aside(path: Path, log: Callable[[str], None] = print) -> Path | None:
    """Move a saved run out of the way of its retrain (call with the lock held)."""
    if not path.exists():
        return None
    aside = aside_path(path)
    os.replace(path, aside)
    log(f"force=True: the saved run at {path} is kept aside until the new run finishes its "
        "first epoch.")  # fmt: skip
    return aside


def settle(path: Path, aside: Path | None, log: Callable[[str], None] = print) -> bool:
    """After a retrain: drop the old run if the new one finished an epoch, else put it back.

    Returns True when the old run was put back.
    """
    if aside is None or not aside.exists():
        return False
    if (path / FINISHED_MARKER).exists():
        shutil.rmtree(aside)
        return False
    shutil.rmtree(path, ignore_errors=True)
    os.replace(aside, path)
    log(f"The new run stopped before finishing an epoch: the saved run at {path} is restored.")
    return True


def recover(path: Path, log: Callable[[str], None] = print) -> None:
    """Settle a retrain that a killed process left half done (call with the lock held)."""
    aside = aside_path(path)
    if aside.exists():
        log(f"Found {aside} from an interrupted retrain.")
        settle(path, aside, log)
