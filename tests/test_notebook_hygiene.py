"""What students see in the notebooks: no test machinery, public imports only, a summary and a
"What to try next" at the end, and a Colab install pinned to a commit that exists and has what
the notebook imports."""

import ast
import re
import shutil
import subprocess
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
PACKAGE = ROOT / "convnext_nb"
# Modules a notebook may not import from: the experiment machinery behind run_experiment and
# the command line. What a notebook needs from them, `convnext_nb` itself exports.
INTERNAL_MODULES = {"convnext_nb.experiments", "convnext_nb.cli", "convnext_nb.__main__"}
# The install cell (scripts/build_notebooks.py writes the commit): `commit = "<sha>"`, then
INSTALL_URL = "git+https://github.com/convnext-nb/convnext-nb@{commit}"
COMMIT = re.compile(r'^\s*commit = "([^"]*)"', re.M)


def public_modules() -> set[str]:
    """convnext_nb and its modules and subpackages, less the internal ones and _private ones."""
    found = {"convnext_nb"}
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(ROOT).with_suffix("").parts
        parts = parts[:-1] if parts[-1] == "__init__" else parts
        if not any(p.startswith("_") for p in parts):
            found.add(".".join(parts))
    return found - INTERNAL_MODULES


def exported_names() -> set[str]:
    """The names in convnext_nb.__all__, read from the source (no torch import needed)."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and getattr(node.targets[0], "id", "") == "__all__":
            return set(ast.literal_eval(node.value))
    raise AssertionError("convnext_nb/__init__.py has no __all__")


def code_cells(script: Path) -> list[str]:
    return [c.source for c in jupytext.read(script).cells if c.cell_type == "code"]


def package_imports(script: Path) -> list[tuple[int, str, str | None]]:
    """(line, module, name or None) for every import of convnext_nb in the script."""
    found = []
    for node in ast.walk(ast.parse(script.read_text())):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, None) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found += [(node.lineno, node.module, a.name) for a in node.names]
    return [f for f in found if f[1].split(".")[0] == "convnext_nb"]


def import_problems(script: Path) -> list[str]:
    public, exported = public_modules(), exported_names()
    problems = []
    for line, module, name in package_imports(script):
        what = f"line {line}: {module}" + (f" import {name}" if name else "")
        if module not in public:
            problems.append(f"{what} (an internal module; import from convnext_nb instead)")
        elif name and name.startswith("_"):
            problems.append(f"{what} (a private name)")
        elif module == "convnext_nb" and name and name not in exported | public_module_names():
            problems.append(f"{what} (not in convnext_nb.__all__)")
    return problems


def public_module_names() -> set[str]:
    return {m.split(".")[1] for m in public_modules() if m.count(".") == 1}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_no_test_machinery_in_code_cells(script):
    for source in code_cells(script):
        for line in source.splitlines():
            assert not re.search(r"NBVAL|#\s*fmt:", line, re.IGNORECASE), (
                f"{script.name}: {line.strip()!r} shows test or formatter machinery to "
                'students: use a cell tag (# %% tags=["nbval-ignore-output"]) instead, and '
                "split long lines rather than # fmt: skip."
            )


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_no_prose_about_testing(script):
    cells = jupytext.read(script).cells
    for cell in cells:
        if cell.cell_type == "markdown":
            assert not re.search(r"nbval|pytest|how this notebook is tested", cell.source, re.I), (
                f"{script.name} tells students how it is tested: {cell.source[:80]!r}..."
            )


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_ends_with_summary_and_what_to_try_next(script):
    cells = jupytext.read(script).cells
    last_code = max(i for i, c in enumerate(cells) if c.cell_type == "code")
    closing = "\n".join(c.source for c in cells[last_code + 1 :])
    assert "In this notebook we" in closing, (
        f"{script.name} should end (after its last code cell) with a summary that starts "
        '"In this notebook we ...".'
    )
    assert re.search(r"^#+ What to try next", closing, re.M), (
        f'{script.name} should end with a "## What to try next" section.'
    )


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_imports_only_public_package_names(script):
    problems = import_problems(script)
    assert not problems, f"{script.name} imports convnext_nb internals: {problems}"


def pinned_commit(script: Path) -> str:
    """The commit the first code cell installs on Colab ("" when there is none)."""
    cell = code_cells(script)[0]
    pins = COMMIT.findall(cell) if INSTALL_URL in cell else []
    return pins[0] if len(pins) == 1 else ""


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_colab_install_is_pinned_to_a_commit(script):
    commit = pinned_commit(script)
    assert re.fullmatch(r"[0-9a-f]{40}", commit), (
        f"{script.name}'s first code cell should install {INSTALL_URL} with one "
        f'`commit = "<40-hex sha>"` line above it (found {commit!r}): rebuild it with '
        f"python scripts/build_notebooks.py {script.stem}."
    )
    assert script.read_text().count("github.com/convnext-nb/convnext-nb@") == 1, (
        f"{script.name} installs convnext-nb from more than one place"
    )
    recorded = jupytext.read(script.with_suffix(".ipynb")).metadata.get("convnext_nb", {})
    assert recorded.get("commit") == commit, (
        f"{script.stem}.ipynb's metadata records commit {recorded.get('commit')!r}, its install "
        f"cell {commit!r}: rebuild it with python scripts/build_notebooks.py {script.stem}."
    )


def git(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)


@pytest.fixture(scope="module")
def git_history():
    if shutil.which("git") is None:
        pytest.skip("git is not installed: the pinned commits cannot be looked up")
    if not (ROOT / ".git").exists():
        pytest.skip("not a git checkout (no .git): the pinned commits cannot be looked up")
    if git("rev-parse", "--is-shallow-repository").stdout.strip() == "true":
        pytest.skip("a shallow clone: older pinned commits may be missing (git fetch --unshallow)")


def names_at(commit: str, module: str) -> set[str] | None:
    """The names `from <module> import ...` finds at `commit`; None if the module is absent."""
    path = module.replace(".", "/")
    listed = git("ls-tree", "-r", "--name-only", commit, "--", path, f"{path}.py")
    files = set(listed.stdout.split())
    source = f"{path}.py" if f"{path}.py" in files else f"{path}/__init__.py"
    shown = git("show", f"{commit}:{source}")
    if shown.returncode != 0:
        return None
    inside = [Path(f).relative_to(path) for f in files if f.startswith(f"{path}/")]
    names = {f.parts[0].removesuffix(".py") for f in inside}  # its submodules
    for node in ast.parse(shown.stdout).body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names |= {t.id for t in targets if isinstance(t, ast.Name)}
            if any(getattr(t, "id", "") == "__all__" for t in targets):
                names |= set(ast.literal_eval(node.value))  # names a module __getattr__ serves
        elif isinstance(node, ast.Import | ast.ImportFrom):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names}
    return names


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_pinned_commit_exists_and_has_what_the_notebook_imports(script, git_history):
    """What Colab installs must be in history and run the notebook: every convnext_nb name it
    imports exists at the pinned commit (a build with uncommitted package changes fails here)."""
    commit = pinned_commit(script)
    assert git("cat-file", "-e", f"{commit}^{{commit}}").returncode == 0, (
        f"{script.name} pins commit {commit!r}, which is not in this repository's history: "
        f"rebuild it with python scripts/build_notebooks.py {script.stem}."
    )
    missing = set()
    for _, module, name in package_imports(script):
        names = names_at(commit, module)
        if names is None or (name is not None and name not in names):
            missing.add(f"{module}" + (f".{name}" if name else ""))
    assert not missing, (
        f"{script.name} imports {sorted(missing)}, which its Colab pin {commit[:12]} lacks: "
        f"commit the package, then rebuild with python scripts/build_notebooks.py {script.stem}."
    )


def test_the_import_rule_catches_internals(tmp_path):
    script = tmp_path / "99_bad.py"
    script.write_text(
        "from convnext_nb.experiments import fresh_runs_dir\n"
        "from convnext_nb.engine import _atomic_save\n"
        "from convnext_nb import QUICK, create_model, checks\n"
        "import convnext_nb.cli\n"
    )
    problems = import_problems(script)
    assert [p.split(" (")[0] for p in problems] == [
        "line 1: convnext_nb.experiments import fresh_runs_dir",
        "line 2: convnext_nb.engine import _atomic_save",
        "line 3: convnext_nb import QUICK",
        "line 4: convnext_nb.cli",
    ]
