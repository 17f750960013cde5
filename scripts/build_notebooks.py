"""Regenerate the committed notebooks: run each pair top to bottom in quick mode, save outputs.

    python scripts/build_notebooks.py                 # every notebooks/*.py
    python scripts/build_notebooks.py 01 03_data      # names or prefixes

For each notebooks/NAME.py (the py:percent source): execute it in a fresh kernel from
notebooks/ with CONVNEXT_NB_QUICK=1 and this checkout's convnext_nb first on PYTHONPATH (as
pytest's nbval run does, see conftest.py), then write NAME.ipynb with the
outputs (and rewrite NAME.py exactly as `jupytext --sync` would, so the pair stays in sync).
Edit either twin; `jupytext --sync notebooks/NAME.ipynb` pairs edits made in Jupyter.

Each build also pins the Colab install cell to the package version it was built with: the
tag after "convnext-nb@" becomes v<convnext_nb.__version__>, so a student on Colab installs
the code the outputs came from (publish that tag when you release).
"""

from __future__ import annotations

import os
import re
import sys
import time
from pathlib import Path

import jupytext
from jupytext.combine import map_outputs_to_inputs
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
VERSION = re.search(r'__version__ = "([^"]+)"', (ROOT / "convnext_nb/__init__.py").read_text())[1]
PIN = re.compile(r"(github\.com/convnext-nb/convnext-nb@)v[\w.+-]+")


def select(names: list[str]) -> list[Path]:
    scripts = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
    if not names:
        return scripts
    chosen = [p for p in scripts if any(p.stem.startswith(n) for n in names)]
    unknown = [n for n in names if not any(p.stem.startswith(n) for p in scripts)]
    if unknown:
        sys.exit(f"no notebook matches {unknown}; choose from {[p.stem for p in scripts]}")
    return chosen


def keep_cell_ids(notebook, ipynb: Path) -> None:
    """Give cells the ids they have in the existing .ipynb (matched as `jupytext --sync` matches
    cells), so that a rebuild changes only what really changed; new cells get fresh ids."""
    if not ipynb.exists():
        return
    old = jupytext.read(ipynb).cells
    for cell, j in zip(notebook.cells, map_outputs_to_inputs(notebook.cells, old), strict=True):
        if j is not None and "id" in old[j]:
            cell.id = old[j].id


def pin_version(notebook) -> None:
    """Point the Colab install cell at this package version's tag (see the module docstring)."""
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.source = PIN.sub(rf"\g<1>v{VERSION}", cell.source)


def build(script: Path, timeout: int = 900) -> float:
    """Execute `script`'s notebook and write its .ipynb twin; return the seconds it took."""
    notebook = jupytext.read(script)
    pin_version(notebook)
    keep_cell_ids(notebook, script.with_suffix(".ipynb"))
    start = time.perf_counter()
    client = NotebookClient(
        notebook,
        timeout=timeout,
        startup_timeout=600,  # a kernel on a busy machine can take minutes to start
        kernel_name="python3",
        resources={"metadata": {"path": str(script.parent)}},  # run from notebooks/, as nbval
        record_timing=False,  # no timestamps in the committed files
    )
    client.execute()
    jupytext.write(notebook, script.with_suffix(".ipynb"))
    jupytext.write(notebook, script, fmt="py:percent")  # the same cells, as jupytext --sync would
    return time.perf_counter() - start


def main(argv: list[str]) -> int:
    os.environ["CONVNEXT_NB_QUICK"] = "1"  # the kernels inherit it
    # ... and import this checkout's convnext_nb, whatever copy is installed (as conftest.py)
    path = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *path])
    for script in select(argv):
        print(f"{script.name}: running...", flush=True)
        print(f"{script.name}: done in {build(script):.0f} s -> {script.stem}.ipynb", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
