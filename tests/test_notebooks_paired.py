"""Every notebook is a jupytext pair in sync: NAME.py (the source) and NAME.ipynb (with outputs)."""

import importlib.util
import re
from pathlib import Path

import jupytext
import pytest

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SCRIPTS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))
IPYNBS = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))
BUILD_SCRIPT = NOTEBOOKS.parent / "scripts" / "build_notebooks.py"


def without_jupytext_version(text: str) -> str:
    """The header names the jupytext that wrote the file; any version may check the pair."""
    return re.sub(r"(?m)^#\s+jupytext_version: .*\n", "", text)


def test_there_are_notebooks():
    assert len(SCRIPTS) >= 2


@pytest.mark.parametrize("ipynb", IPYNBS, ids=lambda p: p.name)
def test_every_ipynb_has_its_script(ipynb):
    assert ipynb.with_suffix(".py").exists(), f"{ipynb.name} has no paired .py script"


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_pair_in_sync(script):
    ipynb = script.with_suffix(".ipynb")
    assert ipynb.exists(), f"{script.name} has no .ipynb: run python scripts/build_notebooks.py"
    from_ipynb = jupytext.writes(jupytext.read(ipynb), fmt="py:percent")
    assert without_jupytext_version(from_ipynb) == without_jupytext_version(script.read_text()), (
        f"{ipynb.name} and {script.name} differ: edit the .py, then rebuild the notebook with "
        f"python scripts/build_notebooks.py {script.stem} (or run jupytext --sync)."
    )


def test_sync_check_ignores_the_jupytext_version_only():
    text = SCRIPTS[0].read_text()
    assert "jupytext_version: " in text
    other_version = re.sub(r"jupytext_version: .*", "jupytext_version: 9.9.9", text)
    assert without_jupytext_version(other_version) == without_jupytext_version(text)
    edited = text.replace("# %%", "# %%\nx = 1", 1)
    assert without_jupytext_version(edited) != without_jupytext_version(text)


@pytest.mark.parametrize("ipynb", IPYNBS, ids=lambda p: p.name)
def test_committed_outputs_come_from_a_full_run(ipynb):
    notebook = jupytext.read(ipynb)
    code = [c for c in notebook.cells if c.cell_type == "code" and c.source.strip()]
    counts = [c.execution_count for c in code]
    assert counts == list(range(1, len(code) + 1)), (
        f"{ipynb.name} was not run top to bottom in one go: rebuild it with "
        "python scripts/build_notebooks.py"
    )
    errors = [o for c in code for o in c.outputs if o.output_type == "error"]
    assert not errors, f"{ipynb.name} holds an error output: {errors[0].get('ename')}"


@pytest.mark.parametrize("ipynb", IPYNBS, ids=lambda p: p.name)
def test_figures_are_shown_inline(ipynb):
    notebook = jupytext.read(ipynb)
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    figures = [o for o in outputs if o.get("data", {}).get("text/plain", "").startswith("<Figure")]
    text_only = [o for o in figures if "image/png" not in o.data]
    assert not text_only, (
        f"{ipynb.name} shows {len(text_only)} figure(s) only as text ('<Figure size ...>'): "
        "call setup_notebook() in the first cell, then rebuild with "
        f"python scripts/build_notebooks.py {ipynb.stem}"
    )


def load_build_script():
    spec = importlib.util.spec_from_file_location("build_notebooks", BUILD_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


INSTALL = 'commit = "{}"\nurl = f"git+https://github.com/convnext-nb/convnext-nb@{{commit}}"\n'
SHA = "0123456789abcdef0123456789abcdef01234567"


def test_cell_tags_survive_the_round_trip():
    text = f'# %% tags=["nbval-ignore-output"]\n{INSTALL.format("")}\n# %%\nprint(2)\n'
    notebook = jupytext.reads(text, fmt="py:percent")
    assert notebook.cells[0].metadata["tags"] == ["nbval-ignore-output"]
    assert "tags" not in notebook.cells[1].metadata
    load_build_script().pin_commit(notebook, SHA)  # the build touches sources, not cell tags
    assert '# %% tags=["nbval-ignore-output"]' in jupytext.writes(notebook, fmt="py:percent")


def test_the_build_pins_the_colab_install_to_a_commit():
    build = load_build_script()
    cell = INSTALL.format("v0.0.1")
    notebook = jupytext.reads(f"# %%\n{cell}\n# %% [markdown]\n# {cell}", fmt="py:percent")
    build.pin_commit(notebook, SHA, clean=False)
    assert notebook.cells[0].source.startswith(f'commit = "{SHA}"\n')
    assert '"v0.0.1"' in notebook.cells[1].source  # prose is left alone
    assert notebook.metadata["convnext_nb"] == {"commit": SHA, "package_clean": False}
    with pytest.raises(ValueError, match="found 0"):
        build.pin_commit(jupytext.reads("# %%\nprint(1)\n", fmt="py:percent"), SHA)


def test_the_build_refuses_uncommitted_package_changes(monkeypatch, capsys):
    build = load_build_script()
    monkeypatch.setenv("CONVNEXT_NB_QUICK", "1")  # main() sets both for its kernels;
    monkeypatch.setenv("PYTHONPATH", "")  # monkeypatch restores them after the test
    changes = [" M convnext_nb/notebook.py"]
    monkeypatch.setattr(build, "package_commit", lambda: (SHA, changes))
    built = []
    fake = lambda script, commit, clean: built.append((script.stem, commit, clean)) or 0.0
    monkeypatch.setattr(build, "build", fake)
    with pytest.raises(SystemExit, match="uncommitted changes:\n   M convnext_nb/notebook.py"):
        build.main(["01"])
    assert built == []
    assert build.main(["01", "--allow-dirty"]) == 0
    assert built == [("01_architecture", SHA, False)]
    assert "WARNING: convnext_nb/ has 1 uncommitted change(s)" in capsys.readouterr().err
    changes.clear()
    build.main(["01"])
    assert built[-1] == ("01_architecture", SHA, True)


def test_the_build_reads_head_and_the_package_status():
    if not (BUILD_SCRIPT.parents[1] / ".git").exists():
        pytest.skip("not a git checkout (no .git)")
    head, changes = load_build_script().package_commit()
    assert re.fullmatch(r"[0-9a-f]{40}", head)
    assert all(line[3:].startswith("convnext_nb/") for line in changes)
