"""The report's experiments reproduce its code exactly, and every experiment ships its
reference runs (issue: experiment notebooks that teach from real runs)."""

import pytest
import torch.nn as nn

from convnext_nb.engine import make_optimizer
from convnext_nb.experiments import EXPERIMENTS, IMPROVED, RunConfig
from convnext_nb.reference import load_reference, reference_configs, reference_runs
from convnext_nb.report import format_rows, report_differences

# Typed from the report's code (seed report, Tests 1-5 and Result) and PyTorch's documented
# defaults for what it leaves out; independent of the package's own tables on purpose.
REPORT = {
    "sgd_nesterov": {
        "lr": 1e-3,
        "momentum": 0.9,
        "nesterov": True,
        "dampening": 0,
        "weight_decay": 0,
    },
    "radam": {
        "lr": 1e-3,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0,
        "decoupled_weight_decay": False,
    },
    "adamw": {
        "lr": 1e-3,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0.01,
        "amsgrad": False,
    },
}
REPORT_CLASS = {"sgd_nesterov": "SGD", "radam": "RAdam", "adamw": "AdamW"}


def _report_configs() -> list[RunConfig]:
    names = [
        "test1_base_radam",
        "test2_base_optimizers",
        "test3_model_sizes",
        "test4_tiny_ln",
        "test5_tiny_dyt",
        "result_tiny_sgd_nesterov",
    ]
    return [cfg for name in names for cfg in EXPERIMENTS[name].runs]


def _model() -> nn.Module:
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.LayerNorm(4), nn.Linear(4, 2))


@pytest.mark.parametrize("cfg", _report_configs(), ids=lambda c: c.name)
def test_report_configs_build_the_reports_optimizer_exactly(cfg):
    model = _model()
    opt = make_optimizer(
        cfg.optimizer,
        model,
        lr=cfg.lr,
        weight_decay=cfg.weight_decay,
        decay_params=cfg.decay_params,
    )
    assert type(opt).__name__ == REPORT_CLASS[cfg.optimizer]
    assert len(opt.param_groups) == 1, "the report passes model.parameters(): one group"
    (group,) = opt.param_groups
    assert len(group["params"]) == len(list(model.parameters()))
    for key, value in REPORT[cfg.optimizer].items():
        assert group[key] == value, f"{cfg.name}: {key} is {group[key]!r}, report {value!r}"
    assert cfg.augment == "none" and cfg.lr_schedule == "constant" and cfg.stem == "patchify"
    assert cfg.label_smoothing == 0 and cfg.drop_path_rate == 0 and cfg.grad_clip is None


def test_configs_never_show_none_for_a_real_value():
    for cfg in {c.name: c for e in EXPERIMENTS.values() for c in e.runs}.values():
        assert cfg.weight_decay is not None, cfg.name
        assert f"weight_decay={cfg.weight_decay}" in repr(cfg)
    assert RunConfig("x", "x", optimizer="adamw").weight_decay == 0.01  # PyTorch's default
    assert RunConfig("x", "x", optimizer="radam").replace(optimizer="adamw").weight_decay == 0.01


def test_our_recipe_keeps_its_own_decay_groups():
    opt = make_optimizer(
        IMPROVED.optimizer,
        _model(),
        lr=IMPROVED.lr,
        weight_decay=IMPROVED.weight_decay,
        decay_params=IMPROVED.decay_params,
    )
    decays = sorted(g["weight_decay"] for g in opt.param_groups)
    assert decays == [0.0, 0.05]


def test_assumptions_are_stated_where_the_report_is_silent():
    result = EXPERIMENTS["result_tiny_sgd_nesterov"].runs[0]
    assert {"batch_size", "seed", "epochs"} <= {k for k, _ in result.assumed}
    rows = report_differences()
    assert all(r["why"] != "DIFFERENT: fix the config" for r in rows)
    text = format_rows(rows)
    assert "not stated" in text and "(assumed)" in text


def test_every_experiment_has_reference_runs_that_load_and_match_its_configs():
    for name, exp in EXPERIMENTS.items():
        runs = reference_runs(name)
        assert [r.name for r in runs] == [c.name for c in exp.runs]
        for run, cfg in zip(runs, exp.runs, strict=True):
            assert run.config.training_settings() == cfg.training_settings(), (
                f"{run.name}: the config changed since its reference run was made; remake it "
                f"with `python -m convnext_nb reference --only {run.name} --force`"
            )
            h = run.history
            assert h.status == "completed" and h.epochs >= 1 and h.best_epoch >= 1
            assert 0 < run.test_acc <= 1
            assert run.settings["dataset"] == "fashion_mnist" and run.settings["subset"] == 5000
            made = run.settings["made_on"]
            assert made["wall_s"] > 0 and made["torch"] and made["device_name"]
            if not run.settings["shortened"]:
                assert h.epochs == cfg.epochs, f"{run.name} is short but does not say so"


def test_a_missing_or_damaged_reference_run_says_how_to_make_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="convnext_nb reference --only improved"):
        load_reference("improved", folder=tmp_path)
    (tmp_path / "improved.json").write_text("{not json")
    with pytest.raises(ValueError, match="damaged"):
        load_reference("improved", folder=tmp_path)
    assert len(reference_configs()) == len({c.name for c in reference_configs()})
