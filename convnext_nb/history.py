"""`History`: what a `train` run did, epoch by epoch; saved as history.json beside the
checkpoints. A plain record with no training logic."""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch.nn as nn

from .checkpoint import load_checkpoint
from .utils import atomic_write


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
        text = json.dumps(self.to_dict(), indent=1)
        return atomic_write(path, lambda tmp: tmp.write_text(text))

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
