"""A student's view: JupyterLab in a real Chromium runs an experiment notebook, then Train.

Starts JupyterLab headless on localhost (free port, random token, quick mode) on notebook 06's
setup cell and its training-panel cell (nbval runs every cell of every notebook; this test is
about what only a browser shows), drives Debian's /usr/bin/chromium with Playwright (no
browser download), runs the cells, changes a setting in the training panel, clicks Train and
checks that the panel and its live plot render and update, with no "Error displaying widget".
Screenshots go to tests/output/. Skips only when Chromium or Playwright is missing.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "06_dyt_vs_ln.ipynb"
CHROMIUM = Path("/usr/bin/chromium")
OUTPUT = ROOT / "tests" / "output"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--no-first-run", "--disable-sync",
]  # fmt: skip

pytestmark = pytest.mark.browser


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("Playwright is not installed (pip install playwright); no browser test.")
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM} (apt-get install chromium).")
    return sync_playwright


def _panel_notebook(folder: Path) -> None:
    """Notebook 06's first code cell (setup) and its TrainingPanel cell, saved into `folder`."""
    path = ROOT / "notebooks" / NOTEBOOK
    if not path.exists():  # the .py source exists; the executed pair is built from it
        pytest.fail(f"{path} is missing: build it with python scripts/build_notebooks.py 06")
    nb = nbformat.read(path, as_version=4)
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    panel = next(cell for cell in code if "TrainingPanel(" in cell.source)
    runs_dir = nbformat.v4.new_code_cell('runs_dir = "runs"')
    nb.cells = [code[0], runs_dir, panel]
    for cell in nb.cells:
        cell.outputs, cell.execution_count = [], None
    nbformat.write(nb, folder / NOTEBOOK)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def jupyterlab(tmp_path):
    """A JupyterLab server on a copy of the notebook; yields its base URL and token."""
    _playwright()  # skip before starting a server that no browser would open
    if importlib.util.find_spec("jupyterlab") is None:
        pytest.skip("JupyterLab is not installed (pip install -e '.[dev]'); no browser test.")
    _panel_notebook(tmp_path)
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "CONVNEXT_NB_QUICK": "1", "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"), "JUPYTER_DATA_DIR": str(tmp_path / "data"),
           "PYTHONPATH": str(ROOT)}  # fmt: skip
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}",
           "--ip=127.0.0.1", f"--IdentityProvider.token={token}",
           f"--ServerApp.root_dir={tmp_path}", "--LabApp.expose_app_in_browser=True",
           "--LabApp.news_url=None", "--LabApp.check_for_updates_class="
           "jupyterlab.NeverCheckForUpdate"]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # containers and CI often run as root
        cmd.append("--allow-root")
    log = open(tmp_path / "jupyterlab.log", "w")  # noqa: SIM115
    proc = subprocess.Popen(cmd, cwd=tmp_path, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(
                        "JupyterLab did not start:\n" + (tmp_path / "jupyterlab.log").read_text()
                    ) from None
                time.sleep(0.5)
        yield url, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


def _wait_until(page, js: str, timeout_s: float, what: str) -> None:
    try:
        page.wait_for_function(js, timeout=timeout_s * 1000, polling=500)
    except Exception as err:
        OUTPUT.mkdir(exist_ok=True)
        page.screenshot(path=str(OUTPUT / "browser_failure.png"), full_page=True)
        raise AssertionError(f"timed out waiting for {what} (see tests/output/)") from err


def test_notebook_panel_in_a_real_browser(jupyterlab):
    sync_playwright = _playwright()
    url, token = jupyterlab
    OUTPUT.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 1000})
            page.set_default_timeout(60_000)
            page.goto(f"{url}/lab/tree/{NOTEBOOK}?token={token}")
            _wait_until(page, _NOTEBOOK_OPEN, 90, "the notebook to open")
            _wait_until(page, _KERNEL_IDLE, 90, "the kernel to start")
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            _wait_until(page, _ALL_CELLS_DONE, 150, "all cells to run")

            body = page.inner_text(".jp-Notebook")
            assert "Error displaying widget" not in body
            assert "Traceback" not in body, body[body.find("Traceback") - 500 :][:2000]

            panel = page.locator(".convnext-nb-panel").last
            panel.scroll_into_view_if_needed()
            img = panel.locator("img")
            assert panel.locator("button", has_text="Train").is_enabled()
            before = img.screenshot()  # the plot's pixels, as the student sees them
            # another optimizer is another run: Train really trains instead of loading
            panel.locator("select").nth(4).select_option("adamw")
            panel.locator("button", has_text="Train").click()
            # Train is disabled while a run trains and enabled again when it ends.
            _wait_until(page, _TRAIN_DISABLED % "true", 60, "training to start")
            _wait_until(page, _TRAIN_DISABLED % "false", 180, "the run to finish")
            _wait_until(page, _PANEL_TEXT % '["Completed"]', 30, "the completed status")
            status = panel.inner_text()
            panel.screenshot(path=str(OUTPUT / "browser_panel.png"))
            assert "val acc" in status and "quick" in status.lower()
            assert img.screenshot() != before, "the live plot did not update"
            assert "Error displaying widget" not in page.inner_text(".jp-Notebook")
            panel.screenshot(path=str(OUTPUT / "browser_panel.png"))
            page.screenshot(path=str(OUTPUT / "browser_notebook.png"))
        finally:
            browser.close()


_NOTEBOOK_OPEN = "() => !!(window.jupyterapp && document.querySelector('.jp-Notebook .jp-Cell'))"

_KERNEL_IDLE = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  return !!(w && w.sessionContext && w.sessionContext.session
            && w.sessionContext.session.kernel
            && w.sessionContext.session.kernel.status === 'idle');
}"""

_ALL_CELLS_DONE = """() => {
  const w = window.jupyterapp.shell.currentWidget;
  if (!w || !w.content) return false;
  const cells = w.content.widgets.filter(c => c.model.type === 'code');
  const done = cells.every(c => c.model.executionCount !== null
                                && !c.promptNode.textContent.includes('*'));
  return done && w.sessionContext.session.kernel.status === 'idle';
}"""

_TRAIN_DISABLED = """() => {
  const panels = document.querySelectorAll('.convnext-nb-panel');
  if (panels.length === 0) return false;
  const train = [...panels[panels.length - 1].querySelectorAll('button')]
    .find((b) => b.innerText.includes('Train'));
  return train !== undefined && train.disabled === %s;
}"""

_PANEL_TEXT = """() => {
  const panels = document.querySelectorAll('.convnext-nb-panel');
  if (panels.length === 0) return false;
  const text = panels[panels.length - 1].innerText;
  return %s.every((part) => text.includes(part));
}"""
