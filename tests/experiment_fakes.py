"""Tiny in-memory loaders for the experiment, CLI, plot and widget tests (no dataset needed).

Also a command line for tests that need a real process (interrupt, kill, two at once):
    python tests/experiment_fakes.py DELAY[@EPOCH] run small3 --quick ...
runs `convnext-nb` on these loaders (DELAY seconds per training batch, from the 0-based EPOCH
on: "5@1" trains epoch 1 at full speed, then holds each batch 5 s), with the experiment
"small3" (three small runs: small_a, small_b, small_c) added.
"""

from __future__ import annotations

import time

import torch

from convnext_nb.engine import History
from convnext_nb.experiments import Experiment, Run, RunConfig


class TinyLoader:
    """A loader as the data/engine contract describes it: (X, y) batches, set_epoch, len.

    The label is which quarter of the image is brightest, so a model can learn it.
    delay: seconds to sleep per batch from the 0-based epoch `delay_from` on (to test Stop,
    Ctrl-C and kills while training).
    """

    def __init__(self, n: int = 64, batch_size: int = 16, seed: int = 0, delay: float = 0.0,
                 delay_from: int = 0):  # fmt: skip
        g = torch.Generator().manual_seed(seed)
        self.X = torch.randn(n, 3, 32, 32, generator=g) * 0.1
        self.y = torch.randint(0, 4, (n,), generator=g)
        for q in range(4):
            r, c = divmod(q, 2)
            self.X[self.y == q, :, 16 * r : 16 * r + 16, 16 * c : 16 * c + 16] += 1.0
        self.batch_size, self.seed, self.epoch, self.delay = batch_size, seed, 0, delay
        self.delay_from = delay_from
        self.num_classes, self.classes = 4, ["tl", "tr", "bl", "br"]
        self.dataset_name, self.num_samples = "fake", n

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return (len(self.X) + self.batch_size - 1) // self.batch_size

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 1000 + self.epoch)
        order = torch.randperm(len(self.X), generator=g)
        for i in range(0, len(order), self.batch_size):
            if self.delay and self.epoch >= self.delay_from:
                time.sleep(self.delay)
            idx = order[i : i + self.batch_size]
            yield self.X[idx], self.y[idx]


def fake_loaders(delay: float = 0.0, delay_from: int = 0):
    """A `make_loaders` replacement: monkeypatch.setattr(experiments, "make_loaders", ...)."""

    def make_loaders(dataset, **kwargs):
        train = TinyLoader(64, delay=delay, delay_from=delay_from)
        return train, TinyLoader(32, seed=1), TinyLoader(32, seed=2)

    return make_loaders


SMALL = RunConfig(
    "small_atto", "atto, tiny test", model="convnextv2_atto", optimizer="adamw", lr=2e-3,
    epochs=2, width=0.25, batch_size=16,
)  # fmt: skip
SMALL3 = Experiment("small3", "three small runs", tuple(
    SMALL.replace(name=f"small_{x}", label=x, epochs=3) for x in "abc"))  # fmt: skip


def fake_run(label: str, accs: list[float], dataset: str = "fashion_mnist", quick: bool = True,
             report_acc: float | None = None, report_epoch: int | None = None,
             name: str | None = None) -> Run:  # fmt: skip
    """A Run with a made-up history (for plotting tests)."""
    h = History(
        train_loss=[2.0 - 0.3 * i for i in range(len(accs))],
        val_acc=accs,
        lr=[1e-3] * len(accs),
        epoch_time=[1.0] * len(accs),
        status="completed",
    )
    h.best_epoch = max(range(len(accs)), key=accs.__getitem__) + 1
    h.best_val_acc = max(accs)
    cfg = RunConfig(name or label, label, report_acc=report_acc, report_epoch=report_epoch)
    settings = {
        "dataset": dataset,
        "quick": quick,
        "epochs": len(accs),
        "subset": 512,
        "batch_size": 32,
        "width": 0.25,
        "max_steps_per_epoch": 8,
        "num_classes": 10,
    }
    return Run(cfg.name, None, cfg, settings, h)  # fmt: skip


if __name__ == "__main__":
    import sys

    from convnext_nb import cli, experiments

    delay, _, delay_from = sys.argv[1].partition("@")
    experiments.make_loaders = fake_loaders(float(delay), int(delay_from or 0))
    experiments.EXPERIMENTS[SMALL3.name] = SMALL3
    sys.exit(cli.main(sys.argv[2:]))
