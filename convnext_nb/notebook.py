"""What the first cell of every notebook does: versions, device, quick mode."""

from __future__ import annotations

import platform

import torch

from .utils import get_device, quick_mode


def setup_notebook() -> torch.device:
    """Print versions and the device (with a hint when there is no GPU); return the device."""
    import timm
    import torchvision

    from . import __version__

    device = get_device()
    print(
        f"Python {platform.python_version()}, torch {torch.__version__}, "
        f"torchvision {torchvision.__version__}, timm {timm.__version__}, "
        f"convnext_nb {__version__}"
    )
    print(f"device: {device}")
    if device.type == "cpu":
        print(
            "No GPU found: everything runs on the CPU, only slower. "
            "On Colab: Runtime > Change runtime type > GPU."
        )
    if quick_mode():
        print(
            "QUICK MODE (CONVNEXT_NB_QUICK=1): tiny subsets, few steps, offline data. "
            "The numbers below only show that the code runs; unset the variable for real runs."
        )
    return device
