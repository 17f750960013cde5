"""The helpers notebook cells call: Google Drive for runs/, a notebook's runs folder, tables,
and the commit pip installed the package from."""

from __future__ import annotations

import json
import sys
import types

import pytest

from convnext_nb import notebook


class FakeDrive:
    """google.colab.drive as a test sees it: mount() makes MyDrive under the mount point."""

    def __init__(self):
        self.mounted = []

    def mount(self, path):
        self.mounted.append(path)
        (notebook.Path(path) / "MyDrive").mkdir(parents=True, exist_ok=True)


@pytest.fixture
def colab(monkeypatch, tmp_path):
    """A fake Colab: google.colab.drive in sys.modules, the working directory a tmp dir."""
    drive = FakeDrive()
    google, colab_module = types.ModuleType("google"), types.ModuleType("google.colab")
    drive_module = types.ModuleType("google.colab.drive")
    drive_module.mount = drive.mount
    google.colab, colab_module.drive = colab_module, drive_module
    monkeypatch.setitem(sys.modules, "google", google)
    monkeypatch.setitem(sys.modules, "google.colab", colab_module)
    monkeypatch.setitem(sys.modules, "google.colab.drive", drive_module)
    monkeypatch.chdir(tmp_path)
    return drive


def on_drive(tmp_path):
    return tmp_path / "drive" / "MyDrive" / "convnext-nb" / "runs"


def keep(tmp_path, **kw):
    return notebook.keep_runs_on_drive(mount_point=tmp_path / "drive", **kw)


def test_outside_colab_it_does_nothing_and_says_so(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "google.colab", None)  # import fails, as off Colab
    monkeypatch.chdir(tmp_path)
    assert notebook.keep_runs_on_drive() is None
    assert "Not on Colab: nothing to do" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == []


def test_mounts_drive_and_links_runs(colab, tmp_path, capsys):
    saved = keep(tmp_path)
    assert colab.mounted == [str(tmp_path / "drive")]
    assert saved == on_drive(tmp_path) and saved.is_dir()
    runs = tmp_path / "runs"
    assert runs.is_symlink() and runs.resolve() == saved.resolve()
    (runs / "a_run").mkdir()  # what run_experiment writes lands on Drive
    assert (saved / "a_run").is_dir()
    assert "runs/ now links to" in capsys.readouterr().out


def test_a_second_call_keeps_the_link(colab, tmp_path, capsys):
    keep(tmp_path)
    (on_drive(tmp_path) / "old_run").mkdir()
    assert keep(tmp_path) == on_drive(tmp_path)
    assert "already links to" in capsys.readouterr().out
    assert (tmp_path / "runs" / "old_run").is_dir()


def test_an_empty_local_runs_folder_is_replaced(colab, tmp_path):
    (tmp_path / "runs").mkdir()
    keep(tmp_path)
    assert (tmp_path / "runs").is_symlink()


def test_local_runs_are_never_deleted_the_call_refuses(colab, tmp_path):
    (tmp_path / "runs" / "my_run").mkdir(parents=True)
    (tmp_path / "runs" / "my_run" / "history.json").write_text("{}")
    with pytest.raises(FileExistsError, match=r"holds 1 entries .*move_existing=True"):
        keep(tmp_path)
    assert (tmp_path / "runs" / "my_run" / "history.json").read_text() == "{}"
    assert not (tmp_path / "runs").is_symlink()


def test_move_existing_moves_them_to_drive(colab, tmp_path):
    (tmp_path / "runs" / "my_run").mkdir(parents=True)
    (tmp_path / "runs" / "my_run" / "history.json").write_text("{}")
    saved = keep(tmp_path, move_existing=True)
    assert (saved / "my_run" / "history.json").read_text() == "{}"
    assert (tmp_path / "runs").is_symlink()
    assert (tmp_path / "runs" / "my_run" / "history.json").exists()


def test_move_existing_refuses_a_name_taken_on_drive(colab, tmp_path):
    (on_drive(tmp_path) / "my_run").mkdir(parents=True)
    (tmp_path / "runs" / "my_run").mkdir(parents=True)
    (tmp_path / "runs" / "other").mkdir()
    with pytest.raises(FileExistsError, match="nothing was moved"):
        keep(tmp_path, move_existing=True)
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == ["my_run", "other"]


def test_a_link_elsewhere_is_relinked_without_touching_its_target(colab, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "kept").mkdir(parents=True)
    (tmp_path / "runs").symlink_to(elsewhere)
    keep(tmp_path)
    assert (tmp_path / "runs").resolve() == on_drive(tmp_path).resolve()
    assert (elsewhere / "kept").is_dir()


def test_fresh_runs_dir_empties_only_in_quick_mode(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("CONVNEXT_NB_QUICK", "1")
    old = tmp_path / "quick" / "04_optimizers" / "old_run"
    old.mkdir(parents=True)
    path = notebook.fresh_runs_dir("04_optimizers", root=tmp_path)
    assert path == tmp_path / "quick" / "04_optimizers" and not old.exists()
    assert "emptied first" in capsys.readouterr().out
    monkeypatch.setenv("CONVNEXT_NB_QUICK", "0")
    (tmp_path / "saved_run").mkdir()
    assert notebook.fresh_runs_dir("04_optimizers", root=tmp_path) == tmp_path
    assert (tmp_path / "saved_run").is_dir()  # real runs are reused, never emptied


def test_markdown_table():
    rows = [{"run": "a|b", "acc %": 12.5}, {"run": "c", "acc %": "n/a"}]
    assert notebook.markdown_table(rows).splitlines() == [
        "| run | acc % |",
        "|---|---|",
        "| a\\|b | 12.5 |",
        "| c | n/a |",
    ]
    with pytest.raises(ValueError, match="at least one row"):
        notebook.markdown_table([])


def test_show_table_prints_outside_ipython_and_renders_in_it(capsys, monkeypatch):
    notebook.show_table([{"x": 1}])
    assert capsys.readouterr().out == "| x |\n|---|\n| 1 |\n"
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    try:
        monkeypatch.setattr("IPython.get_ipython", lambda: shell)
        shown = []
        monkeypatch.setattr("IPython.display.display", lambda obj: shown.append(obj))
        notebook.show_table([{"x": 1}])
        assert shown[0]._repr_markdown_() == "| x |\n|---|\n| 1 |"
    finally:
        InteractiveShell.clear_instance()


def test_installed_commit_reads_what_pip_recorded(monkeypatch):
    sha = "0123456789abcdef0123456789abcdef01234567"

    class Dist:
        def __init__(self, text):
            self.text = text

        def read_text(self, name):
            return self.text if name == "direct_url.json" else None

    from importlib import metadata

    git = {"url": "https://github.com/x/y", "vcs_info": {"vcs": "git", "commit_id": sha}}
    monkeypatch.setattr(metadata, "distribution", lambda name: Dist(json.dumps(git)))
    assert notebook.installed_commit() == sha
    editable = {"url": "file:///work", "dir_info": {"editable": True}}
    monkeypatch.setattr(metadata, "distribution", lambda name: Dist(json.dumps(editable)))
    assert notebook.installed_commit() is None
    monkeypatch.setattr(metadata, "distribution", lambda name: Dist(None))  # no direct_url
    assert notebook.installed_commit() is None


def test_setup_notebook_names_the_installed_commit(monkeypatch, capsys):
    monkeypatch.setattr(notebook, "installed_commit", lambda: "0123456789abcdef" + "0" * 24)
    monkeypatch.setattr(notebook, "get_device", lambda: notebook.torch.device("cpu"))
    notebook.setup_notebook()
    assert "convnext_nb 0.1.0 (git commit 0123456789ab)" in capsys.readouterr().out


def test_setup_notebook_keeps_runs_on_drive_when_asked(monkeypatch, capsys):
    monkeypatch.setattr(notebook, "get_device", lambda: notebook.torch.device("cpu"))
    asked = []
    monkeypatch.setattr(notebook, "keep_runs_on_drive", lambda: asked.append(True))
    notebook.setup_notebook()
    assert asked == []
    notebook.setup_notebook(runs_on_drive=True)
    assert asked == [True]


def test_results_rows_say_what_was_shortened_and_what_the_report_measured():
    from dataclasses import replace

    from experiment_fakes import fake_run

    full = fake_run("atto", [0.2, 0.5, 0.4], report_acc=32.1, report_epoch=20)
    full.config = replace(full.config, epochs=3)
    cut = fake_run("base", [0.3])
    cut.config = replace(cut.config, epochs=50)
    cut.test_acc = 0.2876
    a, b = notebook.results_rows([full, cut])
    assert a == {"run": "atto", "epochs": "3", "best val % (epoch)": "50.0 (2)", "test %": "-",
                 "report val % (epoch)": "32.1 (20)", "training": "0 min"}  # fmt: skip
    assert b["epochs"] == "1 of 50" and b["test %"] == "28.8"
    assert b["report val % (epoch)"] == "-"
