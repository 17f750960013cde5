"""Regenerate the committed notebooks: run each pair top to bottom in quick mode, save outputs.

    python scripts/build_notebooks.py                 # every notebooks/*.py
    python scripts/build_notebooks.py 01 03_data      # names or prefixes

For each notebooks/NAME.py (the py:percent source): execute it in a fresh kernel from
notebooks/ with CONVNEXT_NB_QUICK=1 (as CI and nbval do), then write NAME.ipynb with the
outputs (and rewrite NAME.py exactly as `jupytext --sync` would, so the pair stays in sync).
Edit either twin; `jupytext --sync notebooks/NAME.ipynb` pairs edits made in Jupyter.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import jupytext
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


def select(names: list[str]) -> list[Path]:
    scripts = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
    if not names:
        return scripts
    chosen = [p for p in scripts if any(p.stem.startswith(n) for n in names)]
    unknown = [n for n in names if not any(p.stem.startswith(n) for p in scripts)]
    if unknown:
        sys.exit(f"no notebook matches {unknown}; choose from {[p.stem for p in scripts]}")
    return chosen


def build(script: Path, timeout: int = 900) -> float:
    """Execute `script`'s notebook and write its .ipynb twin; return the seconds it took."""
    notebook = jupytext.read(script)
    start = time.perf_counter()
    client = NotebookClient(
        notebook,
        timeout=timeout,
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
    for script in select(argv):
        print(f"{script.name}: running...", flush=True)
        print(f"{script.name}: done in {build(script):.0f} s -> {script.stem}.ipynb", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
