"""pytest configuration shared by the unit tests and nbval.

nbval starts one Jupyter kernel per notebook; kernels inherit this process's environment, so
setting quick mode here makes every notebook run its small, offline configuration, and putting
this checkout first on PYTHONPATH makes the kernels import this checkout's `convnext_nb` (not
whichever copy happens to be installed, e.g. an editable install of another clone).
"""

import os
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parent)

os.environ.setdefault("CONVNEXT_NB_QUICK", "1")
os.environ.setdefault("MPLBACKEND", "Agg")  # unit tests draw figures without a display
# nbval compares the notebooks' numbers with saved outputs made on a CPU, so their kernels
# train on the CPU on any machine (CONVNEXT_NB_DEVICE=cuda pytest notebooks --nbval-lax runs
# them on a GPU). The unit tests see the machine's own default: `machine_default_device`.
_DEVICE_PINNED_HERE = "CONVNEXT_NB_DEVICE" not in os.environ
os.environ.setdefault("CONVNEXT_NB_DEVICE", "cpu")
os.environ["PYTHONPATH"] = os.pathsep.join(
    [ROOT] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p and p != ROOT]
)


@pytest.fixture(autouse=True)
def machine_default_device(monkeypatch):
    """Unit tests (not nbval's cells) run on the device the machine offers: CUDA on a GPU."""
    if _DEVICE_PINNED_HERE:
        monkeypatch.delenv("CONVNEXT_NB_DEVICE", raising=False)


def pytest_xdist_auto_num_workers(config):
    """`-n auto` (the default in pyproject.toml): up to 4 workers, one per core or two."""
    return max(1, min(4, os.cpu_count() or 1))


if "PYTEST_XDIST_WORKER_COUNT" in os.environ:  # a worker: share the cores, don't fight for them
    _threads = max(1, (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"]))
    os.environ.setdefault("OMP_NUM_THREADS", str(_threads))  # kernels and subprocesses
    import torch

    torch.set_num_threads(_threads)


def pytest_xdist_make_scheduler(config, log):
    """Under xdist, one worker runs a notebook's cells, in order, in one kernel; every other
    test is scheduled on its own, so long tests do not queue behind the rest of their module.
    (Not `--dist loadgroup`: it marks groups by editing node ids, which pytest 9.2 ignores.)"""
    from xdist.scheduler import LoadScopeScheduling

    class NotebookScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            notebook, cell, _ = nodeid.partition("::Cell ")
            return notebook if cell and "ipynb" in notebook else nodeid

    return NotebookScheduling(config, log)
