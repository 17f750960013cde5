"""Helpers for notebook cells: the first cell (versions, device, quick mode, inline figures),
the optional Google Drive cell, a folder for a notebook's own runs, and tables.

Nothing here imports IPython or ipywidgets at module level: the functions that need IPython
import it when called, so the command line and GPU jobs never load it.
"""

from __future__ import annotations

import json
import platform
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch

from .experiments import fresh_runs_dir
from .utils import get_device, quick_mode

__all__ = [
    "fresh_runs_dir",
    "installed_commit",
    "keep_runs_on_drive",
    "markdown_table",
    "results_rows",
    "setup_notebook",
    "show_figures_inline",
    "show_table",
]


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


def setup_notebook(runs_on_drive: bool = False) -> None:
    """Print versions and the device (with a hint when there is no GPU).

    Also makes figures display inline (`show_figures_inline`). Returns None, so the first
    cell shows only these lines; a notebook that needs the device calls `get_device()`.
    runs_on_drive=True: `keep_runs_on_drive()` (on Colab, runs/ then survives a restart).
    """
    import timm
    import torchvision

    from . import __version__

    show_figures_inline()
    device = get_device()
    commit = installed_commit()
    print(
        f"Python {platform.python_version()}, torch {torch.__version__}, "
        f"torchvision {torchvision.__version__}, timm {timm.__version__}, "
        f"convnext_nb {__version__}" + (f" (git commit {commit[:12]})" if commit else "")
    )
    print(f"device: {device}")
    gpu_here = torch.cuda.is_available() or torch.backends.mps.is_available()
    if device.type == "cpu" and not gpu_here:  # (CONVNEXT_NB_DEVICE=cpu can pin the CPU)
        print(
            "No GPU found: everything runs on the CPU, only slower. "
            "On Colab: Runtime > Change runtime type > GPU."
        )
    if quick_mode():
        print(
            "QUICK MODE (CONVNEXT_NB_QUICK=1): tiny subsets, few steps, offline data. "
            "The numbers below only show that the code runs; unset the variable for real runs."
        )
    if runs_on_drive:
        keep_runs_on_drive()


def installed_commit() -> str | None:
    """The git commit pip installed convnext_nb from, or None.

    The Colab install cell installs `convnext-nb @ git+https://...@<commit>`; pip records that
    commit in the installed package's `direct_url.json` (PEP 610), so `setup_notebook` can show
    which code the notebook really runs. None for a clone, an editable install or a wheel.
    """
    from importlib import metadata

    try:
        text = metadata.distribution("convnext-nb").read_text("direct_url.json")
    except metadata.PackageNotFoundError:
        return None
    try:
        return json.loads(text or "{}").get("vcs_info", {}).get("commit_id")
    except (ValueError, AttributeError):
        return None


def keep_runs_on_drive(
    runs: str | Path = "runs",
    folder: str = "convnext-nb/runs",
    *,
    mount_point: str | Path = "/content/drive",
    move_existing: bool = False,
) -> Path | None:
    """On Colab, mount Google Drive and make `runs` a link to `MyDrive/<folder>`.

    A Colab VM loses its files when it restarts; runs saved through the link survive, and the
    next session (or another notebook) loads them instead of training again. Returns the Drive
    folder, or None outside Colab, where it only says that there is nothing to do.

    An existing non-empty local `runs` folder is never deleted: the call refuses and says what
    to do, unless `move_existing=True`, which moves its entries into the Drive folder first
    (refusing, before moving anything, if a name is already taken there). Calling it again is
    harmless: a link that is already in place is kept.
    """
    try:
        from google.colab import drive
    except ImportError:
        print(f"Not on Colab: nothing to do, runs stay in {Path(runs).resolve()}.")
        return None
    drive.mount(str(mount_point))
    saved = Path(mount_point) / "MyDrive" / folder
    saved.mkdir(parents=True, exist_ok=True)
    local = Path(runs)
    if local.is_symlink():
        if local.resolve() == saved.resolve():
            print(f"{local}/ already links to {saved}: runs are saved on your Drive.")
            return saved
        print(f"{local}/ linked to {local.readlink()}; it now links to {saved}.")
        local.unlink()  # only the link: what it pointed to stays where it is
    elif local.is_dir():
        _empty_local_runs(local, saved, move_existing)
    elif local.exists():
        raise FileExistsError(f"{local} is a file, not a runs folder: rename it, then rerun.")
    local.symlink_to(saved.resolve(), target_is_directory=True)
    print(f"{local}/ now links to {saved}: runs are saved on your Drive.")
    return saved


def _empty_local_runs(local: Path, saved: Path, move_existing: bool) -> None:
    """Make room for the link: remove `local` only once it is empty (moving entries if asked)."""
    entries = sorted(local.iterdir())
    if entries and not move_existing:
        raise FileExistsError(
            f"{local}/ already holds {len(entries)} entries on this VM and nothing was changed. "
            f"To keep them on Drive, call keep_runs_on_drive(move_existing=True): it moves them "
            f"into {saved}/ first. To leave them here, rename {local}/ "
            f"(e.g. !mv {local} {local}_local), then call keep_runs_on_drive() again."
        )
    taken = [e.name for e in entries if (saved / e.name).exists()]
    if taken:
        raise FileExistsError(
            f"{saved}/ already has {taken}: nothing was moved. Rename those in {local}/ "
            "(or delete the Drive copies you no longer need), then call this again."
        )
    for entry in entries:
        shutil.move(str(entry), str(saved / entry.name))
    if entries:
        print(f"Moved {len(entries)} entries from {local}/ to {saved}/.")
    local.rmdir()  # empty now: rmdir refuses anything else


def markdown_table(rows: Sequence[Mapping[str, object]]) -> str:
    """rows: dicts with the same keys (the columns, in the first row's order) -> a Markdown
    table, one line per row. Values are shown with str(); a "|" in them is escaped."""
    if not rows:
        raise ValueError("markdown_table needs at least one row")
    head = list(rows[0])
    cell = lambda value: str(value).replace("|", "\\|")  # noqa: E731
    lines = ["| " + " | ".join(map(cell, head)) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(cell(row[k]) for k in head) + " |" for row in rows]
    return "\n".join(lines)


def results_rows(runs: Sequence) -> list[dict[str, str]]:
    """One table row per Run: epochs trained (of the config's), best validation accuracy and
    its epoch, the test accuracy of that epoch, the report's CIFAR-100 number, training time."""
    rows = []
    for run in runs:
        h, c = run.history, run.config
        report = "-" if c.report_acc is None else f"{c.report_acc} ({c.report_epoch or '-'})"
        rows.append({
            "run": c.label,
            "epochs": f"{h.epochs}" if h.epochs == c.epochs else f"{h.epochs} of {c.epochs}",
            "best val % (epoch)": f"{100 * h.best_val_acc:.1f} ({h.best_epoch})",
            "test %": "-" if run.test_acc is None else f"{100 * run.test_acc:.1f}",
            "report val % (epoch)": report,
            "training": f"{sum(h.epoch_time) / 60:.0f} min",
        })  # fmt: skip
    return rows


def show_table(rows: Sequence[Mapping[str, object]]) -> None:
    """Show `markdown_table(rows)` as a rendered table in a notebook (printed elsewhere)."""
    text = markdown_table(rows)
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:
        print(text)
        return
    if get_ipython() is None:
        print(text)
        return
    display(Markdown(text))
