"""Small helpers shared by the package and the notebooks: device, seeds, quick mode, figures."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import torch

QUICK_ENV = "CONVNEXT_NB_QUICK"


def get_device(device: str | torch.device | None = None) -> torch.device:
    """Pick CUDA, then Apple MPS, then CPU; or check and return the one asked for."""
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
