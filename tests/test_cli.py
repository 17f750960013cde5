"""The command line: help, a quick run, plotting saved runs, bad arguments exit with 2."""

from __future__ import annotations

import subprocess
import sys

import pytest
from experiment_fakes import fake_loaders

from convnext_nb import cli, experiments


@pytest.fixture
def fake_data(monkeypatch):
    monkeypatch.setattr(experiments, "make_loaders", fake_loaders())


def test_module_help_runs():
    out = subprocess.run([sys.executable, "-m", "convnext_nb", "run", "--help"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert out.returncode == 0
    assert "--epochs" in out.stdout and "--quick" in out.stdout and "test4_tiny_ln" in out.stdout


def test_list_shows_report_numbers(capsys):
    assert cli.main(["list"]) == 0
    out = capsys.readouterr().out
    assert "test2_base_adamw" in out and "report 29.3 %" in out and "improved" in out


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "test9"], "unknown experiment 'test9'; choose one of"),
        (["run", "test4_tiny_ln", "--epochs", "0"], "expected a positive integer"),
        (["run", "test4_tiny_ln", "--dataset", "mnist"], "invalid choice: 'mnist'"),
        (["plot", "runs/does-not-exist"], "no saved run at"),
        ([], "the following arguments are required"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(argv, message, capsys, tmp_path):
    with pytest.raises(SystemExit) as exc:
        cli.main([*argv, "--runs-dir", str(tmp_path)] if argv else argv)
    assert exc.value.code == 2
    assert message in capsys.readouterr().err


def test_quick_run_then_plot(tmp_path, fake_data, capsys):
    runs_dir, figures = tmp_path / "runs", tmp_path / "figures"
    argv = ["run", "dyt_vs_ln", "--quick", "--runs-dir", str(runs_dir), "--no-progress"]
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "Quick mode:" in out and "Epoch 1, loss =" in out
    assert "test5_tiny_dyt-fashion_mnist-quick: best val acc" in out
    assert "report: 31.1 % on CIFAR-100" in out

    assert cli.main(argv) == 0  # the second time it loads the saved runs
    assert capsys.readouterr().out.count("Found saved run at") == 2

    names = [p.name for p in sorted(runs_dir.iterdir())]
    argv = ["plot", *names, "--runs-dir", str(runs_dir), "--graph", "graph3",
            "--folder", str(figures)]  # fmt: skip
    assert cli.main(argv) == 0
    assert (figures / "graph3_dyt_vs_ln_quick.png").stat().st_size > 10_000
    assert "Saved" in capsys.readouterr().out

    argv = ["plot", *names, "--runs-dir", str(runs_dir), "--x", "time", "--name", "by_time",
            "--folder", str(figures)]  # fmt: skip
    assert cli.main(argv) == 0
    assert (figures / "by_time.png").stat().st_size > 10_000


def test_settings_mismatch_is_a_usage_error(tmp_path, fake_data, capsys):
    base = ["run", "test4_tiny_ln", "--quick", "--runs-dir", str(tmp_path), "--no-progress"]
    assert cli.main([*base, "--epochs", "1"]) == 0
    with pytest.raises(SystemExit) as exc:
        cli.main([*base, "--epochs", "2"])
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert "trained with other settings (epochs: saved 1, asked 2" in err and "force" in err
