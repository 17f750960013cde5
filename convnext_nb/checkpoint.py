"""Checkpoint files: write them atomically, read them safely, say clearly what is wrong.

`train` writes last.pt (everything needed to resume) and best.pt (weights); this module reads
them with torch.load(weights_only=True), so a file can never run code, and turns every failure
(damaged file, another model, another optimizer) into a `CheckpointError` naming the file.
It does not decide when to save (that is `engine.train`).
"""

from __future__ import annotations

import os
import pickle
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn as nn

from .utils import atomic_write


class CheckpointError(ValueError):
    """A checkpoint file that cannot be used here; the message names the file and what to do."""


def describe_model(model: nn.Module) -> str:
    """A short name of an architecture, e.g. 'ConvNeXtV2(depths=(2, 2, 6, 2), dims=(40, ...),
    num_classes=100)'; only the class name for models without those attributes."""
    fields = [f"{k}={getattr(model, k)!r}" for k in ("depths", "dims", "num_classes")
              if hasattr(model, k)]  # fmt: skip
    return f"{type(model).__name__}({', '.join(fields)})"


def save_checkpoint(path: str | os.PathLike, checkpoint: dict[str, Any]) -> Path:
    """torch.save under a unique temporary name, then rename: never half a file at `path`."""
    return atomic_write(path, lambda tmp: torch.save(checkpoint, tmp))


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise FileNotFoundError(
            f"no checkpoint at {path}; train(..., checkpoint_dir=...) writes one."
        )
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as e:
        if "Weights only load failed" not in str(e):
            raise CheckpointError(f"{path} is damaged ({e}); delete it or train again.") from e
        raise CheckpointError(
            f"{path} is damaged or not a checkpoint written by train: it holds objects other "
            "than tensors and plain values, and was not unpickled (weights_only=True). Delete "
            "it or train again."
        ) from e
    except Exception as e:  # empty (EOFError), truncated (OSError), random bytes (KeyError)...
        size = path.stat().st_size
        raise CheckpointError(
            f"{path} is damaged ({size} bytes; {type(e).__name__}: {e}): it is empty, truncated "
            "or not a PyTorch checkpoint. Delete it, or resume from another checkpoint."
        ) from e
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        raise CheckpointError(f"{path} is not a checkpoint written by train (no 'model' entry).")
    return ckpt


def _load_model(path: Path, ckpt: dict[str, Any], model: nn.Module) -> None:
    """model.load_state_dict, with a message naming both models when they differ."""
    ours = model.state_dict()
    theirs = ckpt["model"]
    missing, extra = sorted(ours.keys() - theirs.keys()), sorted(theirs.keys() - ours.keys())
    shapes = [f"{k} {tuple(theirs[k].shape)} in the file vs {tuple(ours[k].shape)} here"
              for k in ours.keys() & theirs.keys() if theirs[k].shape != ours[k].shape]  # fmt: skip
    if missing or extra or shapes:
        what = "; ".join(
            shapes[:3]
            + ([f"missing in the file: {', '.join(missing[:3])}"] if missing else [])
            + ([f"not in this model: {', '.join(extra[:3])}"] if extra else [])
        )
        saved = ckpt.get("model_info", "another model")
        raise CheckpointError(
            f"{path} holds the weights of {saved}, not of this model, {describe_model(model)} "
            f"({what}). Build the model the checkpoint was trained with (same variant, width "
            "and num_classes), or train this one from scratch."
        )
    model.load_state_dict(theirs)


def _load_optimizer(path: Path, ckpt: dict[str, Any], optimizer: torch.optim.Optimizer) -> None:
    if "optimizer" not in ckpt:
        raise CheckpointError(f"{path} holds only model weights; resume from last.pt instead.")
    saved = ckpt["optimizer"]
    name, saved_name = type(optimizer).__name__, ckpt.get("optimizer_class")
    if saved_name is None:  # older files: tell optimizers apart by their settings' names
        keys = [set(g) - {"params", "initial_lr"} for g in saved["param_groups"]]
        same = keys[:1] == [set(g) - {"params", "initial_lr"} for g in optimizer.param_groups][:1]
        saved_name = name if same else "of another kind"
    if saved_name != name:
        raise CheckpointError(
            f"{path} was made with the optimizer {saved_name}, and this run uses {name}. "
            "Resume with the same optimizer and settings, or start a new run (another "
            "checkpoint_dir, or force=True)."
        )
    if len(saved["param_groups"]) != len(optimizer.param_groups):
        raise CheckpointError(
            f"{path} has {len(saved['param_groups'])} parameter group(s), this {name} has "
            f"{len(optimizer.param_groups)}: build it with the same decay_params as the first run."
        )
    optimizer.load_state_dict(saved)


def load_checkpoint(
    path: str | os.PathLike,
    model: nn.Module | None = None,
    optimizer: torch.optim.Optimizer | None = None,
) -> dict[str, Any]:
    """Read a checkpoint written by `train` (torch.load with weights_only=True).

    Loads its weights into `model` and its state into `optimizer` when given; returns the
    checkpoint dict (keys: model, epoch, val_acc, model_info, and for last.pt also optimizer,
    optimizer_class, scheduler, history, rng, config). Raises `CheckpointError` (a ValueError)
    naming the file when it is damaged or made for another model or optimizer.
    """
    path = Path(path)
    ckpt = _read(path)
    if model is not None:
        _load_model(path, ckpt, model)
    if optimizer is not None:
        _load_optimizer(path, ckpt, optimizer)
    return ckpt


def rng_state() -> dict[str, Any]:
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


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore what `rng_state` returned."""
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    n = state["numpy"]
    keys = n["keys"].numpy().astype(np.uint32)
    np.random.set_state(("MT19937", keys, n["pos"], n["has_gauss"], n["cached_gaussian"]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
