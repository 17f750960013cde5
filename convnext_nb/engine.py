"""Training engine: `check_accuracy`, `train_one_epoch`, and a `train` loop that loses nothing.

The seed report's CS231n-style `check_accuracy` and `train`, grown up:

    optimizer = make_optimizer("radam", model, lr=1e-3)
    history = train(model, optimizer, train_loader, val_loader, epochs=20,
                    lr_schedule="cosine", checkpoint_dir="runs/atto")
    history.load_best(model)          # the weights of the best validation epoch
    check_accuracy(test_loader, model)

`train` prints the seed's line once per epoch (`Epoch 21, loss = 0.2339, Got 357 / 1000
correct (35.70)`) and always returns a `History`: when it finishes, when a NaN loss stops it,
when a callback or a `threading.Event` stops it, and when you interrupt the notebook cell.
The model object keeps the weights it has reached in every case. Its options live in one
frozen `TrainConfig`. Optimizers and schedules are in `optim`, checkpoint files in
`checkpoint`, the History record in `history`, several GPUs in `distributed`; the names are
importable from here too.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import os
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.optim.lr_scheduler import LRScheduler
from tqdm.auto import tqdm

from . import distributed
from .checkpoint import (
    CheckpointError,
    describe_model,
    load_checkpoint,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from .distributed import Dist
from .history import History
from .optim import (
    DECAY_PARAMS,
    NO_DECAY_MODULES,
    OPTIMIZERS,
    SCHEDULES,
    default_weight_decay,
    is_number,
    make_optimizer,
    make_scheduler,
    param_groups,
    use_fused,
)
from .utils import epoch_seed, get_device, seed_everything

__all__ = [
    "COMPILE_MIN_STEPS", "DECAY_PARAMS", "NO_DECAY_MODULES", "OPTIMIZERS", "SCHEDULES",
    "SYNC_EVERY", "CheckpointError", "CompiledModel", "History", "TrainConfig", "autocast_dtype",
    "check_accuracy", "compile_mode", "count_correct", "default_channels_last",
    "default_weight_decay", "load_checkpoint", "make_optimizer", "make_scheduler",
    "param_groups", "train", "train_one_epoch",
]  # fmt: skip

SYNC_EVERY = 25  # on GPU/MPS: read the loss back (progress bar, NaN check) every this many steps
SANE_LR = 1e-3  # the usual Adam-family lr; the most a divergence message suggests

# ----------------------------------------------------------------------------------------
# Settings


@dataclass(frozen=True)
class TrainConfig:
    """Every option of `train` (its arguments besides model, optimizer, loaders and epochs).

    device: None = CUDA, then MPS, then CPU.
    lr_schedule: "constant" or "cosine" (to 0 at the end), stepped every batch, after
        `warmup_epochs` (may be fractional) of linear warmup. The optimizer's lr is the peak.
    label_smoothing: passed to F.cross_entropy.  grad_clip: max gradient norm (None = off).
    amp: None = bf16 autocast on CUDA (fp16 + GradScaler on GPUs without bf16), off elsewhere;
        True = on here too; "bf16"/"fp16" (or torch.bfloat16/float16) force a dtype; False = off.
    channels_last: NHWC memory format for model and inputs. None = on for CPU and CUDA, where
        it trains about 1.2x faster (python -m benchmarks --sections memory), off on MPS.
    compile: torch.compile the model. None = on for CUDA runs of at least
        COMPILE_MIN_STEPS steps (shorter ones never repay the warm-up), off on CPU and MPS;
        True = on: mode "reduce-overhead" (CUDA graphs) on one CUDA GPU, else "default";
        False; or a torch.compile mode ("default", "reduce-overhead", "max-autotune"). See
        `compile_mode`. Where compiling is unavailable or fails, one line says so and
        training goes on without it.
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
    progress: a tqdm bar per epoch.  sync_every: on GPU, read the loss every this many steps
        (None = 1 on CPU, SYNC_EVERY elsewhere).
    """

    device: str | torch.device | None = None
    lr_schedule: str = "constant"
    warmup_epochs: float = 0
    label_smoothing: float = 0.0
    grad_clip: float | None = None
    amp: bool | str | torch.dtype | None = None
    channels_last: bool | None = None
    compile: bool | str | None = None
    seed: int | None = None
    callbacks: Sequence[Callable[[History], bool | None]] = ()
    stop_event: threading.Event | None = None
    checkpoint_dir: str | os.PathLike | None = None
    resume: str | os.PathLike | bool | None = None
    max_steps_per_epoch: int | None = None
    progress: bool = True
    sync_every: int | None = None

    def __post_init__(self) -> None:
        if self.lr_schedule not in SCHEDULES:
            raise ValueError(f"lr_schedule must be one of {SCHEDULES}, got {self.lr_schedule!r}.")
        if not is_number(self.warmup_epochs) or not 0 <= self.warmup_epochs < math.inf:
            raise ValueError(f"warmup_epochs must be >= 0, got {self.warmup_epochs!r}.")
        if not is_number(self.label_smoothing) or not 0.0 <= self.label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {self.label_smoothing!r}.")
        if self.grad_clip is not None and not (is_number(self.grad_clip) and self.grad_clip > 0):
            raise ValueError(
                f"grad_clip must be a positive number or None, got {self.grad_clip!r}."
            )
        if self.resume is True and self.checkpoint_dir is None:
            raise ValueError(
                "resume=True needs checkpoint_dir=... (it resumes from last.pt there)."
            )
        for name in ("max_steps_per_epoch", "sync_every"):
            value = getattr(self, name)
            if value is not None and not (isinstance(value, int) and value >= 1):
                raise ValueError(f"{name} must be a positive integer or None, got {value!r}.")

    def resolved(self, device: torch.device | None = None, steps: int | None = None) -> TrainConfig:
        """The same settings with every None/auto choice made for `device` (default: config's)
        and a run of `steps` optimizer steps (None: a long one)."""
        device = get_device(self.device) if device is None else device
        amp = autocast_dtype(self.amp, device)
        compile_ = compile_mode(self.compile, device, steps)
        return dataclasses.replace(
            self, device=device, amp=amp if amp is not None else False,
            channels_last=default_channels_last(device) if self.channels_last is None
            else bool(self.channels_last), compile=compile_,
            sync_every=self.sync_every or (1 if device.type == "cpu" else SYNC_EVERY),
        )  # fmt: skip


def _as_config(config: TrainConfig | None, options: dict[str, Any]) -> TrainConfig:
    """train(..., config=TrainConfig(...), **options): the options override the config."""
    unknown = set(options) - {f.name for f in dataclasses.fields(TrainConfig)}
    if unknown:
        raise TypeError(f"unknown training option(s) {sorted(unknown)}; see help(TrainConfig).")
    if config is None:
        return TrainConfig(**options)
    return dataclasses.replace(config, **options) if options else config


# Below this many steps, compiling costs more time than it saves. Measured on an H100 with
# the improved recipe (benchmarks/gpu/h100_2026-11-26): about 41 s of warm-up, 27 ms saved
# per step against eager (32 ms vs 5 ms); other GPUs and models differ.
COMPILE_MIN_STEPS = 1500


def compile_mode(
    compile: bool | str | None, device: torch.device, steps: int | None = None
) -> bool | str:
    """`TrainConfig.compile` made concrete: False, or the torch.compile mode to use.

    None: off on CPU and MPS and for runs of fewer than COMPILE_MIN_STEPS `steps` (quick
    mode's included), else as True. True: "reduce-overhead" (the step replayed as CUDA graphs)
    on one CUDA GPU, "default" under torchrun (DDP's gradient hooks run between the graphs)
    and elsewhere. A mode string is kept as given.
    """
    if compile is False or isinstance(compile, str):
        return compile
    short = steps is not None and steps < COMPILE_MIN_STEPS
    if compile is None and (device.type != "cuda" or short):
        return False
    one_gpu = device.type == "cuda" and distributed.world_size_from_env() == 1
    return "reduce-overhead" if one_gpu else "default"


def default_channels_last(device: torch.device) -> bool:
    """`train`'s default memory format: channels_last (NHWC) on CPU and CUDA, where it is faster."""
    return device.type in ("cpu", "cuda")


def autocast_dtype(
    amp: bool | str | torch.dtype | None, device: torch.device
) -> torch.dtype | None:
    """None/True/False/"bf16"/"fp16"/a dtype -> the autocast dtype, or None for full fp32."""
    if amp is False or (amp is None and device.type != "cuda"):
        return None
    if amp in ("bf16", "bfloat16", torch.bfloat16):
        return torch.bfloat16
    if amp in ("fp16", "float16", torch.float16):
        return torch.float16
    if amp not in (None, True):
        raise ValueError(f"amp must be None, True, False, 'bf16' or 'fp16', got {amp!r}.")
    if device.type == "cuda":  # bf16 where the GPU has it (Ampere+), else fp16 with a scaler
        bf16 = torch.cuda.is_bf16_supported(including_emulation=False)
        return torch.bfloat16 if bf16 else torch.float16
    return torch.bfloat16 if device.type == "cpu" else torch.float16


# ----------------------------------------------------------------------------------------
# torch.compile, with a way out


def _is_compile_error(error: BaseException) -> bool:
    module = type(error).__module__
    return module.startswith(("torch._dynamo", "torch._inductor")) or "triton" in str(error).lower()


class CompiledModel(nn.Module):
    """`model` run through torch.compile; if compiling fails (no C++ compiler or Triton, an
    old PyTorch), says so in one line and runs `model` eagerly from then on.

    x: whatever `model` takes -> what it returns. Its parameters are `model`'s.
    """

    def __init__(self, model: nn.Module, mode: str | None = None):
        super().__init__()
        self.model = model
        # CUDA graphs reuse their output memory: say that each call starts a new step, so the
        # last step's outputs (already used) may be overwritten.
        self.new_step = mode == "reduce-overhead"
        compiled = None
        try:
            compiled = torch.compile(model, mode=mode)
        except Exception as e:  # e.g. torch.compile is not supported on this Python
            print(f"torch.compile is not available here ({e}); training without it.")
        object.__setattr__(self, "compiled", compiled)  # not a submodule: one set of weights

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.compiled is not None:
            try:
                if self.new_step and hasattr(torch.compiler, "cudagraph_mark_step_begin"):
                    torch.compiler.cudagraph_mark_step_begin()
                return self.compiled(x)
            except Exception as e:
                if not _is_compile_error(e):
                    raise
                first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
                print(f"torch.compile failed ({first[:200]}); training without it (compile=False).")
                object.__setattr__(self, "compiled", None)
        return self.model(x)


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
    dist: Dist | None = None,
) -> tuple[int, int]:
    """(number correct, number of samples) of `model` on `loader`; one host sync at the end.

    Runs in eval mode under torch.inference_mode and restores the model's mode afterwards.
    y may be class indices (N,) or soft targets (N, C) (then its argmax is the label).
    With `dist`, each rank scores its rows of every batch and the counts are summed.
    """
    was_training = model.training
    model.eval()
    total = 0
    try:
        with torch.inference_mode(), _autocast(device, amp_dtype):
            correct = torch.zeros((), dtype=torch.long, device=device)
            for X, y in loader:
                if dist is not None:
                    X, y = dist.shard(X, y)
                X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
                if y.ndim == 2:
                    y = y.argmax(dim=1)
                correct += (model(X).argmax(dim=1) == y).sum()
                total += y.shape[0]
            if dist is not None:
                correct, total = dist.sum(torch.stack([correct, correct.new_tensor(total)]))
            n_correct, total = int(correct), int(total)
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
# One epoch


@dataclass
class _EpochResult:
    steps_done: int  # optimizer steps taken
    mean_loss: float = math.nan
    stopped_at: int | None = None  # 0-based step at which stop_event was seen
    bad_step: int | None = None  # 0-based step whose loss was NaN/inf
    bad_loss: float | None = None  # its value, when known (CPU)
    bad_input: bool = False  # that step's batch itself held NaN/inf


def _check_targets(y: torch.Tensor, logits: torch.Tensor) -> None:
    """Labels the model cannot output: a clear error instead of an IndexError or a CUDA assert."""
    n = logits.shape[1]
    if y.ndim == 2 and y.shape[1] != n:
        raise ValueError(
            f"the targets have {y.shape[1]} classes but the model outputs {n}: build the model "
            f"with num_classes={y.shape[1]} (the loader's num_classes)."
        )
    if y.ndim == 1 and y.numel() and not 0 <= int(y.min()) <= int(y.max()) < n:
        bad = int(y.max()) if int(y.max()) >= n else int(y.min())
        raise ValueError(
            f"the batch holds label {bad}, but the model has {n} outputs (classes 0..{n - 1}): "
            "build the model with num_classes equal to the loader's num_classes."
        )


def _step(model, optimizer, loss, scaler, grad_clip) -> None:
    """backward + (gradient clipping) + optimizer step; the GradScaler only for fp16."""
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


class _LossWatch:
    """The epoch's loss sum and its first non-finite step, kept on the device.

    sync_every == 1 (CPU): each loss is checked at once, before the update. Otherwise every
    step writes two flags (loss finite, batch finite) into a (2, steps) tensor on the device,
    read every `sync_every` steps: no host sync per step, and five tiny kernels (launching
    kernels is what a CUDA-graph step spends its host time on).
    """

    def __init__(self, device: torch.device, sync_every: int, steps: int):
        self.sync_every, self.n_seen, self.steps = sync_every, 0, 0
        self.loss_sum = torch.zeros((), device=device)
        self.finite = torch.ones(2, max(steps, 1), dtype=torch.bool, device=device)

    def check(self, step: int, loss: torch.Tensor, X: torch.Tensor) -> _EpochResult | None:
        """The result that ends the epoch when this step's loss is NaN/inf (CPU), else None."""
        if self.sync_every == 1:
            if torch.isfinite(loss):
                return None
            bad_x = not bool(torch.isfinite(X).all())
            return _EpochResult(step, bad_step=step, bad_loss=loss.item(), bad_input=bad_x)
        self.finite[0, step] = torch.isfinite(loss)
        self.finite[1, step] = torch.isfinite(X).all()
        return None

    def add(self, loss: torch.Tensor, n: int) -> None:
        self.loss_sum.add_(loss, alpha=n)
        self.n_seen += n
        self.steps += 1

    def read(self, loss: torch.Tensor, steps_done: int, pbar: tqdm) -> _EpochResult | None:
        """One host sync: the latest loss to the progress bar; the first bad step, if any."""
        bad = ~self.finite[0, :steps_done]
        first = bad.int().argmax()  # the first bad step (0 when there is none)
        stacked = torch.stack([loss, bad.any(), first, ~self.finite[1, first]]).float()
        value, any_bad, first_bad, bad_x = stacked.tolist()
        if any_bad:
            return _EpochResult(steps_done, bad_step=int(first_bad), bad_input=bool(bad_x))
        pbar.set_postfix(loss=f"{value:.4f}", refresh=False)
        return None

    def result(self) -> _EpochResult:
        """The finished epoch: steps taken and mean loss (one host sync)."""
        if self.n_seen == 0:
            raise ValueError("train_loader yielded no batches; check its dataset and batch_size.")
        return _EpochResult(self.steps, mean_loss=(self.loss_sum / self.n_seen).item())


def _to_device(X, y, cfg: TrainConfig, dist: Dist | None) -> tuple[torch.Tensor, torch.Tensor]:
    """This rank's rows of the batch, on the device, in the memory format training uses."""
    if dist is not None:
        X, y = dist.shard(X, y)
    X, y = X.to(cfg.device, non_blocking=True), y.to(cfg.device, non_blocking=True)
    if cfg.channels_last:
        X = X.contiguous(memory_format=torch.channels_last)
    return X, y


def train_one_epoch(  # noqa: PLR0913 -- as timm's: the config plus the objects train builds once
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loader: Iterable,
    config: TrainConfig | None = None,
    *,
    steps: int,
    scheduler: LRScheduler | None = None,
    scaler: torch.amp.GradScaler | None = None,
    pbar: tqdm | None = None,
    dist: Dist | None = None,
    **options: Any,
) -> _EpochResult:
    """Train for up to `steps` batches of (X (N, C, H, W), y (N,) or (N, classes)).

    `config` (or TrainConfig options as keywords) gives device, amp, channels_last,
    label_smoothing, grad_clip, stop_event and sync_every. On CPU every step's loss is checked
    before the update (a NaN never reaches the weights); on GPU/MPS the first non-finite step
    is recorded on the device and read every `sync_every` steps: no host sync per step.
    """
    cfg = _as_config(config, options).resolved()
    pbar = pbar if pbar is not None else tqdm(disable=True)
    watch = _LossWatch(cfg.device, cfg.sync_every, steps)
    model.train()
    for step, (X, y) in enumerate(itertools.islice(loader, steps)):
        if cfg.stop_event is not None and cfg.stop_event.is_set():
            return _EpochResult(step, stopped_at=step)
        n = X.shape[0]  # the global batch; this rank trains on its share under DDP
        X, y = _to_device(X, y, cfg, dist)
        with _autocast(cfg.device, cfg.amp or None):
            logits = model(X)
        if step == 0 or cfg.sync_every == 1:
            _check_targets(y, logits)
        # fp32 loss; y: (N,) class indices or (N, C) soft targets from Mixup/CutMix
        loss = F.cross_entropy(logits.float(), y, label_smoothing=cfg.label_smoothing)
        loss_d = loss.detach() if dist is None else dist.sum(loss.detach() * X.shape[0]) / n
        if (bad := watch.check(step, loss_d, X)) is not None:
            return bad

        _step(model, optimizer, loss, scaler, cfg.grad_clip)
        if scheduler is not None:
            scheduler.step()

        watch.add(loss_d, n)
        pbar.update(1)
        read_now = (step + 1) % cfg.sync_every == 0 or step + 1 == steps
        if read_now and (bad := watch.read(loss_d, step + 1, pbar)) is not None:
            return bad
    return watch.result()


# ----------------------------------------------------------------------------------------
# train: the loop, then the helpers it calls, in the order it calls them


def train(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train_loader: Iterable,
    val_loader: Iterable,
    epochs: int = 1,
    *,
    config: TrainConfig | None = None,
    **options: Any,
) -> History:
    """Train `model` for `epochs` epochs; evaluate on `val_loader` after each; return a History.

    Batches are (X, y): X (N, 3, H, W) float; y (N,) int64 class indices or (N, C) soft
    targets. One line per epoch: `Epoch 21, loss = 0.2339, Got 357 / 1000 correct (35.70)`.
    Options (lr_schedule, warmup_epochs, amp, seed, checkpoint_dir, resume, compile, ...) are
    the fields of `TrainConfig`: pass them as keywords, or as config=TrainConfig(...).
    `train` leaves the optimizer's lr as it found it. Under torchrun with several processes it
    trains with DistributedDataParallel (see `distributed`).

    A NaN/inf loss stops training at once (status "diverged"); Ctrl-C / the notebook's stop
    button returns the history so far (status "interrupted"). The model keeps its weights.
    """
    cfg = _as_config(config, options)
    run = _setup(model, optimizer, train_loader, val_loader, epochs, cfg)
    history, start_epoch = _start_or_resume(run, model, optimizer)
    net = _wrap(run, model, optimizer)  # fused optimizer, DDP, torch.compile as configured
    was_training, epoch = model.training, start_epoch
    try:
        for epoch in range(start_epoch, epochs):
            if cfg.seed is not None:
                seed_everything(epoch_seed(cfg.seed, epoch))
            if hasattr(train_loader, "set_epoch"):
                train_loader.set_epoch(epoch)
            t0, lr = time.perf_counter(), optimizer.param_groups[0]["lr"]
            with tqdm(total=run.steps, desc=f"Epoch {epoch + 1}/{epochs}", leave=False,
                      disable=not (cfg.progress and run.is_main)) as pbar:  # fmt: skip
                result = train_one_epoch(
                    net, optimizer, train_loader, run.config, steps=run.steps,
                    scheduler=run.scheduler, scaler=run.scaler, pbar=pbar, dist=run.dist,
                )  # fmt: skip
            history.steps += result.steps_done
            if result.bad_step is not None or result.stopped_at is not None:
                _stopped_in_epoch(history, run, epoch, result, lr)
                break

            correct, total = count_correct(val_loader, model, run.device, run.amp_dtype, run.dist)
            is_best = _record_epoch(history, epoch, result.mean_loss, correct / total, lr, t0)
            _save_checkpoints(run, model, optimizer, history, is_best)  # before the line: a
            run.log(  # printed "Epoch N" means epoch N is saved and resumable
                f"Epoch {epoch + 1}, loss = {result.mean_loss:.4f}, {_got_line(correct, total)}"
            )

            if any([bool(callback(history)) for callback in cfg.callbacks]):
                history.status = "stopped"
                history.message = f"Stopped by a callback after epoch {epoch + 1}."
                break
        else:
            history.status, history.message = "completed", f"Finished {epochs} epochs."
    except KeyboardInterrupt:
        history.status = "interrupted"
        history.message = (
            f"Interrupted in epoch {epoch + 1}; the model keeps its current weights and the "
            f"history its {history.epochs} finished epochs."
        )
    finally:
        model.train(was_training)
        _restore_lr(optimizer, run.scheduler)
    distributed.barrier(run.dist)  # not after an error: the other ranks may never come
    return _finish(history, run)


@dataclass
class _Run:
    """What `train` works out once before the first epoch."""

    config: TrainConfig  # resolved: device, amp, channels_last, compile, sync_every are set
    steps: int  # optimizer steps per epoch
    scheduler: LRScheduler | None
    scaler: torch.amp.GradScaler | None
    ckpt_dir: Path | None
    resume_path: Path | None
    saved_config: dict[str, Any]  # stored in last.pt; a resume compares it
    dist: Dist | None = None

    @property
    def device(self) -> torch.device:
        return self.config.device  # type: ignore[return-value]

    @property
    def amp_dtype(self) -> torch.dtype | None:
        return self.config.amp or None  # type: ignore[return-value]

    @property
    def is_main(self) -> bool:
        return self.dist is None or self.dist.is_main

    def log(self, line: str) -> None:
        if self.is_main:
            print(line)


def _setup(model, optimizer, train_loader, val_loader, epochs: int, cfg: TrainConfig) -> _Run:
    """Check the arguments, pick the device, move the model there, build the LR schedule."""
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}.")
    if val_loader is None:
        raise ValueError("train needs a val_loader (e.g. the second loader of cifar100_loaders).")
    if cfg.lr_schedule == "cosine" and cfg.warmup_epochs >= epochs:
        raise ValueError(f"warmup_epochs must be >= 0 and < epochs, got {cfg.warmup_epochs!r}.")
    if distributed.world_size_from_env() > 1 and cfg.seed is None:
        raise ValueError(
            "several processes need seed=... so that every rank draws the same batches."
        )
    device = get_device(cfg.device)
    steps = _steps_per_epoch(train_loader, cfg.max_steps_per_epoch)
    ckpt_dir = Path(cfg.checkpoint_dir) if cfg.checkpoint_dir is not None else None
    if ckpt_dir is not None:
        ckpt_dir.mkdir(parents=True, exist_ok=True)
    resume_path = _resume_path(cfg.resume, ckpt_dir)
    dist, device = distributed.setup(device)  # (None, device) unless torchrun started several
    run_cfg = cfg.resolved(device, steps=epochs * steps)
    model.to(device)
    if run_cfg.channels_last:
        model.to(memory_format=torch.channels_last)
    for group in optimizer.param_groups:  # undo a schedule left over from an earlier run
        if "initial_lr" in group:
            group["lr"] = group.pop("initial_lr")
    warmup = round(cfg.warmup_epochs * steps)
    return _Run(
        config=run_cfg, steps=steps, ckpt_dir=ckpt_dir, dist=dist,
        scheduler=make_scheduler(optimizer, cfg.lr_schedule, epochs * steps, warmup),
        scaler=torch.amp.GradScaler(device.type) if run_cfg.amp == torch.float16 else None,
        resume_path=resume_path,
        saved_config={"epochs": epochs, "steps_per_epoch": steps, "lr_schedule": cfg.lr_schedule,
                      "warmup_epochs": cfg.warmup_epochs, "seed": cfg.seed},
    )  # fmt: skip


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


def _resume_path(resume: str | os.PathLike | bool | None, ckpt_dir: Path | None) -> Path | None:
    if resume is None or resume is False:
        return None
    if resume is True:
        path = ckpt_dir / "last.pt"  # type: ignore[operator]  # TrainConfig checked ckpt_dir
        if not path.exists():
            print(f"No checkpoint at {path} yet: starting from scratch.")
            return None
        return path
    path = Path(resume)
    if not path.exists():
        raise FileNotFoundError(f"resume={str(resume)!r}: no such checkpoint file.")
    return path


def _start_or_resume(run: _Run, model: nn.Module, optimizer) -> tuple[History, int]:
    """A fresh History, or the one in last.pt with the weights, optimizer, schedule and RNG."""
    history, start_epoch = History(), 0
    if run.resume_path is not None:
        ckpt = load_checkpoint(run.resume_path, model, optimizer)  # after the scheduler: keeps lr
        if run.scheduler is not None and ckpt["scheduler"] is not None:
            run.scheduler.load_state_dict(ckpt["scheduler"])
        _check_config(ckpt["config"], run.saved_config, run.resume_path)
        history, start_epoch = History.from_dict(ckpt["history"]), ckpt["epoch"]
        if run.config.seed is None:
            set_rng_state(ckpt["rng"])
        run.log(f"Resuming from {run.resume_path} after epoch {start_epoch}.")
    history.status, history.message = "running", ""
    if run.config.seed is not None:
        seed_everything(run.config.seed)
    return history, start_epoch


def _check_config(saved: dict[str, Any], config: dict[str, Any], path: Path) -> None:
    diff = [f"{k}: {saved.get(k)!r} -> {v!r}" for k, v in config.items() if saved.get(k) != v]
    if diff:
        warnings.warn(
            f"resuming from {path} with different settings ({'; '.join(diff)}); the result "
            "will not match an uninterrupted run.",
            stacklevel=4,
        )


def _wrap(run: _Run, model: nn.Module, optimizer: torch.optim.Optimizer) -> nn.Module:
    """The module the training steps call: DDP across processes, then torch.compile."""
    if run.device.type == "cuda":
        use_fused(optimizer)  # one kernel for all parameters (Adam, AdamW, SGD)
    net = model if run.dist is None else distributed.wrap(model, run.device)
    if run.config.compile:
        net = CompiledModel(net, mode=run.config.compile)
    return net


def _stopped_in_epoch(history: History, run: _Run, epoch: int, result: _EpochResult, lr) -> None:
    """Status and message when an epoch ended early: a NaN/inf loss, or the stop_event."""
    if result.bad_step is not None:
        history.status = "diverged"
        history.message = _diverged_message(history, run, epoch, result, lr)
        return
    history.status = "stopped"
    history.message = (
        f"Stopped (stop_event) in epoch {epoch + 1} before step {result.stopped_at + 1}"
        f" of {run.steps}; history holds the {history.epochs} finished epochs."
    )


def _diverged_message(history: History, run: _Run, epoch: int, result: _EpochResult, lr) -> str:
    where = f"in epoch {epoch + 1} at step {result.bad_step + 1} of {run.steps}"
    kept = f"history keeps the {history.epochs} finished epochs"
    if result.bad_input:
        return (
            f"The training data holds NaN or inf: the batch {where} has non-finite values, so "
            f"training stopped ({kept}). Check the dataset and its transforms (e.g. "
            "torch.isfinite(X).all() on each batch); a lower learning rate will not help."
        )
    what = "NaN or inf" if result.bad_loss is None else f"{result.bad_loss}"
    message = (
        f"Training diverged: the loss became {what} {where}, so training stopped ({kept}). "
        f"Try a lower learning rate (e.g. lr={min(lr / 10, SANE_LR):.1g}) "
        "and/or gradient clipping (grad_clip=1.0)."
    )
    if run.device.type != "cpu":
        message += " The model's weights may now contain NaN."
    return message


def _record_epoch(history: History, epoch: int, loss: float, acc: float, lr: float, t0) -> bool:
    """Append one epoch to the history; True when its val_acc is the best so far."""
    history.train_loss.append(loss)
    history.val_acc.append(acc)
    history.lr.append(lr)
    history.epoch_time.append(time.perf_counter() - t0)
    if history.best_epoch == 0 or acc > history.best_val_acc:
        history.best_epoch, history.best_val_acc = epoch + 1, acc
        return True
    return False


def _save_checkpoints(run: _Run, model, optimizer, history: History, is_best: bool) -> None:
    """best.pt at a new best epoch, then last.pt and history.json (rank 0 writes them)."""
    if run.ckpt_dir is None:
        return
    epoch, acc, info = history.epochs, history.val_acc[-1], describe_model(model)
    if is_best:
        history.best_checkpoint = str(run.ckpt_dir / "best.pt")
        if run.is_main:
            best = {"model": model.state_dict(), "epoch": epoch, "val_acc": acc, "model_info": info}
            save_checkpoint(history.best_checkpoint, best)
    history.last_checkpoint = str(run.ckpt_dir / "last.pt")
    if not run.is_main:
        return
    last = {
        "model": model.state_dict(),
        "model_info": info,
        "optimizer": optimizer.state_dict(),
        "optimizer_class": type(optimizer).__name__,
        "scheduler": run.scheduler.state_dict() if run.scheduler is not None else None,
        "history": history.to_dict(),
        "epoch": epoch,
        "val_acc": acc,
        "rng": rng_state(),
        "config": run.saved_config,
    }
    save_checkpoint(history.last_checkpoint, last)
    history.save(run.ckpt_dir / "history.json")


def _restore_lr(optimizer: torch.optim.Optimizer, scheduler: LRScheduler | None) -> None:
    if scheduler is not None:  # leave the optimizer's lr as we found it
        for group in optimizer.param_groups:
            group["lr"] = group.pop("initial_lr", group["lr"])


def _finish(history: History, run: _Run) -> History:
    """The closing message (where the best weights are, how to resume); history.json."""
    if history.best_checkpoint is not None:
        history.message += (
            f" Best val acc {100 * history.best_val_acc:.2f} % (epoch {history.best_epoch}): "
            f"history.load_best(model) loads {history.best_checkpoint}."
        )
    if history.last_checkpoint is not None and history.status != "completed":
        history.message += " Continue with train(..., resume=True)."
    if run.ckpt_dir is not None and run.is_main:
        history.save(run.ckpt_dir / "history.json")
    if history.status != "completed":
        run.log(history.message)
    return history
