"""The training panel without a browser: the Train/Stop code path, the live plot, the log."""

from __future__ import annotations

import time

import pytest
from experiment_fakes import SMALL, fake_loaders

from convnext_nb import experiments
from convnext_nb.widgets import TrainingPanel


@pytest.fixture
def panel(tmp_path, monkeypatch):
    monkeypatch.setattr(experiments, "make_loaders", fake_loaders(delay=0.05))
    return TrainingPanel(SMALL, quick=False, dataset="fashion_mnist", runs_dir=tmp_path)


def test_controls_start_at_the_experiment_and_make_configs(tmp_path):
    p = TrainingPanel("test5_tiny_dyt", runs_dir=tmp_path)
    assert (p.model.value, p.norm.value, p.optimizer.value) == ("tiny", "dyt", "radam")
    assert p.config().name == "test5_tiny_dyt"  # unchanged settings: the experiment's run
    p.lr.value, p.stem.value = 5e-4, "cifar_s2"
    cfg = p.config()
    assert (cfg.lr, cfg.stem) == (5e-4, "cifar_s2") and cfg.name != "test5_tiny_dyt"


def test_train_wait_is_the_button_path_headless(panel, capsys):
    empty_plot = panel.plot.value
    run = panel.train(wait=True)
    assert run is panel.run and run.history.status == "completed" and run.history.epochs == 2
    assert "Epoch 2, loss =" in capsys.readouterr().out  # printed in the cell when waiting
    assert panel.plot.value != empty_plot and panel.plot.value[:4] == b"\x89PNG"
    assert "Completed" in panel.status.value and not panel.train_button.disabled
    assert panel.stop_button.disabled


def test_button_click_trains_in_background_and_logs_to_the_panel(panel, capsys):
    panel.train_button.click()
    assert panel.running and panel.train_button.disabled  # the click returned at once
    run = panel.wait(timeout=60)
    assert run is not None and run.history.status == "completed"
    log = "".join(o["text"] for o in panel.log.outputs)
    assert "Epoch 1, loss =" in log and "Training small_atto" in log
    assert "Epoch 1, loss =" not in capsys.readouterr().out  # not leaked into another cell


def test_stop_keeps_what_was_trained_and_train_resumes(panel):
    epochs_seen = []
    panel.base = SMALL.replace(epochs=5, name="small_atto")  # a longer run to stop
    panel.epochs.value = 5
    on_epoch = panel._on_epoch

    def spy(history):
        epochs_seen.append(history.epochs)
        on_epoch(history)

    panel._on_epoch = spy
    panel.train()
    deadline = time.monotonic() + 60
    while not epochs_seen and time.monotonic() < deadline:
        time.sleep(0.05)
    panel.stop_button.click()
    run = panel.wait(timeout=60)
    assert run.history.status == "stopped" and 1 <= run.history.epochs < 5
    assert "Stopped" in panel.status.value
    resumed = panel.train(wait=True)  # Train again: continues from the saved epochs
    assert resumed.history.status == "completed" and resumed.history.epochs == 5


def test_errors_show_in_the_panel(panel):
    panel.train(wait=True)
    panel.base = SMALL.replace(name="small_atto", width=0.5)  # same run name, other settings
    with pytest.raises(ValueError, match="other settings"):
        panel.train(wait=True)
    assert "Error" in panel.status.value and not panel.train_button.disabled
