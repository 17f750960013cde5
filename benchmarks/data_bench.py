"""Data path benchmark: in-memory batched augmentation vs per-sample DataLoader transforms.

One CIFAR-sized epoch (50,000 fake CIFAR-100 images written in the real on-disk format) with
basic augmentation (random crop + flip), both paths interleaved:
    python -m benchmarks --sections data
"""

from __future__ import annotations

import tempfile
import time

import torch

from convnext_nb.data import cifar100_loaders, write_fake_cifar100


def epoch_seconds(loader) -> float:
    start = time.perf_counter()
    for batch, _ in loader:
        last = batch
    if last.device.type == "cuda":
        torch.cuda.synchronize()  # the batches are queued on the GPU: wait for the last one
    return time.perf_counter() - start


def compare_paths(
    n_images: int = 50_000, batch_size: int = 128, device=None, repeats: int = 1
) -> list[dict]:
    """Images/s of both paths over one epoch of `n_images` (+1,000 for validation)."""
    with tempfile.TemporaryDirectory() as root:
        write_fake_cifar100(root, n_train=n_images + 1000, n_test=10)
        loaders = {
            name: cifar100_loaders(
                root,
                batch_size=batch_size,
                augment="basic",
                fast=fast,
                device=device,
                download=False,
            )[0]
            for name, fast in (("per-sample DataLoader", False), ("in-memory batched", True))
        }
        seconds = {name: [] for name in loaders}
        for _ in range(repeats):
            for name, loader in loaders.items():
                seconds[name].append(epoch_seconds(loader))
    images = len(loaders["in-memory batched"]) * batch_size
    best = {name: min(s) for name, s in seconds.items()}
    base = best["per-sample DataLoader"]
    return [
        {
            "benchmark": f"data epoch, {images:,} images, crop+flip",
            "contender": name,
            "value": images / s,
            "unit": "img/s",
            "ratio": None if name == "per-sample DataLoader" else base / s,
        }
        for name, s in best.items()
    ]
