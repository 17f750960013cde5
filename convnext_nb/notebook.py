"""What the first cell of every notebook does: versions, device, quick mode, inline figures."""

from __future__ import annotations

import platform

import torch

from .utils import get_device, quick_mode


def show_figures_inline() -> bool:
    """Make a bare `matplotlib.figure.Figure` as a cell's last line display as a PNG.

    The package and the notebooks draw on `Figure` objects, not pyplot (safe from a training
    thread, no global figure state). IPython registers its PNG formatter for figures only when
    pyplot's inline backend starts, so without this a figure shows as "<Figure size ...>".
    Returns False outside IPython, where there is nothing to do.
    """
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import select_figure_formats
    except ImportError:
        return False
    shell = get_ipython()
    if shell is None:
        return False
    select_figure_formats(shell, {"png"})
    return True


def setup_notebook() -> None:
    """Print versions and the device (with a hint when there is no GPU).

    Also makes figures display inline (`show_figures_inline`). Returns None, so the first
    cell shows only these lines; a notebook that needs the device calls `get_device()`.
    """
    import timm
    import torchvision

    from . import __version__

    show_figures_inline()
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
