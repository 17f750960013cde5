"""Checkers for the training exercises: one step (03), the report's optimizers (04), the best
epoch of a History (07) and the warmup + cosine learning rate (08)."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..engine import History, make_optimizer, make_scheduler, train_one_epoch
from .exercise import call, exercise, number

Tensor = torch.Tensor

# --------------------------------------------------------------------------------------------
# One training step (notebook 03)


def _step_setup() -> tuple[nn.Module, torch.optim.Optimizer, Tensor, Tensor]:
    """A small model with BatchNorm (train and eval differ), in eval mode as check_accuracy
    leaves it, with the previous batch's gradients still in .grad; and a batch (X, y)."""
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.GELU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 10),
    )
    for p in model.parameters():
        p.grad = torch.randn_like(p)  # left over from the previous batch
    model.eval()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return model, optimizer, torch.randn(16, 3, 8, 8), torch.randint(0, 10, (16,))


def _fresh(model: nn.Module) -> tuple[nn.Module, torch.optim.Optimizer]:
    model = copy.deepcopy(model)
    for p, q in zip(model.parameters(), _step_setup()[0].parameters(), strict=True):
        p.grad = q.grad.clone()
    return model, torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)


def _variant(model: nn.Module, X: Tensor, y: Tensor, order: str) -> nn.Module:
    """Run the step's operations in `order` ("z" zero_grad, "b" backward, "s" step)."""
    model, optimizer = _fresh(model)
    model.train()
    loss = F.cross_entropy(model(X), y)
    for op in order:
        {"z": optimizer.zero_grad, "b": loss.backward, "s": optimizer.step}[op]()
    return model


def _same_weights(a: nn.Module, b: nn.Module, buffers: bool = True) -> bool:
    """Equal parameters (and BatchNorm's running statistics, with buffers=True)."""
    values = (lambda m: m.state_dict().values()) if buffers else (lambda m: m.parameters())
    return all(
        torch.allclose(p, q, rtol=1e-4, atol=1e-6)
        for p, q in zip(values(a), values(b), strict=True)
    )


STEP_MISTAKES = [
    (
        "bs",
        "your step never calls optimizer.zero_grad(): your update uses the sum of this "
        "batch's gradients and the previous batch's (backward adds into .grad), but it should "
        "use this batch's only. Call optimizer.zero_grad() before loss.backward()",
    ),
]
STEP_BEFORE_BACKWARD = (
    "your step calls optimizer.step() before loss.backward(): step changes the weights in "
    "place (with the gradients left from the previous batch), so backward can no longer "
    "compute this batch's gradients. The order is zero_grad, forward, loss, backward, step."
)


@exercise("train_step", "Your step updates the weights exactly as train_one_epoch does.")
def check_train_step(fn: Callable[[nn.Module, Any, Tensor, Tensor], Any]) -> None:
    """Check train_step(model, optimizer, X, y) -> loss against the package's train_one_epoch.

    Both start from the same model (in eval mode, with stale gradients in .grad) and batch.
    """
    model, _, X, y = _step_setup()
    reference, ref_opt = _fresh(model)
    result = train_one_epoch(
        reference, ref_opt, [(X, y)], steps=1, device="cpu", amp=False, channels_last=False
    )
    student, optimizer = _fresh(model)
    modes: list[bool] = []
    student.register_forward_pre_hook(lambda m, args: modes.append(m.training))
    try:
        loss = call(fn, "train_step", student, optimizer, X, y)
    except AssertionError as e:
        if "inplace operation" in str(e):  # autograd's error when step ran before backward
            raise AssertionError(STEP_BEFORE_BACKWARD) from e
        raise
    if not modes:
        raise AssertionError("your train_step never runs the model: compute model(X) first.")
    if not modes[0]:
        raise AssertionError(
            "your train_step runs the model in eval mode: the model comes in as "
            "check_accuracy leaves it, model.eval(), and BatchNorm and dropout behave "
            "differently there. Call model.train() first."
        )
    if loss is None:
        raise AssertionError("your train_step returns None; return the loss (loss.item()).")
    got = number(loss, "train_step")
    if not math.isclose(got, result.mean_loss, rel_tol=1e-4):
        raise AssertionError(
            f"your train_step returns loss {got:.4f}; the batch's cross-entropy is "
            f"{result.mean_loss:.4f}: F.cross_entropy(model(X), y) on the logits."
        )
    if _same_weights(student, reference):
        return
    if _same_weights(student, model, buffers=False):
        raise AssertionError(
            "your train_step leaves the weights unchanged, but they should move: call "
            "optimizer.step() after loss.backward() (before backward, or after zero_grad, "
            "there are no gradients for it to use)."
        )
    for order, message in STEP_MISTAKES:
        if _same_weights(student, _variant(model, X, y, order)):
            raise AssertionError(message + ".")
    raise AssertionError(
        "after your step the weights differ from train_one_epoch's: the order is "
        "model.train(); optimizer.zero_grad(); loss = F.cross_entropy(model(X), y); "
        "loss.backward(); optimizer.step()."
    )


# --------------------------------------------------------------------------------------------
# The report's optimizers (notebook 04)

REPORT_OPTIMIZERS = ("sgd_nesterov", "radam", "adamw")
SETTINGS = ("lr", "momentum", "nesterov", "dampening", "betas", "eps", "weight_decay")
SETTING_HINTS = {
    ("sgd_nesterov", "nesterov"): " The report's SGD is Nesterov SGD: nesterov=True.",
    ("adamw", "weight_decay"): " The report kept PyTorch's default for AdamW, 0.01 (0.05 is "
    "the ConvNeXt ImageNet recipe, not the report's).",
    ("radam", "weight_decay"): " The report's RAdam has no weight decay (PyTorch's default, 0).",
}


def _check_optimizer(key: str, opt: Any, model: nn.Module) -> None:
    want = make_optimizer(key, model)
    label = f"{key} optimizer"
    if not isinstance(opt, torch.optim.Optimizer):
        raise AssertionError(f"your {label} is {type(opt).__name__}, not a torch.optim optimizer.")
    if type(opt) is not type(want):
        hint = (
            " Adam adds weight decay to the gradient, as an L2 penalty; AdamW decays the "
            "weights directly (decoupled), which is what the report ran."
            if type(opt) is torch.optim.Adam
            else ""
        )
        raise AssertionError(
            f"your {label} is torch.optim.{type(opt).__name__}; the report's is "
            f"torch.optim.{type(want).__name__}.{hint}"
        )
    params = [p for g in opt.param_groups for p in g["params"]]
    if len(opt.param_groups) != 1 or {id(p) for p in params} != {id(p) for p in model.parameters()}:
        raise AssertionError(
            f"your {label} has {len(opt.param_groups)} parameter group(s) holding "
            f"{len(params)} tensors; the report's has one group with all of "
            f"model.parameters() ({len(list(model.parameters()))} tensors)."
        )
    group, expected = opt.param_groups[0], want.param_groups[0]
    for name in SETTINGS:
        if name in expected and group.get(name) != expected[name]:
            raise AssertionError(
                f"your {label} has {name}={group.get(name)!r}; the report's has "
                f"{name}={expected[name]!r}." + SETTING_HINTS.get((key, name), "")
            )


@exercise("report_optimizers", "Your three optimizers are the report's, setting for setting.")
def check_report_optimizers(make: Callable[[nn.Module], Sequence[Any]]) -> None:
    """Check make(model) -> (SGD Nesterov, RAdam, AdamW), the report's three optimizers.

    Compared with `make_optimizer(name, model)`: class, one parameter group of all parameters,
    lr 1e-3, momentum 0.9 + Nesterov, betas (0.9, 0.999), eps 1e-8, PyTorch's weight decay.
    """
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.LayerNorm(8), nn.Linear(8, 3))
    opts = call(make, "make_optimizers", model)
    if isinstance(opts, dict):
        opts = list(opts.values())
    if not isinstance(opts, (list, tuple)) or len(opts) != 3:
        raise AssertionError(
            f"your make_optimizers returned {type(opts).__name__}; it should return three "
            "optimizers in the report's order: (SGD Nesterov, RAdam, AdamW)."
        )
    for key, opt in zip(REPORT_OPTIMIZERS, opts, strict=True):
        _check_optimizer(key, opt, model)


# --------------------------------------------------------------------------------------------
# The best epoch of a History (notebook 07)

BEST_EPOCH_CASES = [
    [0.12, 0.31, 0.27, 0.30],
    [0.20, 0.35, 0.35, 0.10],  # a tie: the report names the first epoch that got there
    [0.50, 0.40, 0.45],
    [0.10, 0.20, 0.30],
    [0.25],
]


def _best_epoch_mistakes(acc: list[float]) -> list[tuple[tuple[int, float], str]]:
    i = acc.index(max(acc))
    last_tie = len(acc) - 1 - acc[::-1].index(max(acc))
    return [
        ((i, acc[i]), "your epoch is 0-based (a list index); the report counts epochs from 1"),
        ((len(acc), acc[-1]), "you return the last epoch; the best is the highest val_acc"),
        (
            (last_tie + 1, acc[last_tie]),
            "on a tie you return the last of the equal epochs; the report names the first "
            "epoch that reached the highest accuracy",
        ),
        (
            (i + 1, 100 * acc[i]),
            "your accuracy is in percent; return it as History stores it, a fraction in [0, 1]",
        ),
        (
            (0, 0.0),
            "you return history.best_epoch / best_val_acc, which only train() fills in; "
            "compute them from history.val_acc",
        ),
    ]


@exercise("best_epoch", "You read the best epoch as the report does.")
def check_best_epoch(fn: Callable[[History], tuple[int, float]]) -> None:
    """Check best_epoch(history) -> (epoch, val_acc): the 1-based epoch of the highest
    validation accuracy (the first one on a tie), as in the report's "Highest accuracy at
    Epoch N"."""
    for acc in BEST_EPOCH_CASES:
        n = len(acc)
        history = History(train_loss=[1.0] * n, val_acc=acc, lr=[1e-3] * n, epoch_time=[1] * n)
        got = call(fn, "best_epoch", history)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise AssertionError(f"your best_epoch returned {got!r}; return (epoch, val_acc).")
        epoch, value = int(number(got[0], "best_epoch")), number(got[1], "best_epoch")
        want = (acc.index(max(acc)) + 1, max(acc))
        if _same((epoch, value), want):
            continue
        where = f"for val_acc {acc} you return {(epoch, value)}, it should be {want}"
        for wrong, message in _best_epoch_mistakes(acc):
            if _same((epoch, value), wrong) and not _same(wrong, want):
                raise AssertionError(f"{message}: {where}.")
        raise AssertionError(f"{where}.")


def _same(a: tuple[int, float], b: tuple[int, float]) -> bool:
    """Equal epochs and accuracies equal up to float rounding."""
    return a[0] == b[0] and math.isclose(a[1], b[1], rel_tol=1e-9, abs_tol=1e-12)


# --------------------------------------------------------------------------------------------
# Warmup + cosine learning rate (notebook 08)

WARMUP_CASES = [(1e-3, 5, 20), (0.1, 0, 10), (2e-3, 3, 12)]  # (lr, warmup_steps, total_steps)


def _scheduled_lrs(lr: float, warmup: int, total: int) -> list[float]:
    """The learning rate of each step 0 .. total - 1 from the package's make_scheduler."""
    p = nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([p], lr=lr)
    scheduler = make_scheduler(optimizer, "cosine", total, warmup)
    lrs = []
    for _ in range(total):
        lrs.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return lrs


def _close(a: list[float], b: list[float]) -> bool:
    return all(math.isclose(x, y, rel_tol=1e-5, abs_tol=1e-9) for x, y in zip(a, b, strict=True))


def _cos(t: float, period: float) -> float:
    return (1 + math.cos(math.pi * t / period)) / 2


WARMUP_MISTAKES: list[tuple[str, Callable[[int, float, int, int], float]]] = [
    (
        "your cosine does not start after the warmup: it uses cos(pi * t / ...) where it "
        "should use the steps since the warmup ended, t - warmup_steps",
        lambda t, lr, w, n: lr * (t + 1) / (w + 1) if t < w else lr * _cos(t, n),
    ),
    (
        "your cosine runs over total_steps, so it never gets to 0; it should run over the "
        "steps after the warmup, total_steps - warmup_steps",
        lambda t, lr, w, n: lr * (t + 1) / (w + 1) if t < w else lr * _cos(t - w, n),
    ),
    (
        "your cosine decays from 2 * lr: the factor is (1 + cos(...)) / 2, which goes from 1 to 0",
        lambda t, lr, w, n: lr * (t + 1) / (w + 1) if t < w else 2 * lr * _cos(t - w, n - w),
    ),
    (
        "your warmup is off by one: it starts at lr * 0 = 0, so step 0 does not train; it "
        "should start at lr / (warmup_steps + 1) and climb as lr * (t + 1) / (warmup_steps + 1)",
        lambda t, lr, w, n: lr * t / w if t < w else lr * _cos(t - w, n - w),
    ),
    (
        "your warmup is off by one: it reaches lr at step warmup_steps - 1, one step early; "
        "it should climb as lr * (t + 1) / (warmup_steps + 1) and reach lr at t = warmup_steps",
        lambda t, lr, w, n: lr * (t + 1) / w if t < w else lr * _cos(t - w, n - w),
    ),
]


@exercise("warmup_cosine", "Your schedule matches torch.optim.lr_scheduler step for step.")
def check_warmup_cosine(fn: Callable[[int, float, int, int], float]) -> None:
    """Check warmup_cosine(t, lr, warmup_steps, total_steps) -> the learning rate of step t
    (0-based) against `make_scheduler(..., "cosine", total_steps, warmup_steps)`."""
    for lr, warmup, total in WARMUP_CASES:
        want = _scheduled_lrs(lr, warmup, total)
        got = [
            number(call(fn, "warmup_cosine", t, lr, warmup, total), "warmup_cosine")
            for t in range(total)
        ]
        if _close(got, want):
            continue
        t = next(i for i, (a, b) in enumerate(zip(got, want, strict=True)) if not _close([a], [b]))
        where = (
            f"(lr={lr}, warmup_steps={warmup}, total_steps={total}: at step {t} yours "
            f"returns {got[t]:.4g}, it should return {want[t]:.4g})"
        )
        for message, wrong in WARMUP_MISTAKES:
            try:
                expected = [wrong(s, lr, warmup, total) for s in range(total)]
            except ZeroDivisionError:
                continue
            if _close(got, expected):
                raise AssertionError(f"{message} {where}.")
        raise AssertionError(
            f"your learning rate differs from the scheduler's {where}. Warmup: "
            "lr * (t + 1) / (warmup_steps + 1) for t < warmup_steps; then "
            "lr * (1 + cos(pi * (t - warmup_steps) / (total_steps - warmup_steps))) / 2."
        )
