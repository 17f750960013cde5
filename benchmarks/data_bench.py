"""Data path benchmark: in-memory batched augmentation vs per-sample DataLoader transforms.

One CIFAR-sized epoch (50,000 fake CIFAR-100 images written in the real on-disk format, read
back by `cifar100_loaders`) with basic augmentation (random crop + flip, normalised float32
batches), both paths interleaved round by round:

    python -m benchmarks.data_bench                 # 50,000 images, batch 128, best device
    python -m benchmarks.data_bench --tiny          # smoke test: 512 images
    python -m benchmarks --sections data            # as part of the whole suite

Prints a table with the ratio and writes JSON to benchmarks/results/data_bench.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import sys
import tempfile
import time
from pathlib import Path

import torch

from convnext_nb.data import cifar100_loaders, write_fake_cifar100
from convnext_nb.utils import get_device

BASELINE = "per-sample DataLoader"


def epoch_seconds(loader) -> float:
    """Seconds for one pass over `loader`, counting until the last batch really exists."""
    start = time.perf_counter()
    for batch, _ in loader:
        last = batch
    if last.device.type == "cuda":
        torch.cuda.synchronize()  # the batches are queued on the GPU: wait for the last one
    return time.perf_counter() - start


def compare_paths(
    n_images: int = 50_000,
    batch_size: int = 128,
    device=None,
    repeats: int = 1,
    num_workers: int = 0,
) -> list[dict]:
    """Images/s of both paths over one epoch of `n_images` (+1,000 for validation).

    After one warm-up batch each, every round times one epoch of each path in turn
    (interleaved, so drift hits both); the best round of each counts.
    Returns one row per path, the fast one with its ratio.
    """
    with tempfile.TemporaryDirectory() as root:
        write_fake_cifar100(root, n_train=n_images + 1000, n_test=10)
        kw = dict(batch_size=batch_size, augment="basic", device=device, download=False)
        loaders = {
            BASELINE: cifar100_loaders(root, fast=False, num_workers=num_workers, **kw)[0],
            "in-memory batched": cifar100_loaders(root, fast=True, **kw)[0],
        }
        for loader in loaders.values():
            next(iter(loader))  # warm-up (first-call setup, thread pools), not timed
        seconds = {name: [] for name in loaders}
        for epoch in range(repeats):
            for name, loader in loaders.items():
                loader.set_epoch(epoch)
                seconds[name].append(epoch_seconds(loader))
    images = len(loaders[BASELINE]) * batch_size
    best = {name: min(s) for name, s in seconds.items()}
    return [
        {
            "benchmark": f"data epoch, {images:,} images, crop+flip",
            "contender": name,
            "value": images / s,
            "unit": "img/s",
            "seconds": s,
            "ratio": None if name == BASELINE else best[BASELINE] / s,
        }
        for name, s in best.items()
    ]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.data_bench", description=__doc__)
    p.add_argument("--images", type=int, default=50_000, help="training images in the epoch")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--repeats", type=int, default=1, help="interleaved rounds (best counts)")
    p.add_argument("--workers", type=int, default=0, help="DataLoader workers of the plain path")
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: best available)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results/data_bench.json"))
    p.add_argument("--tiny", action="store_true", help="512 images, batch 64: a smoke test")
    args = p.parse_args(argv)
    if args.tiny:
        args.images, args.batch_size, args.repeats = 512, 64, 1
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = get_device(args.device)
    if args.threads:
        torch.set_num_threads(args.threads)
    load = os.getloadavg()[0]  # other processes on the CPU make both paths slower
    rows = compare_paths(args.images, args.batch_size, device, args.repeats, args.workers)
    where = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    meta = {
        "command": "python -m benchmarks.data_bench "
        + shlex.join(sys.argv[1:] if argv is None else argv),
        "device": f"{where} ({platform.machine()}, {torch.get_num_threads()} CPU threads)",
        "torch": torch.__version__,
        "plain_path_workers": args.workers,
        "load_average_1min_before": load,
    }
    print(f"{rows[0]['benchmark']} on {meta['device']}, load average before: {load:.2f}")
    print(f"| {'path':<22} | {'img/s':>9} | {'s/epoch':>8} | ratio |")
    print(f"|{'-' * 24}|{'-' * 11}|{'-' * 10}|-------|")
    for row in rows:
        ratio = "1.0x" if row["ratio"] is None else f"{row['ratio']:.1f}x"
        print(
            f"| {row['contender']:<22} | {row['value']:>9,.0f} | {row['seconds']:>8.2f} "
            f"| {ratio:>5} |"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"Wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
