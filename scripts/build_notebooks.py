"""Regenerate the committed notebooks: run each pair top to bottom in quick mode, save outputs.

    python scripts/build_notebooks.py                 # every notebooks/*.py
    python scripts/build_notebooks.py 01 03_data      # names or prefixes

For each notebooks/NAME.py (the py:percent source): execute it in a fresh kernel from
notebooks/ with CONVNEXT_NB_QUICK=1, on the CPU (CONVNEXT_NB_DEVICE=cpu: saved outputs that a
GPU machine reproduces too), and this checkout's convnext_nb first on PYTHONPATH (as
pytest's nbval run does, see conftest.py), then write NAME.ipynb with the
outputs (and rewrite NAME.py exactly as `jupytext --sync` would, so the pair stays in sync).
Edit either twin; `jupytext --sync notebooks/NAME.ipynb` pairs edits made in Jupyter.

Each build also pins the Colab install cell to the code it ran against: the line
`commit = "..."` in the first code cell (the cell installs
`git+https://github.com/convnext-nb/convnext-nb@{commit}` on Colab) becomes the git commit
HEAD at build time, and the .ipynb's metadata records it too (`convnext_nb.commit`, with
`convnext_nb.package_clean`). A build is committed after it runs, so HEAD is the last commit
*before* the one that holds the notebook; it is the code the notebook ran against only when
convnext_nb/ has no uncommitted change. The build therefore refuses to run when `git status`
shows changes under convnext_nb/: commit the package first, then build, then commit the
notebooks. `--allow-dirty` builds anyway (for development): it warns, pins HEAD all the same
and records package_clean: false; such notebooks must be rebuilt before they are published,
as Colab would install HEAD without those changes. tests/test_notebook_hygiene.py checks that
every pinned commit exists and has every name the notebook imports.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import jupytext
from jupytext.combine import map_outputs_to_inputs
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
PACKAGE = "convnext_nb"
# The install cell: `commit = "<sha>"`, then the URL that installs it (see the module docstring).
INSTALL_URL = "git+https://github.com/convnext-nb/convnext-nb@{commit}"
PIN = re.compile(r'^(\s*commit = ")([^"]*)(")', re.M)


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


def git(*args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(ROOT), *args], capture_output=True, text=True, check=True
    ).stdout.rstrip()  # not strip(): a status line may start with a space


def package_commit() -> tuple[str, list[str]]:
    """HEAD's full sha and the uncommitted changes under convnext_nb/ (`git status` lines)."""
    try:
        head = git("rev-parse", "--verify", "HEAD^{commit}")
        changes = git("status", "--porcelain", "--untracked-files=all", "--", PACKAGE)
    except (OSError, subprocess.CalledProcessError) as err:
        sys.exit(f"the build pins the Colab install to a git commit, but git failed here: {err}")
    return head, changes.splitlines()


def pin_commit(notebook, commit: str, clean: bool = True) -> None:
    """Point the Colab install cell at `commit` and record it in the notebook's metadata."""
    pinned = 0
    for cell in notebook.cells:
        if cell.cell_type == "code" and INSTALL_URL in cell.source:
            cell.source, n = PIN.subn(rf"\g<1>{commit}\g<3>", cell.source)
            pinned += n
    if pinned != 1:
        raise ValueError(
            f'expected one install cell with `commit = "..."` and {INSTALL_URL!r} '
            f"in it, found {pinned}"
        )
    notebook.metadata[PACKAGE] = {"commit": commit, "package_clean": clean}


def build(script: Path, commit: str, clean: bool = True, timeout: int = 900) -> float:
    """Execute `script`'s notebook and write its .ipynb twin; return the seconds it took."""
    notebook = jupytext.read(script)
    pin_commit(notebook, commit, clean)
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
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("names", nargs="*", help="notebook names or prefixes (default: all)")
    parser.add_argument(
        "--allow-dirty",
        action="store_true",
        help="build although convnext_nb/ has uncommitted changes (the pinned "
        "commit then lacks them: rebuild before publishing)",
    )
    args = parser.parse_args(argv)
    scripts = select(args.names)
    commit, changes = package_commit()
    if changes and not args.allow_dirty:
        sys.exit(
            "convnext_nb/ has uncommitted changes:\n  " + "\n  ".join(changes) + "\n"
            f"The notebooks would pin HEAD ({commit[:12]}), which lacks them, so Colab would "
            "install other code than they ran. Commit the package first, then build (or pass "
            "--allow-dirty for a development build)."
        )
    if changes:
        print(
            f"WARNING: convnext_nb/ has {len(changes)} uncommitted change(s); pinning HEAD "
            f"{commit[:12]}, which lacks them. Colab would run other code than these outputs "
            "came from: commit the package and rebuild before publishing.",
            file=sys.stderr,
            flush=True,
        )
    os.environ["CONVNEXT_NB_QUICK"] = "1"  # the kernels inherit it
    os.environ.setdefault("CONVNEXT_NB_DEVICE", "cpu")  # as pytest's nbval run (conftest.py)
    # ... and import this checkout's convnext_nb, whatever copy is installed (as conftest.py)
    path = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    os.environ["PYTHONPATH"] = os.pathsep.join([str(ROOT), *path])
    for script in scripts:
        print(f"{script.name}: running (pinned to {commit[:12]})...", flush=True)
        seconds = build(script, commit, clean=not changes)
        print(f"{script.name}: done in {seconds:.0f} s -> {script.stem}.ipynb", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
