"""Small helpers shared by the package and the notebooks: device, seeds, quick mode, figures."""

from __future__ import annotations

import os
import random
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

QUICK_ENV = "CONVNEXT_NB_QUICK"
DEVICE_ENV = "CONVNEXT_NB_DEVICE"  # e.g. "cpu": the default device, whatever the machine has


def get_device(device: str | torch.device | None = None) -> torch.device:
    """Pick CUDA, then Apple MPS, then CPU; or check and return the one asked for.

    device=None with the environment variable CONVNEXT_NB_DEVICE set (e.g. to "cpu", as the
    test suite does for the notebooks, whose saved outputs were made on a CPU) uses that one.
    """
    if device is None and os.environ.get(DEVICE_ENV, "").strip():
        device = os.environ[DEVICE_ENV].strip()
    if device is not None:
        device = torch.device(device)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise ValueError("device='cuda' was asked for, but no CUDA GPU is visible to PyTorch.")
        if device.type == "mps" and not torch.backends.mps.is_available():
            raise ValueError("device='mps' was asked for, but Apple MPS is not available here.")
        return device
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def quick_mode() -> bool:
    """True when the environment variable CONVNEXT_NB_QUICK is set to 1/true/yes (CI sets it)."""
    return os.environ.get(QUICK_ENV, "").strip().lower() in {"1", "true", "yes", "on"}


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and PyTorch (all devices) so a run can be repeated."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def epoch_seed(seed: int, epoch: int, stream: int = 0) -> int:
    """The seed of one epoch (and one random stream in it): a pure function of its arguments,
    so a resumed run replays exactly what an uninterrupted one would have drawn."""
    return (seed * 1_000_003 + epoch) % 2**32 + stream * 2**40


def atomic_write(path: str | os.PathLike, write: Callable[[Path], object]) -> Path:
    """Call write(tmp) on a unique temporary file beside `path`, then rename it to `path`.

    A crash or Ctrl-C never leaves half a file at `path`, and two processes writing the same
    path never mix their bytes (each has its own temporary name).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # only left over when interrupted before the rename
    return path


def figures_dir() -> Path:
    """figures/ of the project: beside notebooks/ when run from there (as Jupyter and nbval do).

    The environment variable CONVNEXT_NB_FIGURES overrides it.
    """
    if "CONVNEXT_NB_FIGURES" in os.environ:
        return Path(os.environ["CONVNEXT_NB_FIGURES"])
    here = Path.cwd()
    in_notebooks = here.name == "notebooks" and (here.parent / "convnext_nb").is_dir()
    return (here.parent if in_notebooks else here) / "figures"


def save_fig(fig, name: str, folder: str | Path | None = None, dpi: int = 120) -> Path:
    """Save a matplotlib figure as `<folder>/<name>.png` (default: figures/); return the path."""
    folder = Path(folder) if folder is not None else figures_dir()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / (name if name.endswith(".png") else f"{name}.png")
    # metadata={"Software": None} keeps the PNG byte-stable across matplotlib versions.
    fig.savefig(path, dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    return path
