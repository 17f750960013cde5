"""Time per epoch of the `improved` recipe, end to end, through `run_experiment`.

One real run of the recipe (atto, stride-2 CIFAR stem, crop + flip, AdamW + warmup + cosine,
label smoothing, drop path, batch 128) on fake CIFAR-100 files of `n_images` training images:
the package's own loader, `train` with its defaults for the device (bf16 autocast, fused
AdamW and torch.compile on CUDA), validation after every epoch included. Two epochs: the
first pays the warm-up (compilation, caches), the second is the steady epoch time.
"""

from __future__ import annotations

import dataclasses
import tempfile

import torch

from convnext_nb.experiments import IMPROVED, run_experiment


def bench_epoch(n_images: int, device: torch.device, batch_size: int = 128) -> list[dict]:
    config = dataclasses.replace(IMPROVED, batch_size=batch_size)
    with tempfile.TemporaryDirectory() as runs_dir:
        (run,) = run_experiment(
            config, quick=False, dataset="fake_cifar100", subset=n_images, epochs=2,
            runs_dir=runs_dir, device=device, log=lambda line: None,
        )  # fmt: skip
    first, steady = run.history.epoch_time[:2]
    name = f"epoch of the improved recipe ({n_images:,} images, batch {batch_size})"
    return [
        {"benchmark": f"{name}, first", "contender": "ours", "value": first, "unit": "s",
         "ratio": None},
        {"benchmark": f"{name}, steady", "contender": "ours", "value": steady, "unit": "s",
         "ratio": None},
        {"benchmark": f"{name}, steady throughput", "contender": "ours",
         "value": n_images / steady, "unit": "img/s", "ratio": None},
    ]  # fmt: skip
