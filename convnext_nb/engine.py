"""Training engine: optimizers, `check_accuracy`, and a `train` loop that loses nothing.

The seed report's CS231n-style `check_accuracy` and `train`, grown up:

    optimizer = make_optimizer("radam", model, lr=1e-3)
    history = train(model, optimizer, train_loader, val_loader, epochs=20,
                    lr_schedule="cosine", checkpoint_dir="runs/atto")
    history.load_best(model)          # the weights of the best validation epoch
    check_accuracy(test_loader, model)

`train` prints the seed's line once per epoch (`Epoch 21, loss = 0.2339, Got 357 / 1000
correct (35.70)`) and always returns a `History`: when it finishes, when a NaN loss stops it,
when a callback or a `threading.Event` stops it, and when you interrupt the notebook cell.
The model object keeps the weights it has reached in every case.
"""

from __future__ import annotations

import dataclasses
import inspect
import itertools
import json
import math
import os
import random
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.lr_scheduler import CosineAnnealingLR, LinearLR, LRScheduler, SequentialLR
from tqdm.auto import tqdm

from .layers import GRN, DynamicTanh, LayerNorm
from .utils import get_device, seed_everything

# ----------------------------------------------------------------------------------------
# History


@dataclass(repr=False)
class History:
    """What a `train` run did, one entry per finished epoch.

    train_loss: mean training loss of each epoch.  val_acc: validation accuracy, in [0, 1].
    lr: learning rate at the start of each epoch (first parameter group).  epoch_time: seconds.
    best_epoch: 1-based epoch of the best val_acc (0 before any epoch), best_val_acc its value.
    steps: optimizer steps taken in all, a cut-short last epoch included.
    status: "not started", "running", then "completed", "interrupted", "diverged" or "stopped".
    message: what happened, in words.  best_checkpoint / last_checkpoint: file paths (or None).
    """

    train_loss: list[float] = field(default_factory=list)
    val_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    epoch_time: list[float] = field(default_factory=list)
    best_epoch: int = 0
    best_val_acc: float = 0.0
    steps: int = 0
    status: str = "not started"
    message: str = ""
    best_checkpoint: str | None = None
    last_checkpoint: str | None = None

    @property
    def epochs(self) -> int:
        """Number of finished epochs."""
        return len(self.train_loss)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> History:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def save(self, path: str | os.PathLike) -> Path:
        """Write the history as JSON (atomically); return the path."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=1))
        os.replace(tmp, path)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> History:
        return cls.from_dict(json.loads(Path(path).read_text()))

    def load_best(self, model: nn.Module) -> nn.Module:
        """Load the weights of the best validation epoch into `model` (needs checkpoint_dir)."""
        if self.best_checkpoint is None or not Path(self.best_checkpoint).exists():
            raise FileNotFoundError(
                f"no best checkpoint to load (best_checkpoint={self.best_checkpoint!r}). "
                "Pass checkpoint_dir=... to train() so it saves best.pt at each new best epoch."
            )
        load_checkpoint(self.best_checkpoint, model)
        return model

    def summary(self) -> str:
        """A few lines for a notebook: status, best epoch, last epoch, time, message."""
        lines = [f"{self.epochs} epochs, status: {self.status}"]
        if self.best_epoch:
            where = f" (checkpoint: {self.best_checkpoint})" if self.best_checkpoint else ""
            lines.append(
                f"best val acc {100 * self.best_val_acc:.2f} % at epoch {self.best_epoch}{where}"
            )
        if self.epochs:
            lines.append(
                f"last epoch: loss {self.train_loss[-1]:.4f}, val acc "
                f"{100 * self.val_acc[-1]:.2f} %, lr {self.lr[-1]:.3g}; "
                f"total time {sum(self.epoch_time):.1f} s"
            )
        if self.message:
            lines.append(self.message)
        return "\n".join(lines)

    def __repr__(self) -> str:
        best = (
            f", best val acc {100 * self.best_val_acc:.2f} % at epoch {self.best_epoch}"
            if self.best_epoch
            else ""
        )
        return f"History({self.epochs} epochs{best}, status={self.status!r})"


# ----------------------------------------------------------------------------------------
# Optimizers

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
            if (
                p.ndim <= 1
                or short_name in ("bias", "gamma", "beta")
                or isinstance(module, NO_DECAY_MODULES)
                or name in skip
            ):
                no_decay.append(p)
            else:
                decay.append(p)
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
    """
    key = _optimizer_key(name)
    if not _is_positive_number(lr):
        raise ValueError(f"lr must be a positive number (e.g. 1e-3), got {lr!r}.")
    wd = default_weight_decay(key) if weight_decay is None else weight_decay
    if not _is_number(wd) or not wd >= 0:
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


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.floating, np.integer)) and not isinstance(value, bool)


def _is_positive_number(value: Any) -> bool:
    return _is_number(value) and math.isfinite(value) and value > 0


# ----------------------------------------------------------------------------------------
# Accuracy


def _autocast(device: torch.device, dtype: torch.dtype | None):
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else nullcontext()


def _model_device(model: nn.Module) -> torch.device:
    p = next(model.parameters(), None)
    return p.device if p is not None else torch.device("cpu")


def count_correct(
    loader: Iterable,
    model: nn.Module,
    device: torch.device,
    amp_dtype: torch.dtype | None = None,
) -> tuple[int, int]:
    """(number correct, number of samples) of `model` on `loader`; one host sync at the end.

    Runs in eval mode under torch.inference_mode and restores the model's mode afterwards.
    y may be class indices (N,) or soft targets (N, C) (then its argmax is the label).
    """
    was_training = model.training
    model.eval()
    total = 0
    try:
        with torch.inference_mode(), _autocast(device, amp_dtype):
            correct = torch.zeros((), dtype=torch.long, device=device)
            for X, y in loader:
                X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
                if y.ndim == 2:
                    y = y.argmax(dim=1)
                correct += (model(X).argmax(dim=1) == y).sum()
                total += y.shape[0]
            n_correct = int(correct.item())
    finally:
        model.train(was_training)
    if total == 0:
        raise ValueError("the loader yielded no batches; check its dataset and batch_size.")
    return n_correct, total


def _got_line(correct: int, total: int) -> str:
    return f"Got {correct} / {total} correct ({100 * correct / total:.2f})"


def check_accuracy(
    loader: Iterable,
    model: nn.Module,
    device: str | torch.device | None = None,
    verbose: bool = True,
) -> float:
    """Accuracy of `model` on `loader`, as a fraction in [0, 1].

    Prints the seed's line, e.g. `Got 357 / 1000 correct (35.70)`, unless verbose=False.
    device=None uses the device the model is on.
    """
    device = _model_device(model) if device is None else get_device(device)
    correct, total = count_correct(loader, model, device)
    if verbose:
        print(_got_line(correct, total))
    return correct / total


# ----------------------------------------------------------------------------------------
# Pieces of `train`: mixed precision, LR schedule, checkpoints, RNG states

SCHEDULES = ("constant", "cosine")
SYNC_EVERY = 25  # on GPU/MPS: read the loss back (progress bar, NaN check) every this many steps


def default_channels_last(device: torch.device) -> bool:
    """`train`'s default memory format: channels_last (NHWC) on CPU and CUDA, where it is faster."""
    return device.type in ("cpu", "cuda")


def autocast_dtype(amp: bool | str | None, device: torch.device) -> torch.dtype | None:
    """None/True/False/"bf16"/"fp16" -> the autocast dtype, or None for full fp32."""
    if amp is False or (amp is None and device.type != "cuda"):
        return None
    if amp in ("bf16", "bfloat16"):
        return torch.bfloat16
    if amp in ("fp16", "float16"):
        return torch.float16
    if amp not in (None, True):
        raise ValueError(f"amp must be None, True, False, 'bf16' or 'fp16', got {amp!r}.")
    if device.type == "cuda":  # bf16 where the GPU has it (Ampere+), else fp16 with a scaler
        return (
            torch.bfloat16
            if torch.cuda.is_bf16_supported(including_emulation=False)
            else (torch.float16)
        )
    return torch.bfloat16 if device.type == "cpu" else torch.float16


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


def _atomic_save(obj: Any, path: Path) -> None:
    """torch.save to a temporary file, then rename: a crash never leaves half a checkpoint."""
    tmp = path.with_name(path.name + ".tmp")
    try:
        torch.save(obj, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)  # only left over when interrupted before the rename


def load_checkpoint(
    path: str | os.PathLike,
    model: nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
) -> dict[str, Any]:
    """Read a checkpoint written by `train` (torch.load with weights_only=True).

    Loads its weights into `model` and its state into `optimizer` when given; returns the
    checkpoint dict (keys: model, epoch, val_acc, and for last.pt also optimizer, scheduler,
    history, rng, config).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(
            f"no checkpoint at {path}; train(..., checkpoint_dir=...) writes one."
        )
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if model is not None:
        model.load_state_dict(ckpt["model"])
    if optimizer is not None:
        if "optimizer" not in ckpt:
            raise ValueError(f"{path} holds only model weights; resume from last.pt instead.")
        optimizer.load_state_dict(ckpt["optimizer"])
    return ckpt


def _rng_state() -> dict[str, Any]:
    """RNG states of Python, NumPy and PyTorch, as tensors and primitives (weights_only-safe)."""
    np_state = np.random.get_state()
    state = {
        "python": random.getstate(),
        "numpy": {
            "keys": torch.from_numpy(np_state[1].astype(np.int64)),
            "pos": int(np_state[2]),
            "has_gauss": int(np_state[3]),
            "cached_gaussian": float(np_state[4]),
        },
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, n["pos"], n["has_gauss"], n["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def _epoch_seed(seed: int, epoch: int) -> int:
    """The seed of one epoch: a pure function of (seed, epoch), so a resumed run replays it."""
    return (seed * 1_000_003 + epoch) % 2**32


def _steps_per_epoch(loader: Iterable, max_steps: int | None) -> int:
    try:
        n = len(loader)  # type: ignore[arg-type]
    except TypeError:
        if max_steps is None:
            raise ValueError(
                "train_loader has no len(); pass max_steps_per_epoch=... to say how many "
                "batches make an epoch."
            ) from None
        return max_steps
    if n == 0:
        raise ValueError("train_loader is empty (len 0); check its dataset and batch_size.")
    return n if max_steps is None else min(n, max_steps)


# ----------------------------------------------------------------------------------------
# One epoch


@dataclass
class _EpochResult:
    steps_done: int  # optimizer steps taken
    mean_loss: float = math.nan
    stopped_at: int | None = None  # 0-based step at which stop_event was seen
    bad_step: int | None = None  # 0-based step whose loss was NaN/inf
    bad_loss: float | None = None  # its value, when known (CPU)


def train_one_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loader: Iterable,
    *,
    steps: int,
    device: torch.device,
    scheduler: LRScheduler | None = None,
    scaler: torch.amp.GradScaler | None = None,
    amp_dtype: torch.dtype | None = None,
    label_smoothing: float = 0.0,
    grad_clip: float | None = None,
    channels_last: bool = False,
    stop_event: threading.Event | None = None,
    pbar: tqdm | None = None,
    sync_every: int | None = None,
) -> _EpochResult:
    """Train for up to `steps` batches; the loss stays on the device between reads.

    On CPU every step's loss is checked before the update (a NaN never reaches the weights);
    on GPU/MPS the first non-finite step is recorded on the device and read every
    SYNC_EVERY steps (or `sync_every`), so there is no host-device sync per step.
    """
    model.train()
    if sync_every is None:
        sync_every = 1 if device.type == "cpu" else SYNC_EVERY
    loss_sum = torch.zeros((), device=device)
    first_bad = torch.full((), -1, dtype=torch.long, device=device)
    n_seen = 0
    for step, (X, y) in enumerate(itertools.islice(loader, steps)):
        if stop_event is not None and stop_event.is_set():
            return _EpochResult(step, stopped_at=step)
        X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
        if channels_last:
            X = X.contiguous(memory_format=torch.channels_last)
        with _autocast(device, amp_dtype):
            logits = model(X)
        # fp32 loss; y: (N,) class indices or (N, C) soft targets from Mixup/CutMix
        loss = F.cross_entropy(logits.float(), y, label_smoothing=label_smoothing)
        loss_d = loss.detach()
        if sync_every == 1:
            if not torch.isfinite(loss_d):
                return _EpochResult(step, bad_step=step, bad_loss=loss_d.item())
        else:
            first_bad = torch.where(first_bad.lt(0) & ~torch.isfinite(loss_d), step, first_bad)

        optimizer.zero_grad(set_to_none=True)
        if scaler is not None:  # fp16 only; bf16 needs no loss scaling
            scaler.scale(loss).backward()
            if grad_clip is not None:
                scaler.unscale_(optimizer)
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            scaler.step(optimizer)
            scaler.update()
        else:
            loss.backward()
            if grad_clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
            optimizer.step()
        if scheduler is not None:
            scheduler.step()

        loss_sum += loss_d * X.shape[0]
        n_seen += X.shape[0]
        if pbar is not None:
            pbar.update(1)
        if (step + 1) % sync_every == 0 or step + 1 == steps:
            value, bad = torch.stack([loss_d, first_bad.float()]).tolist()  # one sync
            if bad >= 0:
                return _EpochResult(step + 1, bad_step=int(bad))
            if pbar is not None:
                pbar.set_postfix(loss=f"{value:.4f}", refresh=False)
    if n_seen == 0:
        raise ValueError("train_loader yielded no batches; check its dataset and batch_size.")
    return _EpochResult(step + 1, mean_loss=(loss_sum / n_seen).item())


# ----------------------------------------------------------------------------------------
# train


def _resume_path(resume: str | os.PathLike | bool | None, ckpt_dir: Path | None) -> Path | None:
    if resume is None or resume is False:
        return None
    if resume is True:
        if ckpt_dir is None:
            raise ValueError(
                "resume=True needs checkpoint_dir=... (it resumes from last.pt there)."
            )
        path = ckpt_dir / "last.pt"
        if not path.exists():
            print(f"No checkpoint at {path} yet: starting from scratch.")
            return None
        return path
    path = Path(resume)
    if not path.exists():
        raise FileNotFoundError(f"resume={str(resume)!r}: no such checkpoint file.")
    return path


def _check_config(saved: dict[str, Any], config: dict[str, Any], path: Path) -> None:
    diff = [f"{k}: {saved.get(k)!r} -> {v!r}" for k, v in config.items() if saved.get(k) != v]
    if diff:
        warnings.warn(
            f"resuming from {path} with different settings ({'; '.join(diff)}); the result "
            "will not match an uninterrupted run.",
            stacklevel=3,
        )


def train(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train_loader: Iterable,
    val_loader: Iterable,
    epochs: int = 1,
    *,
    device: str | torch.device | None = None,
    lr_schedule: str = "constant",
    warmup_epochs: float = 0,
    label_smoothing: float = 0.0,
    grad_clip: float | None = None,
    amp: bool | str | None = None,
    channels_last: bool | None = None,
    seed: int | None = None,
    callbacks: Sequence[Callable[[History], bool | None]] = (),
    stop_event: threading.Event | None = None,
    checkpoint_dir: str | os.PathLike | None = None,
    resume: str | os.PathLike | bool | None = None,
    max_steps_per_epoch: int | None = None,
    progress: bool = True,
) -> History:
    """Train `model` for `epochs` epochs; evaluate on `val_loader` after each; return a History.

    Batches are (X, y): X (N, 3, H, W) float; y (N,) int64 class indices or (N, C) soft
    targets. One line per epoch: `Epoch 21, loss = 0.2339, Got 357 / 1000 correct (35.70)`.

    lr_schedule: "constant" or "cosine" (to 0 at the end), stepped every batch, after
        `warmup_epochs` (may be fractional) of linear warmup. The optimizer's lr is the peak.
        `train` leaves the optimizer's lr as it found it.
    label_smoothing: passed to F.cross_entropy.  grad_clip: max gradient norm (None = off).
    amp: None = bf16 autocast on CUDA (fp16 + GradScaler on GPUs without bf16), off elsewhere;
        True = on here too; "bf16"/"fp16" force a dtype; False = off.
    channels_last: NHWC memory format for model and inputs. None (default) = on for CPU and
        CUDA, where it trains about 1.2x faster here (python -m benchmarks --sections
        memory), off on Apple MPS.
    seed: seeds everything at the start and again at each epoch from (seed, epoch), and calls
        train_loader.set_epoch(epoch) (0-based) when it has one: the same seed gives the same
        History on CPU, and a resumed run replays what an uninterrupted one would have seen.
    callbacks: each is called as callback(history) after every epoch; True stops training.
    stop_event: a threading.Event checked before every step; once set, training stops
        (status "stopped"). train does not clear it.
    checkpoint_dir: writes last.pt (everything needed to resume) after every epoch, best.pt
        (model weights) at every new best val_acc, and history.json.
    resume: a last.pt path, or True for checkpoint_dir/last.pt (start fresh if none yet).
        Pass the same model architecture, optimizer kind and settings as the first run.
    max_steps_per_epoch: cut every epoch short after this many batches.

    A NaN/inf loss stops training at once (status "diverged"); Ctrl-C / the notebook's stop
    button returns the history so far (status "interrupted"). The model keeps its weights.
    """
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}.")
    if val_loader is None:
        raise ValueError("train needs a val_loader (e.g. the second loader of cifar100_loaders).")
    if not 0.0 <= label_smoothing < 1.0:
        raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing!r}.")
    if grad_clip is not None and not grad_clip > 0:
        raise ValueError(f"grad_clip must be a positive number or None, got {grad_clip!r}.")
    if warmup_epochs < 0 or (lr_schedule == "cosine" and warmup_epochs >= epochs):
        raise ValueError(f"warmup_epochs must be >= 0 and < epochs, got {warmup_epochs!r}.")
    device = get_device(device)
    amp_dtype = autocast_dtype(amp, device)
    scaler = torch.amp.GradScaler(device.type) if amp_dtype == torch.float16 else None
    steps = _steps_per_epoch(train_loader, max_steps_per_epoch)
    ckpt_dir = Path(checkpoint_dir) if checkpoint_dir is not None else None
    if ckpt_dir is not None:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
    resume_path = _resume_path(resume, ckpt_dir)
    config = {"epochs": epochs, "steps_per_epoch": steps, "lr_schedule": lr_schedule,
              "warmup_epochs": warmup_epochs, "seed": seed}  # fmt: skip

    model.to(device)
    if channels_last is None:
        channels_last = default_channels_last(device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    for group in optimizer.param_groups:  # undo a schedule left over from an earlier run
        if "initial_lr" in group:
            group["lr"] = group.pop("initial_lr")
    scheduler = make_scheduler(optimizer, lr_schedule, epochs * steps, round(warmup_epochs * steps))

    history, start_epoch = History(), 0
    if resume_path is not None:
        ckpt = load_checkpoint(resume_path, model, optimizer)  # after the scheduler: keeps lr
        if scheduler is not None and ckpt["scheduler"] is not None:
            scheduler.load_state_dict(ckpt["scheduler"])
        _check_config(ckpt["config"], config, resume_path)
        history, start_epoch = History.from_dict(ckpt["history"]), ckpt["epoch"]
        if seed is None:
            _set_rng_state(ckpt["rng"])
        print(f"Resuming from {resume_path} after epoch {start_epoch}.")
    history.status, history.message = "running", ""
    if seed is not None:
        seed_everything(seed)

    was_training = model.training
    epoch = start_epoch
    try:
        for epoch in range(start_epoch, epochs):
            if seed is not None:
                seed_everything(_epoch_seed(seed, epoch))
            if hasattr(train_loader, "set_epoch"):
                train_loader.set_epoch(epoch)
            t0, lr = time.perf_counter(), optimizer.param_groups[0]["lr"]
            with tqdm(
                total=steps, desc=f"Epoch {epoch + 1}/{epochs}", disable=not progress, leave=False
            ) as pbar:
                result = train_one_epoch(
                    model, optimizer, train_loader, steps=steps, device=device,
                    scheduler=scheduler, scaler=scaler, amp_dtype=amp_dtype,
                    label_smoothing=label_smoothing, grad_clip=grad_clip,
                    channels_last=channels_last, stop_event=stop_event, pbar=pbar,
                )  # fmt: skip
            history.steps += result.steps_done
            if result.bad_step is not None:
                _diverged(history, epoch, result, steps, lr, device)
                break
            if result.stopped_at is not None:
                history.status = "stopped"
                history.message = (
                    f"Stopped (stop_event) in epoch {epoch + 1} before step {result.stopped_at + 1}"
                    f" of {steps}; history holds the {history.epochs} finished epochs."
                )
                break

            correct, total = count_correct(val_loader, model, device, amp_dtype)
            acc = correct / total
            history.train_loss.append(result.mean_loss)
            history.val_acc.append(acc)
            history.lr.append(lr)
            history.epoch_time.append(time.perf_counter() - t0)
            print(f"Epoch {epoch + 1}, loss = {result.mean_loss:.4f}, {_got_line(correct, total)}")

            if history.best_epoch == 0 or acc > history.best_val_acc:
                history.best_epoch, history.best_val_acc = epoch + 1, acc
                if ckpt_dir is not None:
                    best = {"model": model.state_dict(), "epoch": epoch + 1, "val_acc": acc}
                    _atomic_save(best, ckpt_dir / "best.pt")
                    history.best_checkpoint = str(ckpt_dir / "best.pt")
            if ckpt_dir is not None:
                history.last_checkpoint = str(ckpt_dir / "last.pt")
                _atomic_save(
                    {
                        "model": model.state_dict(),
                        "optimizer": optimizer.state_dict(),
                        "scheduler": scheduler.state_dict() if scheduler is not None else None,
                        "history": history.to_dict(),
                        "epoch": epoch + 1,
                        "val_acc": acc,
                        "rng": _rng_state(),
                        "config": config,
                    },
                    ckpt_dir / "last.pt",
                )
                history.save(ckpt_dir / "history.json")

            stop = [bool(callback(history)) for callback in callbacks]
            if any(stop):
                history.status = "stopped"
                history.message = f"Stopped by a callback after epoch {epoch + 1}."
                break
        else:
            history.status = "completed"
            history.message = f"Finished {epochs} epochs."
    except KeyboardInterrupt:
        history.status = "interrupted"
        history.message = (
            f"Interrupted in epoch {epoch + 1}; the model keeps its current weights and the "
            f"history its {history.epochs} finished epochs."
        )
    finally:
        model.train(was_training)
        if scheduler is not None:  # leave the optimizer's lr as we found it
            for group in optimizer.param_groups:
                group["lr"] = group.pop("initial_lr", group["lr"])

    if history.best_checkpoint is not None:
        history.message += (
            f" Best val acc {100 * history.best_val_acc:.2f} % (epoch {history.best_epoch}): "
            f"history.load_best(model) loads {history.best_checkpoint}."
        )
    if history.last_checkpoint is not None and history.status != "completed":
        history.message += " Continue with train(..., resume=True)."
    if ckpt_dir is not None:
        history.save(ckpt_dir / "history.json")
    if history.status != "completed":
        print(history.message)
    return history


def _diverged(
    history: History, epoch: int, result: _EpochResult, steps: int, lr: float, device
) -> None:
    history.status = "diverged"
    what = "NaN or inf" if result.bad_loss is None else f"{result.bad_loss}"
    history.message = (
        f"Training diverged: the loss became {what} in epoch {epoch + 1} at step "
        f"{result.bad_step + 1} of {steps}, so training stopped (history keeps the "
        f"{history.epochs} finished epochs). Try a lower learning rate (e.g. lr={lr / 10:.1g}) "
        "and/or gradient clipping (grad_clip=1.0)."
    )
    if device.type != "cpu":
        history.message += " The model's weights may now contain NaN."
