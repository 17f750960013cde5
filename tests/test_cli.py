"""The command line: help, a quick run, plotting saved runs, bad arguments exit with 2.

Runs pass --device cpu: on a GPU machine the default would compile every model for CUDA.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from experiment_fakes import fake_loaders

from convnext_nb import cli, experiments
from convnext_nb.data import DatasetNotFoundError


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


def exit_code(argv: list[str]) -> int:
    """main's exit status, whether argparse exits (usage errors) or main returns."""
    try:
        return cli.main(argv)
    except SystemExit as exc:
        return exc.code


@pytest.mark.parametrize(
    "argv, message",
    [
        (["run", "test9"], "unknown experiment 'test9'; choose one of"),
        (["run", "test4_tiny_ln", "--epochs", "0"], "expected a positive integer"),
        (["run", "test4_tiny_ln", "--budget-s", "inf"], "expected a positive finite number"),
        (["run", "test4_tiny_ln", "--budget-s", "nan"], "expected a positive finite number"),
        (["run", "test4_tiny_ln", "--dataset", "mnist"], "invalid choice: 'mnist'"),
        (["plot", "runs/does-not-exist"], "no saved run at"),
        ([], "the following arguments are required"),
    ],
)
def test_bad_arguments_exit_2_with_a_message(argv, message, capsys, tmp_path):
    assert exit_code([*argv, "--runs-dir", str(tmp_path)] if argv else argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


@pytest.mark.parametrize(
    "error, shown",
    [(DatasetNotFoundError("CIFAR-100 is not in data/.\nDownload it with ..."),
      "error: CIFAR-100 is not in data/. Download it with ..."),
     (EOFError("Ran out of input"), "error: EOFError: Ran out of input")],
)  # fmt: skip
def test_errors_while_running_are_one_line_exit_2(tmp_path, monkeypatch, capsys, error, shown):
    def failing_loaders(*args, **kwargs):
        raise error

    monkeypatch.setattr(experiments, "make_loaders", failing_loaders)
    argv = ["run", "test4_tiny_ln", "--quick", "--runs-dir", str(tmp_path)]
    assert exit_code(argv) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"convnext-nb run: {shown}" and list(tmp_path.iterdir()) == []
    monkeypatch.setenv("CONVNEXT_NB_DEBUG", "1")  # the traceback, for bug reports
    with pytest.raises(type(error)):
        cli.main(argv)


def test_a_damaged_run_file_is_named_in_one_line(tmp_path, fake_data, capsys):
    argv = ["run", "test4_tiny_ln", "--quick", "--dataset", "fashion_mnist", "--runs-dir",
            str(tmp_path), "--no-progress", "--device", "cpu"]  # fmt: skip
    assert cli.main([*argv, "--epochs", "1"]) == 0
    config = tmp_path / "test4_tiny_ln-fashion_mnist-quick" / "config.json"
    config.write_text(config.read_text()[:50])
    capsys.readouterr()
    assert exit_code(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and f"{config} is damaged" in err
    assert cli.main([*argv, "--epochs", "1", "--force"]) == 0


def test_compile_flag_reaches_train(tmp_path, fake_data, monkeypatch):
    seen = {}
    real_train = experiments.train

    def spy(*args, **kwargs):
        seen["compile"] = kwargs.get("compile", "not passed")
        kwargs.pop("compile", None)
        return real_train(*args, **kwargs)

    monkeypatch.setattr(experiments, "train", spy)
    base = ["run", "test4_tiny_ln", "--quick", "--epochs", "1", "--no-progress", "--device", "cpu"]
    assert cli.main([*base, "--runs-dir", str(tmp_path / "a"), "--no-compile"]) == 0
    assert seen["compile"] is False
    assert cli.main([*base, "--runs-dir", str(tmp_path / "b")]) == 0
    assert seen["compile"] == "not passed"  # train's own default


def test_quick_run_then_plot(tmp_path, fake_data, capsys):
    runs_dir, figures = tmp_path / "runs", tmp_path / "figures"
    argv = ["run", "dyt_vs_ln", "--quick", "--dataset", "fashion_mnist", "--runs-dir",
            str(runs_dir), "--no-progress", "--device", "cpu"]  # fmt: skip
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "Quick mode:" in out and "Epoch 1, loss =" in out
    assert "test5_tiny_dyt-fashion_mnist-quick: best val acc" in out
    assert "report: 31.1 % on CIFAR-100" in out

    assert cli.main(argv) == 0  # the second time it loads the saved runs
    assert capsys.readouterr().out.count("Found saved run at") == 2

    names = [p.name for p in sorted(runs_dir.iterdir())]
    argv = ["plot", *names, "--runs-dir", str(runs_dir), "--graph", "graph3"]
    assert cli.main(argv) == 0  # figures for a user go under the runs folder, not figures/
    assert (runs_dir / "figures" / "graph3_dyt_vs_ln_quick.png").stat().st_size > 10_000
    assert f"Saved {runs_dir / 'figures' / 'graph3_dyt_vs_ln_quick.png'}" in capsys.readouterr().out

    argv = ["plot", *names, "--runs-dir", str(runs_dir), "--x", "time", "--name", "by_time",
            "--folder", str(figures)]  # fmt: skip
    assert cli.main(argv) == 0
    assert (figures / "by_time.png").stat().st_size > 10_000


def test_settings_mismatch_is_a_usage_error(tmp_path, fake_data, capsys):
    base = ["run", "test4_tiny_ln", "--quick", "--runs-dir", str(tmp_path), "--no-progress",
            "--device", "cpu"]  # fmt: skip
    assert cli.main([*base, "--epochs", "1"]) == 0
    assert exit_code([*base, "--epochs", "2"]) == 2
    err = capsys.readouterr().err
    assert "trained with other settings (epochs: saved 1, asked 2" in err and "force" in err
