"""Experiment configs and run_experiment: saves, reuses, resumes, retrains on force."""

from __future__ import annotations

import json

import pytest
import torch
from experiment_fakes import SMALL, TinyLoader, fake_loaders

import convnext_nb
from convnext_nb import experiments
from convnext_nb.experiments import (
    EXPERIMENTS,
    RunConfig,
    RunSettings,
    build_model,
    format_table,
    get_experiment,
    load_run,
    results_table,
    run_experiment,
)

# The report's own numbers (REFERENCE.md section 1): run name -> (best val acc %, epoch).
REPORT = {
    "test1_base_radam": (35.7, 21),
    "test2_base_sgd_nesterov": (33.2, 10),
    "test2_base_radam": (30.0, 19),
    "test2_base_adamw": (29.3, 5),
    "test3_atto_radam": (32.1, 8),
    "test3_nano_radam": (32.6, 37),
    "test4_tiny_ln": (31.8, 5),
    "test5_tiny_dyt": (31.1, 16),
    "result_tiny_sgd_nesterov": (34.1, None),
}


# Every run_experiment here passes device="cpu": the default is the GPU where there is one, and
# these tests compare exact numbers (a resumed run equals an uninterrupted one).


@pytest.fixture
def fake_data(monkeypatch):
    monkeypatch.setattr(experiments, "make_loaders", fake_loaders())


def all_runs() -> dict[str, RunConfig]:
    return {r.name: r for e in EXPERIMENTS.values() for r in e.runs}


def test_issue_names_exported():
    names = {"test1_base_radam", "test2_base_optimizers", "test3_model_sizes", "test4_tiny_ln",
             "test5_tiny_dyt", "result_tiny_sgd_nesterov", "improved"}  # fmt: skip
    assert names <= set(convnext_nb.EXPERIMENTS)
    assert convnext_nb.run_experiment is run_experiment


def test_configs_carry_the_report_numbers():
    runs = all_runs()
    for name, (acc, epoch) in REPORT.items():
        assert (runs[name].report_acc, runs[name].report_epoch) == (acc, epoch), name
    assert runs["improved"].report_acc is None  # ours, nothing to compare with in the report


def test_configs_match_the_report_setup():
    runs = all_runs()
    assert [r.optimizer for r in EXPERIMENTS["test2_base_optimizers"].runs] == [
        "sgd_nesterov", "radam", "adamw",
    ]  # fmt: skip
    assert [r.model for r in EXPERIMENTS["test3_model_sizes"].runs] == [
        "convnextv2_atto", "convnextv2_nano", "convnextv2_base",
    ]  # fmt: skip
    assert (runs["test4_tiny_ln"].norm, runs["test5_tiny_dyt"].norm) == ("ln", "dyt")
    for name in REPORT:  # the seed: lr 1e-3, no augmentation, 4x4 stem, constant lr
        r = runs[name]
        assert (r.lr, r.augment, r.stem, r.lr_schedule) == (1e-3, "none", "patchify", "constant")


def test_improved_is_the_recipe():
    r = all_runs()["improved"]
    assert r.stem in ("cifar", "cifar_s2") and r.augment in ("basic", "strong")
    assert (r.optimizer, r.lr_schedule) == ("adamw", "cosine")
    assert r.warmup_epochs > 0 and r.label_smoothing > 0


def test_test2_runs_start_from_the_same_weights():
    """The fair comparison: each optimizer trains its own copy of one initialisation."""
    models = [build_model(r.replace(width=0.25)) for r in EXPERIMENTS["test2_base_optimizers"].runs]
    first = models[0].state_dict()
    for m in models[1:]:
        assert all(torch.equal(first[k], v) for k, v in m.state_dict().items())


def test_replace_names_the_change_and_drops_report_numbers():
    seed = all_runs()["result_tiny_sgd_nesterov"]
    changed = seed.replace(lr=5e-4)
    assert changed.name == "result_tiny_sgd_nesterov+lr=0.0005" and changed.lr == 5e-4
    assert changed.report_acc is None and seed.report_acc == 34.1
    with pytest.raises(ValueError, match="unknown RunConfig fields"):
        seed.replace(learning_rate=1e-2)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"model": "giant"}, "unknown model"), ({"norm": "bn"}, "unknown norm"),
     ({"stem": "s4"}, "unknown stem"), ({"epochs": 0}, "positive integer"),
     ({"lr": -1.0}, "lr must be a positive number")],
)  # fmt: skip
def test_bad_config_says_what_to_do(kwargs, match):
    with pytest.raises(ValueError, match=match):
        RunConfig("x", "x", **kwargs)


def test_unknown_experiment_lists_names():
    with pytest.raises(ValueError, match="test1_base_radam"):
        get_experiment("test9")
    assert get_experiment("test2_base_radam").runs[0].optimizer == "radam"  # single run by name


def test_run_saves_and_reuses(tmp_path, fake_data, capsys, monkeypatch):
    [run] = run_experiment(
        SMALL, device="cpu", runs_dir=tmp_path, dataset="fashion_mnist", quick=False
    )
    path = tmp_path / "small_atto-fashion_mnist"
    assert run.path == path and run.history.status == "completed" and run.history.epochs == 2
    saved = json.loads((path / "config.json").read_text())
    assert (
        saved["config"]["name"] == "small_atto" and saved["settings"]["dataset"] == "fashion_mnist"
    )
    assert json.loads((path / "history.json").read_text())["val_acc"] == run.history.val_acc

    def no_training(*args, **kwargs):
        raise AssertionError("a finished run must be loaded, not retrained")

    monkeypatch.setattr(experiments, "train", no_training)
    capsys.readouterr()
    [again] = run_experiment(
        SMALL, device="cpu", runs_dir=tmp_path, dataset="fashion_mnist", quick=False
    )
    assert f"Found saved run at {path}, loading" in capsys.readouterr().out
    assert again.history.val_acc == run.history.val_acc
    assert again.load_model().head.out_features == 4


def test_stopped_run_resumes_to_the_same_result(tmp_path, fake_data, capsys):
    kw = dict(dataset="fashion_mnist", quick=False)
    [full] = run_experiment(SMALL, device="cpu", runs_dir=tmp_path / "a", **kw)
    [stopped] = run_experiment(
        SMALL, device="cpu", runs_dir=tmp_path / "b", callbacks=[lambda h: True], **kw
    )
    assert stopped.history.status == "stopped" and stopped.history.epochs == 1
    [resumed] = run_experiment(SMALL, device="cpu", runs_dir=tmp_path / "b", **kw)
    assert "resuming" in capsys.readouterr().out
    assert resumed.history.status == "completed"
    assert resumed.history.val_acc == full.history.val_acc
    assert resumed.history.train_loss == pytest.approx(full.history.train_loss, rel=1e-5)


def test_budget_cuts_each_epoch_to_the_steps_that_fit(tmp_path, fake_data, capsys, monkeypatch):
    monkeypatch.setattr(experiments, "time_train_step", lambda *args: 0.5)
    kw = dict(runs_dir=tmp_path, dataset="fashion_mnist", quick=False, budget_s=2.0)
    [run] = run_experiment(
        SMALL, device="cpu", **kw
    )  # 2 s over 2 epochs at 0.5 s per step, of 4 batches
    assert "Budget 2 s: 500 ms per step -> 2 steps per epoch." in capsys.readouterr().out
    assert run.settings.max_steps_per_epoch == 2 and run.history.steps == 4
    [again] = run_experiment(SMALL, device="cpu", **kw)  # the saved run is reused, not re-timed
    assert again.history.steps == 4


def test_time_train_step_times_a_copy():
    model = build_model(SMALL, num_classes=4)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    seconds = experiments.time_train_step(model, SMALL, TinyLoader(64), torch.device("cpu"))
    assert 0 < seconds < 10
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    with pytest.raises(ValueError, match="too few batches"):
        experiments.time_train_step(model, SMALL, TinyLoader(16), torch.device("cpu"))


def test_force_retrains_and_other_settings_refuse(tmp_path, fake_data, capsys):
    kw = dict(runs_dir=tmp_path, dataset="fashion_mnist", quick=False)
    run_experiment(SMALL, device="cpu", **kw)
    with pytest.raises(ValueError, match="force=True"):
        run_experiment(SMALL, device="cpu", epochs=3, **kw)  # same run name, other settings
    [run] = run_experiment(SMALL, device="cpu", epochs=3, force=True, **kw)
    assert "kept aside until the new run" in capsys.readouterr().out and run.history.epochs == 3


def test_quick_mode_says_so_and_shrinks(tmp_path, fake_data, capsys):
    [run] = run_experiment(
        "test1_base_radam", device="cpu", quick=True, runs_dir=tmp_path, epochs=10
    )
    out = capsys.readouterr().out
    assert "Quick mode:" in out and "only" in out
    assert run.settings.quick and run.settings.epochs == experiments.QUICK.max_epochs
    assert run.name.endswith("-quick") and run.settings.width == experiments.QUICK.width
    assert run.dataset == experiments.quick_dataset()


def test_results_table_puts_report_beside_ours(tmp_path, fake_data):
    runs = run_experiment(
        SMALL, device="cpu", runs_dir=tmp_path, dataset="fashion_mnist", quick=False
    )
    runs.append(load_run(runs[0].path))
    rows = results_table(runs)
    assert rows[0]["data"] == "fashion_mnist" and rows[0]["report val acc % (CIFAR-100)"] is None
    text = format_table(rows)
    assert "best val acc %" in text and len(text.splitlines()) == 4


def test_load_run_on_a_non_run_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a saved run"):
        load_run(tmp_path)


def test_run_settings_read_old_dicts_and_keep_extras():
    saved = {"dataset": "fashion_mnist", "quick": False, "epochs": 2, "subset": 200,
             "val_size": 1000, "batch_size": 64, "width": 1.0, "max_steps_per_epoch": None,
             "budget_s": None, "amp": "bf16", "num_classes": 10,
             "made_on": {"amp": "bf16"}, "reference": True, "shortened": None}  # fmt: skip
    s = RunSettings.from_dict(saved)
    assert (s.dataset, s.epochs, s.amp, s.num_classes) == ("fashion_mnist", 2, "bf16", 10)
    assert s["made_on"]["amp"] == "bf16" and s.get("shortened") is None and s["quick"] is False
    assert s.get("nothing", 5) == 5 and s.to_dict() == saved
    assert RunSettings.from_dict(s.to_dict()) == s
    with pytest.raises(KeyError):
        s["nothing"]


def test_run_settings_for_a_run():
    cfg = all_runs()["test4_tiny_ln"]
    full = RunSettings.for_run(cfg, quick=False)
    assert (full.dataset, full.epochs, full.batch_size, full.width) == ("cifar100", 20, 64, 1.0)
    quick = RunSettings.for_run(cfg, quick=True, dataset="fashion_mnist", epochs=10)
    q = experiments.QUICK
    assert (quick.epochs, quick.subset, quick.width) == (q.max_epochs, q.subset, q.width)
    assert "budget_s" not in quick.identity() and "amp" not in quick.identity()


def test_settings_object_goes_straight_through(tmp_path, fake_data):
    settings = RunSettings(dataset="fashion_mnist", epochs=1, batch_size=16, width=0.25)
    [run] = run_experiment(SMALL, device="cpu", settings=settings, runs_dir=tmp_path)
    assert run.settings.epochs == 1 and run.history.epochs == 1 and run.settings.num_classes == 4
    with pytest.raises(ValueError, match="not both"):
        run_experiment(SMALL, device="cpu", settings=settings, epochs=2, runs_dir=tmp_path)


def test_graphs_come_from_the_experiments():
    from convnext_nb.plots import GRAPHS

    graphs = {e.graph: e.name for e in EXPERIMENTS.values() if e.graph}
    assert {GRAPHS[g.lower().replace(" ", "")][0] for g in graphs} == set(graphs.values())
    assert GRAPHS["graph3"] == ("dyt_vs_ln", "Graph 3: Dynamic Tanh vs LayerNorm",
                                "graph3_dyt_vs_ln")  # fmt: skip
