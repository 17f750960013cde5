"""What students see in the notebooks: no test machinery, public imports only, a summary and a
"What to try next" at the end, and a Colab install pinned to this package's version."""

import ast
import re
from pathlib import Path

import jupytext
import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py"))
PACKAGE = ROOT / "convnext_nb"
# Modules a notebook may not import from: the experiment machinery behind run_experiment and
# the command line. What a notebook needs from them, `convnext_nb` itself exports.
INTERNAL_MODULES = {"convnext_nb.experiments", "convnext_nb.cli", "convnext_nb.__main__"}
VERSION = re.search(r'__version__ = "([^"]+)"', (PACKAGE / "__init__.py").read_text())[1]
PIN = "github.com/convnext-nb/convnext-nb@v"


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


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_colab_install_is_pinned_to_this_version(script):
    pins = re.findall(re.escape(PIN) + r"([\w.+-]+)", script.read_text())
    assert pins == [VERSION], (
        f"{script.name} should install convnext-nb on Colab from the tag v{VERSION} "
        f"(found {pins}): rebuild it with python scripts/build_notebooks.py {script.stem}."
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
