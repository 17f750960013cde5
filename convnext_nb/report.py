"""The seed report's settings, as written in its code, and how ours differ (a computed table).

    rows = report_differences()        # setting | report | ours | why they differ
    print(format_rows(rows))

The "report" column is the report's own code and text, typed in once here (REPORT_OPTIMIZERS,
REPORT_SETTINGS). The "ours" column is read from what runs: each optimizer is built by
`make_optimizer` from the experiment configs and its `param_groups` are printed; batch size,
epochs and the other settings come from the configs and the shipped reference runs. So the
table cannot drift from the code. This module reads configs; it does not train or plot.
"""

from __future__ import annotations

from typing import Any

import torch.nn as nn

from .engine import make_optimizer
from .experiments import EXPERIMENTS, RESULT, TEST2, RunConfig

# The report's optimizer lines (Tests 1-5 and Result), with PyTorch's defaults filled in.
REPORT_OPTIMIZERS: dict[str, dict[str, Any]] = {
    "sgd_nesterov": {
        "code": "optim.SGD(model.parameters(), lr=0.001, momentum=0.9, nesterov=True)",
        "lr": 1e-3,
        "momentum": 0.9,
        "nesterov": True,
        "dampening": 0,
        "weight_decay": 0.0,
    },
    "radam": {
        "code": "optim.RAdam(model.parameters(), lr=0.001, betas=(0.9, 0.999), eps=1e-08)",
        "lr": 1e-3,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0.0,
    },
    "adamw": {
        "code": "optim.AdamW(model.parameters(), lr=0.001, betas=(0.9, 0.999), eps=1e-08)",
        "lr": 1e-3,
        "betas": (0.9, 0.999),
        "eps": 1e-8,
        "weight_decay": 0.01,
    },
}
HYPERPARAMETERS = ("lr", "momentum", "nesterov", "dampening", "betas", "eps", "weight_decay")


def optimizer_settings(config: RunConfig, model: nn.Module | None = None) -> dict[str, Any]:
    """The hyperparameters a config's optimizer really has, read back from its param_groups.

    Returns the first group's values for HYPERPARAMETERS it has, plus "groups" (how many) and
    "all_params_in_one_group".
    """
    model = model if model is not None else nn.Sequential(nn.Linear(4, 4), nn.LayerNorm(4))
    opt = make_optimizer(
        config.optimizer,
        model,
        lr=config.lr,
        weight_decay=config.weight_decay,
        decay_params=config.decay_params,
    )
    group = opt.param_groups[0]
    found = {k: group[k] for k in HYPERPARAMETERS if k in group}
    n_params = sum(1 for p in model.parameters() if p.requires_grad)
    found["groups"] = len(opt.param_groups)
    found["all_params_in_one_group"] = len(group["params"]) == n_params
    return found


def _describe(settings: dict[str, Any]) -> str:
    keys = [k for k in HYPERPARAMETERS if k in settings and k != "dampening"]
    text = ", ".join(f"{k}={settings[k]}" for k in keys)
    groups = settings.get("groups", 1)
    return text + (", one group" if groups == 1 else f", {groups} groups (no decay on norms)")


def _optimizer_rows() -> list[dict[str, str]]:
    rows = []
    for cfg in TEST2:  # one config per optimizer the report used
        ours = optimizer_settings(cfg)
        report = REPORT_OPTIMIZERS[cfg.optimizer]
        same = all(ours.get(k) == v for k, v in report.items() if k != "code")
        same = same and ours["all_params_in_one_group"]
        rows.append(
            {
                "setting": f"optimizer {cfg.optimizer}",
                "report": report["code"],
                "ours": _describe(ours),
                "why": "same (PyTorch defaults for everything the report left out)"
                if same
                else "DIFFERENT: fix the config",
            }
        )
    return rows


def _assumption_rows() -> list[dict[str, str]]:
    rows, seen = [], set()
    for exp in EXPERIMENTS.values():
        for cfg in exp.runs:
            for setting, why in cfg.assumed:
                if (setting, getattr(cfg, setting)) in seen:
                    continue
                seen.add((setting, getattr(cfg, setting)))
                where = "Result" if cfg is RESULT else "Tests 1-5, Result"
                rows.append(
                    {
                        "setting": f"{setting} ({where})",
                        "report": "not stated",
                        "ours": f"{getattr(cfg, setting)} (assumed)",
                        "why": why,
                    }
                )
    return rows


def _reference_rows() -> list[dict[str, str]]:
    from .reference import REFERENCE_DATA, load_reference, reference_configs, reference_path

    made = [c for c in reference_configs() if reference_path(c.name).exists()]
    amps = sorted({str(load_reference(c.name).settings["made_on"]["amp"]) for c in made})
    shortened = sorted({_shortened_epochs(c) for c in made if c.model.endswith("base")}, key=str)
    rows = [
        {
            "setting": "data (reference runs)",
            "report": "CIFAR-100: 49,000 train / 1,000 val images, 100 classes",
            "ours": f"{REFERENCE_DATA['dataset']}: {REFERENCE_DATA['subset']:,} train / 1,000 val "
            "/ 10,000 test, 10 classes",
            "why": "no CIFAR-100 copy could be downloaded where they were made; 500 images per "
            "class as CIFAR-100 has. Your own CIFAR-100 runs replace them when present",
        },
        {
            "setting": "precision (reference runs)",
            "report": "fp32 (no autocast in its code)",
            "ours": f"autocast {', '.join(amps) or '-'} (fp32 weights and loss)",
            "why": "faster on GPUs and on CPUs with bf16 units (AMX), where the reference runs "
            "were made; `--amp off` trains in fp32",
        },
        {
            "setting": "Test 2 protocol",
            "report": "one model trained by the three optimizers in sequence",
            "ours": "each optimizer from the same fresh initial weights",
            "why": "in sequence, optimizers 2 and 3 start from a trained model: not a fair test",
        },
    ]
    if any(shortened):
        rows.append(
            {
                "setting": "base-model epochs (reference runs)",
                "report": "50 / 20",
                "ours": ", ".join(str(e) for e in shortened if e is not None),
                "why": "the CPU that made them could not fit 110 base epochs; "
                "`python -m convnext_nb reference --device cuda` makes them whole",
            }
        )
    return rows


def _shortened_epochs(cfg: RunConfig) -> int | None:
    from .reference import load_reference

    run = load_reference(cfg.name)
    return run.history.epochs if run.settings.get("shortened") else None


def report_differences() -> list[dict[str, str]]:
    """Every setting the report fixed or left open: setting | report | ours | why they differ."""
    return _optimizer_rows() + _assumption_rows() + _reference_rows()


def format_rows(rows: list[dict[str, str]], width: int = 60) -> str:
    """Rows as plain text: one block per setting (long cells do not fit a fixed-width table)."""
    lines = []
    for row in rows:
        lines.append(row["setting"])
        for key in ("report", "ours", "why"):
            lines.append(f"  {key:6} {row[key]}")
    return "\n".join(lines)
