"""Nothing a student does loses a run: force, locks, Ctrl-C, kill -9, bad settings (issue 12).

The interrupt, kill and two-at-once cases run the real command line in real processes
(`tests/experiment_fakes.py` runs it on tiny in-memory data, DELAY seconds per batch); what
comes after them (resuming) runs the same command line in this process, on the same data.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from experiment_fakes import SMALL, SMALL3, fake_loaders

from convnext_nb import cli, experiments
from convnext_nb.experiments import RunConfig, load_run, run_experiment
from convnext_nb.rundir import RunLockedError, aside_path, lock_path, run_lock

FAKES = Path(__file__).resolve().parent / "experiment_fakes.py"
SMALL_A = SMALL3.runs[0]
QUICK_FM = dict(quick=True, dataset="fashion_mnist")  # what the CLI's --quick --dataset gives


class CLI:
    """`convnext-nb ARGS` on fake data in a child process, its output collected as it comes."""

    def __init__(self, *args: str, delay: float = 0.0, delay_from: int = 0):
        cmd = [sys.executable, "-u", str(FAKES), f"{delay}@{delay_from}", *args]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     text=True)  # fmt: skip
        self.lines: list[str] = []
        self.reader = threading.Thread(target=lambda: self.lines.extend(self.proc.stdout))
        self.reader.start()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.finish()
                pytest.fail(f"never printed {text!r}:\n{self.output}")
            time.sleep(0.05)

    def finish(self, timeout: float = 600) -> int:
        rc = self.proc.wait(timeout)
        self.reader.join(10)
        return rc

    def kill(self) -> None:
        self.proc.kill()  # SIGKILL: no cleanup of any kind
        self.finish()


def cli_here(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """`convnext-nb ARGS` in this process, on the data and experiments CLI's process uses."""
    monkeypatch.setattr(experiments, "make_loaders", fake_loaders())
    monkeypatch.setitem(experiments.EXPERIMENTS, SMALL3.name, SMALL3)
    capsys.readouterr()
    rc = cli.main(list(args))
    return rc, capsys.readouterr().out


def cli_args(runs_dir: Path, experiment: str = "small_a", *more: str) -> list[str]:
    return ["run", experiment, "--quick", "--dataset", "fashion_mnist", "--runs-dir",
            str(runs_dir), "--no-progress", *more]  # fmt: skip


@pytest.fixture
def fake_data(monkeypatch):
    monkeypatch.setattr(experiments, "make_loaders", fake_loaders())


# ---- processes ---------------------------------------------------------------------------


def test_second_process_is_refused_and_a_killed_ones_lock_is_recovered(
    tmp_path, monkeypatch, capsys
):
    first = CLI(*cli_args(tmp_path), delay=30.0, delay_from=1)  # holds the lock in epoch 2
    first.wait_for("Epoch 1, loss")
    second = CLI(*cli_args(tmp_path))
    assert second.finish() == 2
    expected = f"run small_a-fashion_mnist-quick is being trained by process {first.proc.pid}"
    assert expected in second.output and "Traceback" not in second.output
    assert second.output.strip().splitlines()[-1].startswith("convnext-nb run: error: run ")
    assert "usage:" not in second.output  # one line, not argparse's usage text

    first.kill()  # leaves its lock file behind
    assert lock_path(tmp_path / "small_a-fashion_mnist-quick").exists()
    rc, out = cli_here(monkeypatch, capsys, *cli_args(tmp_path))
    assert rc == 0, out
    assert f"Removing a stale lock on {tmp_path / 'small_a-fashion_mnist-quick'}" in out
    assert "resuming" in out and "completed" in out
    assert not lock_path(tmp_path / "small_a-fashion_mnist-quick").exists()


def test_ctrl_c_stops_the_whole_experiment_saved_and_resumable(tmp_path, monkeypatch, capsys):
    proc = CLI(*cli_args(tmp_path, "small3"), delay=30.0, delay_from=1)
    proc.wait_for("Epoch 1, loss")  # Ctrl-C in epoch 2
    proc.proc.send_signal(signal.SIGINT)
    assert proc.finish() == 130, proc.output
    assert "interrupted" in proc.output and "Traceback" not in proc.output
    first = load_run(tmp_path / "small_a-fashion_mnist-quick")
    assert first.history.status == "interrupted" and first.history.epochs >= 1
    assert (first.path / "last.pt").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["small_a-fashion_mnist-quick"]

    rc, out = cli_here(monkeypatch, capsys, *cli_args(tmp_path, "small3"))
    assert rc == 0, out
    assert "resuming" in out
    for x in "abc":
        assert load_run(tmp_path / f"small_{x}-fashion_mnist-quick").history.status == "completed"


def test_a_retrain_killed_before_its_first_epoch_gives_the_saved_run_back(tmp_path, fake_data):
    [saved] = run_experiment(SMALL_A, runs_dir=tmp_path, **QUICK_FM)
    proc = CLI(*cli_args(tmp_path, "small_a", "--force"), delay=3.0)  # killed in epoch 1
    proc.wait_for("Training small_a")
    proc.kill()
    assert aside_path(saved.path).exists()
    logs = []
    [again] = run_experiment(SMALL_A, runs_dir=tmp_path, log=logs.append, **QUICK_FM)
    assert any("the saved run at" in line and "is restored" in line for line in logs)
    assert again.history.val_acc == saved.history.val_acc and again.finished
    assert not aside_path(saved.path).exists()


# ---- force, validation, damaged files (in this process) -------------------------------------


def test_force_keeps_the_saved_run_until_the_new_one_has_trained(tmp_path, monkeypatch):
    monkeypatch.setattr(experiments, "make_loaders", fake_loaders())
    [saved] = run_experiment(SMALL, runs_dir=tmp_path, **QUICK_FM)
    before = {p.name: p.read_bytes() for p in saved.path.iterdir()}

    def broken_data(*args, **kwargs):
        raise RuntimeError("the data file is damaged")

    monkeypatch.setattr(experiments, "make_loaders", broken_data)
    with pytest.raises(RuntimeError, match="damaged"):
        run_experiment(SMALL, runs_dir=tmp_path, force=True, **QUICK_FM)
    assert {p.name: p.read_bytes() for p in saved.path.iterdir()} == before

    monkeypatch.setattr(experiments, "make_loaders", fake_loaders())
    stop = threading.Event()
    stop.set()  # the new run stops before its first step: the saved run comes back
    [kept] = run_experiment(SMALL, runs_dir=tmp_path, force=True, stop_event=stop, **QUICK_FM)
    assert kept.history.val_acc == saved.history.val_acc
    assert {p.name: p.read_bytes() for p in saved.path.iterdir()} == before

    logs = []
    [new] = run_experiment(SMALL, runs_dir=tmp_path, force=True, epochs=1, log=logs.append,
                           **QUICK_FM)  # fmt: skip
    assert any("kept aside until the new run finishes its first epoch" in x for x in logs)
    assert new.history.epochs == 1 and load_run(saved.path).settings.epochs == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [saved.path.name]  # no leftovers


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(budget_s=math.inf), "budget_s must be a positive number"),
     (dict(budget_s=-1.0), "budget_s must be a positive number"),
     (dict(epochs=0), "epochs must be a positive integer"),
     (dict(subset=0), "subset must be a positive integer"),
     (dict(amp="fp8"), "amp must be one of"),
     (dict(dataset="mnist"), "unknown dataset 'mnist'")],
)  # fmt: skip
def test_bad_settings_are_refused_before_anything_is_written(tmp_path, fake_data, kwargs, match):
    with pytest.raises(ValueError, match=match):
        run_experiment(SMALL, runs_dir=tmp_path, quick=False, **kwargs)
    assert list(tmp_path.iterdir()) == []


def test_a_bad_run_in_an_experiment_stops_it_before_the_first_run(tmp_path, fake_data):
    with pytest.raises(TypeError, match="unexpected options"):
        run_experiment(SMALL3, runs_dir=tmp_path, quick=False, stop_evnt=None)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(lr=math.inf), "lr must be a positive number"), (dict(lr=0.0), "lr must be"),
     (dict(label_smoothing=1.0), "label_smoothing must be in"),
     (dict(grad_clip=0.0), "grad_clip must be"), (dict(warmup_epochs=-1.0), "warmup_epochs"),
     (dict(batch_size=0), "batch_size must be a positive integer"),
     (dict(augment="mixup"), "unknown augment 'mixup'; choose one of: none, basic, strong")],
)  # fmt: skip
def test_bad_configs_say_what_to_do(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RunConfig("x", "x", **kwargs)


def test_numpy_numbers_are_fine():
    cfg = RunConfig("x", "x", lr=np.float32(1e-3), epochs=np.int64(3))
    assert cfg.lr == pytest.approx(1e-3) and type(cfg.lr) is float and type(cfg.epochs) is int
    json.dumps(cfg.to_dict())  # saved in config.json


def test_one_epoch_of_a_recipe_with_a_warmup_epoch_works(tmp_path, fake_data):
    warm = SMALL.replace(name="warm", lr_schedule="cosine", warmup_epochs=1.0)
    logs = []
    [run] = run_experiment(warm, runs_dir=tmp_path, quick=False, epochs=1, log=logs.append)
    assert run.history.status == "completed" and run.config.warmup_epochs == 0.5
    assert any("warming up for 0.5 epochs (half the run) instead" in line for line in logs)
    [again] = run_experiment(warm, runs_dir=tmp_path, quick=False, epochs=1, log=logs.append)
    assert again.history.val_acc == run.history.val_acc  # the saved run matches: loaded
    [long] = run_experiment(warm, runs_dir=tmp_path / "b", quick=False, epochs=2)
    assert long.config.warmup_epochs == 1.0  # fits: unchanged


@pytest.mark.parametrize("file", ["config.json", "history.json"])
def test_a_damaged_file_is_named_and_force_replaces_it(tmp_path, fake_data, file):
    [run] = run_experiment(SMALL, runs_dir=tmp_path, quick=False)
    (run.path / file).write_text('{"config": {"name": "small_atto", "label')  # truncated
    with pytest.raises(ValueError, match=f"{re.escape(str(run.path / file))} is damaged.*force"):
        run_experiment(SMALL, runs_dir=tmp_path, quick=False)
    [again] = run_experiment(SMALL, runs_dir=tmp_path, quick=False, force=True)
    assert again.history.status == "completed" and load_run(run.path).finished


# ---- the lock itself -----------------------------------------------------------------------


def test_lock_names_the_process_and_stale_locks_are_removed(tmp_path):
    run = tmp_path / "r"
    with run_lock(run), pytest.raises(RunLockedError, match=r"\(this process\)"), run_lock(run):
        pass
    assert not lock_path(run).exists()  # released

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    info = {"pid": gone.pid, "host": socket.gethostname(), "started": "2026-01-01 00:00:00 UTC"}
    lock_path(run).write_text(json.dumps(info))
    logs = []
    with run_lock(run, log=logs.append):
        assert json.loads(lock_path(run).read_text())["pid"] == os.getpid()
    assert logs == [f"Removing a stale lock on {run} (process {gone.pid} is gone); its run can "
                    "resume."]  # fmt: skip

    lock_path(run).write_text(json.dumps({**info, "host": "elsewhere"}))
    elsewhere = f"on elsewhere since .*delete {lock_path(run)}"
    with pytest.raises(RunLockedError, match=elsewhere), run_lock(run):
        pass


def test_an_empty_lock_is_waited_for_while_young_and_removed_when_old(tmp_path):
    run = tmp_path / "r"
    lock_path(run).write_text("")  # its creator is writing it
    old = time.time() - 60
    os.utime(lock_path(run), (old, old))  # ... or died before it could
    logs = []
    with run_lock(run, log=logs.append):
        pass
    assert logs == [f"Removing a stale lock on {run} (the lock file is unreadable); its run can "
                    "resume."]  # fmt: skip
