"""setup_notebook(), the first cell of every notebook: versions, device, quick mode, figures."""

import base64

import pytest
import torch
from matplotlib.figure import Figure

from convnext_nb import notebook


@pytest.fixture
def cpu_only(monkeypatch):
    monkeypatch.setattr(notebook, "get_device", lambda: torch.device("cpu"))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends.mps, "is_available", lambda: False)


def test_prints_versions_device_and_gpu_hint(cpu_only, capsys):
    assert notebook.setup_notebook() is None  # a first cell shows the lines, no device(...) echo
    out = capsys.readouterr().out
    assert f"torch {torch.__version__}" in out and "convnext_nb 0.1.0" in out
    assert "device: cpu" in out
    assert "Runtime > Change runtime type > GPU" in out


def test_no_gpu_hint_when_there_is_a_gpu(monkeypatch, capsys):
    monkeypatch.setattr(notebook, "get_device", lambda: torch.device("cuda"))
    notebook.setup_notebook()
    out = capsys.readouterr().out
    assert "device: cuda" in out and "No GPU found" not in out


def test_cpu_pinned_on_a_gpu_machine_says_no_false_hint(monkeypatch, capsys):
    monkeypatch.setenv("CONVNEXT_NB_DEVICE", "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert notebook.get_device() == torch.device("cpu")
    notebook.setup_notebook()
    out = capsys.readouterr().out
    assert "device: cpu" in out and "No GPU found" not in out


def test_the_device_variable_is_checked_like_an_argument(monkeypatch):
    monkeypatch.setenv("CONVNEXT_NB_DEVICE", "cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA GPU"):
        notebook.get_device()
    monkeypatch.setenv("CONVNEXT_NB_DEVICE", "")  # empty: the usual choice
    assert notebook.get_device() == torch.device("cpu")
    assert notebook.get_device("cpu") == torch.device("cpu")  # an argument wins


@pytest.mark.parametrize("quick", ["1", "0"])
def test_quick_mode_banner(cpu_only, monkeypatch, capsys, quick):
    monkeypatch.setenv("CONVNEXT_NB_QUICK", quick)
    notebook.setup_notebook()
    assert ("QUICK MODE" in capsys.readouterr().out) == (quick == "1")


def test_outside_ipython_figures_need_nothing():
    assert notebook.show_figures_inline() is False


def test_figures_display_as_png_in_ipython(monkeypatch):
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        fig = Figure(figsize=(2, 1))
        fig.add_subplot().plot([0, 1])
        shell.display_formatter.formatters["image/png"].pop(Figure, None)
        before, _ = shell.display_formatter.format(fig)
        assert "image/png" not in before  # what a notebook showed before the fix
        monkeypatch.setattr("IPython.get_ipython", lambda: shell)
        assert notebook.show_figures_inline() is True
        after, _ = shell.display_formatter.format(fig)
        assert base64.b64decode(after["image/png"])[:4] == b"\x89PNG"
    finally:
        InteractiveShell.clear_instance()


def test_setup_notebook_cell_shows_only_printed_lines(cpu_only):
    """Run as a notebook's first cell: printed text only, no Out[] value."""
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    try:
        shell.user_ns["notebook"] = notebook
        with capture_output() as captured:
            shell.run_cell("notebook.setup_notebook()", store_history=True)
        assert "device: cpu" in captured.stdout and "device(type=" not in captured.stdout
        assert captured.outputs == []  # nothing displayed besides the prints
    finally:
        InteractiveShell.clear_instance()
