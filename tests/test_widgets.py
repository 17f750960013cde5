"""The training panel without a browser: the Train/Stop code path, the live plot, the log."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from experiment_fakes import SMALL, fake_loaders

from convnext_nb import experiments
from convnext_nb.data import AUGMENTS
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


def test_a_second_click_says_it_loaded_the_saved_run_and_retrain_trains_again(panel):
    first = panel.train(wait=True)
    again = panel.train(wait=True)
    assert again.model is None and again.history.val_acc == first.history.val_acc
    assert "Loaded the saved run" in panel.status.value and "Tick 'retrain'" in panel.status.value
    panel.retrain.value = True
    retrained = panel.train(wait=True)
    assert retrained.model is not None and "Completed" in panel.status.value
    assert panel.retrain.value is False  # the next click loads the new run


def test_quick_mode_epochs_slider_shows_what_runs(tmp_path):
    p = TrainingPanel("test4_tiny_ln", quick=True, runs_dir=tmp_path)
    cap = experiments.QUICK.max_epochs
    assert (p.epochs.value, p.epochs.max) == (cap, cap) and f"at most {cap}" in p.epochs.description
    assert p.config().name == "test4_tiny_ln" and p.settings().epochs == cap
    p.epochs.value = 1
    assert p.config().epochs == 1 and p.settings().epochs == 1
    full = TrainingPanel("test4_tiny_ln", quick=False, runs_dir=tmp_path)
    assert full.epochs.value == 20 and full.epochs.description == "epochs"


def test_choices_come_from_the_package(tmp_path):
    p = TrainingPanel("test4_tiny_ln", runs_dir=tmp_path)
    assert [v for _, v in p.norm.options] == list(experiments.NORMS)
    assert list(p.stem.options) == list(experiments.STEMS)
    assert list(p.augment.options) == list(AUGMENTS)


def test_bad_settings_show_at_once(tmp_path):
    p = TrainingPanel("test4_tiny_ln", dataset="mnist", runs_dir=tmp_path)
    with pytest.raises(ValueError, match="unknown dataset 'mnist'"):
        p.train(wait=True)
    assert "Error" in p.status.value and p.thread is None and not p.train_button.disabled
    assert list(tmp_path.iterdir()) == []


def test_import_convnext_nb_loads_no_widgets():
    code = ("import sys, convnext_nb; print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'ipywidgets', 'IPython'})); convnext_nb.TrainingPanel; "
            "print('ipywidgets' in sys.modules)")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, check=True).stdout.split()  # fmt: skip
    assert out == ["[]", "True"]
