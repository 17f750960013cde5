"""Optimizers and learning-rate schedules: the seed report's optimizers, by name, and a per-step
warmup + cosine schedule built from torch.optim.lr_scheduler.

This module builds torch.optim objects; it does not train (that is `engine`).
"""

from __future__ import annotations

import inspect
import math
from typing import Any

import numpy as np
import torch
import torch.nn as nn
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, LRScheduler, SequentialLR

from .layers import GRN, DynamicTanh, LayerNorm

OPTIMIZERS = ("sgd_nesterov", "radam", "adamw", "sgd", "adam")

# Each name is a torch.optim class plus the settings the seed report wrote out by hand;
# everything else (weight decay included) is PyTorch's own default, as in the report's code.
_OPTIMIZER_SPECS = {
    "sgd_nesterov": (torch.optim.SGD, {"momentum": 0.9, "nesterov": True}),
    "sgd": (torch.optim.SGD, {"momentum": 0.9}),
    "radam": (torch.optim.RAdam, {"betas": (0.9, 0.999), "eps": 1e-8}),
    "adamw": (torch.optim.AdamW, {"betas": (0.9, 0.999), "eps": 1e-8}),
    "adam": (torch.optim.Adam, {"betas": (0.9, 0.999), "eps": 1e-8}),
}
DECAY_PARAMS = ("all", "weights")  # which parameters weight decay applies to
SCHEDULES = ("constant", "cosine")


def is_number(value: Any) -> bool:
    """A real number: Python or NumPy int/float (np.float32(1e-3) too), not a bool."""
    return isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)


def is_positive_number(value: Any) -> bool:
    """A finite number > 0 (inf and nan are not)."""
    return is_number(value) and math.isfinite(value) and value > 0


def default_weight_decay(name: str) -> float:
    """PyTorch's own default weight decay of an optimizer (AdamW 0.01; SGD, RAdam, Adam 0)."""
    cls, _ = _OPTIMIZER_SPECS[_optimizer_key(name)]
    return float(inspect.signature(cls.__init__).parameters["weight_decay"].default)


def _optimizer_key(name: str) -> str:
    key = name.lower().replace("-", "_") if isinstance(name, str) else name
    if key not in _OPTIMIZER_SPECS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}.")
    return key


# Parameters of these modules never get weight decay (they are scales and shifts).
NO_DECAY_MODULES = (
    LayerNorm, GRN, DynamicTanh, nn.LayerNorm, nn.GroupNorm, nn.modules.batchnorm._BatchNorm,
)  # fmt: skip


def _no_decay(module: nn.Module, short_name: str, name: str, p: nn.Parameter, skip: set) -> bool:
    return (
        p.ndim <= 1
        or short_name in ("bias", "gamma", "beta")
        or isinstance(module, NO_DECAY_MODULES)
        or name in skip
    )


def param_groups(model: nn.Module, weight_decay: float) -> list[dict[str, Any]]:
    """Split trainable parameters into a "decay" and a "no_decay" group.

    As in the official ConvNeXt V2 code (optim_factory): no decay for 1-D parameters, biases,
    GRN gamma/beta (shape (1, 1, 1, C)), norm and DyT parameters, and the names in
    `model.no_weight_decay()` when the model has it (timm's convention).
    """
    skip = set(model.no_weight_decay()) if hasattr(model, "no_weight_decay") else set()
    decay, no_decay, seen = [], [], set()
    for module_name, module in model.named_modules():
        for short_name, p in module.named_parameters(recurse=False):
            if not p.requires_grad or id(p) in seen:
                continue
            seen.add(id(p))
            name = f"{module_name}.{short_name}" if module_name else short_name
            (no_decay if _no_decay(module, short_name, name, p, skip) else decay).append(p)
    groups = [
        {"params": decay, "weight_decay": weight_decay, "name": "decay"},
        {"params": no_decay, "weight_decay": 0.0, "name": "no_decay"},
    ]
    return [g for g in groups if g["params"]]


def make_optimizer(
    name: str,
    model: nn.Module,
    lr: float = 1e-3,
    weight_decay: float | None = None,
    decay_params: str = "all",
    **kwargs: Any,
) -> torch.optim.Optimizer:
    """Build one of the seed report's optimizers, exactly as its code does by default.

    name: "sgd_nesterov" (SGD, momentum 0.9, Nesterov), "sgd" (momentum 0.9), "radam",
    "adamw", "adam" (betas (0.9, 0.999), eps 1e-8).
    weight_decay: None keeps PyTorch's default for that optimizer (`default_weight_decay`:
        AdamW 0.01, the others 0), as `optim.AdamW(model.parameters(), lr=1e-3)` does.
    decay_params: "all" puts every parameter in one group (the report's code);
        "weights" leaves norms, biases and GRN/DyT parameters undecayed (the ConvNeXt
        recipe, see `param_groups`).
    Extra keyword arguments go to the torch.optim class (e.g. momentum=0.8, betas=...).
    `train` switches on the fused CUDA kernels itself (`use_fused`) when it trains on a GPU.
    """
    key = _optimizer_key(name)
    if not is_positive_number(lr):
        raise ValueError(f"lr must be a positive finite number (e.g. 1e-3), got {lr!r}.")
    wd = default_weight_decay(key) if weight_decay is None else weight_decay
    if not is_number(wd) or not 0 <= wd < math.inf:
        raise ValueError(f"weight_decay must be >= 0 (e.g. 0.05), got {weight_decay!r}.")
    if decay_params not in DECAY_PARAMS:
        raise ValueError(f"decay_params must be one of {DECAY_PARAMS}, got {decay_params!r}.")
    if decay_params == "all":
        groups = [p for p in model.parameters() if p.requires_grad]
    else:
        groups = param_groups(model, float(wd))
    if not groups:
        raise ValueError("the model has no trainable parameters (all requires_grad=False).")
    cls, settings = _OPTIMIZER_SPECS[key]
    return cls(groups, lr=float(lr), **{**settings, "weight_decay": float(wd), **kwargs})


def use_fused(optimizer: torch.optim.Optimizer) -> bool:
    """Switch an optimizer to PyTorch's fused kernels (one kernel for all parameters).

    Only where it has them (Adam, AdamW, SGD; not RAdam) and the user left `fused` and
    `foreach` unset. Returns True when the optimizer now runs fused.
    """
    groups = optimizer.param_groups
    if not all(g.get("fused", False) is None and not g.get("foreach") for g in groups):
        return all(g.get("fused") for g in groups)
    for group in groups:
        group["fused"] = True
    optimizer._step_supports_amp_scaling = True  # as the constructor does for fused=True
    return True


def make_scheduler(
    optimizer: torch.optim.Optimizer, schedule: str, total_steps: int, warmup_steps: int = 0
) -> LRScheduler | None:
    """Per-step LR schedule: optional linear warmup, then constant or cosine decay to 0.

    Warmup goes from lr / (warmup_steps + 1) up to lr over `warmup_steps` steps.
    "constant" without warmup returns None (no scheduler at all).
    """
    if schedule not in SCHEDULES:
        raise ValueError(f"lr_schedule must be one of {SCHEDULES}, got {schedule!r}.")
    warmup = None
    if warmup_steps > 0:
        warmup = LinearLR(optimizer, start_factor=1 / (warmup_steps + 1), total_iters=warmup_steps)
    if schedule == "constant":
        return warmup
    cosine = CosineAnnealingLR(optimizer, T_max=max(total_steps - warmup_steps, 1))
    if warmup is None:
        return cosine
    return SequentialLR(optimizer, [warmup, cosine], milestones=[warmup_steps])
