"""Time to accuracy on Fashion-MNIST: our `train` + in-memory loader vs a plain timm loop.

    python -m benchmarks.train_bench                 # 60 s per contender
    python -m benchmarks.train_bench --tiny          # 5 s each, 1,000 test images: a smoke test

Both contenders train ConvNeXt V2 atto (10 classes, 32x32 input, 4x4 patchify stem) with the
same optimizer (AdamW, lr, weight decay 0.05 on weights only), batch size and constant lr for
the same wall-clock budget, one run each, then report test accuracy:
  - ours:     convnext_nb.create_model + convnext_nb.train (channels_last, bf16 on CUDA),
              data held as one tensor on the device (the package's fast loader when present);
              stopped by a threading.Timer setting train's stop_event;
  - baseline: timm.create_model("convnextv2_atto") + torchvision FashionMNIST + DataLoader
              (per-sample PIL transforms) + the textbook loop.
Our budget also pays for a 1,000-image validation pass after every epoch.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import sys
import tempfile
import threading
import time
from contextlib import nullcontext
from pathlib import Path

import timm
import torch
import torch.nn.functional as F
from torchvision import datasets
from torchvision.transforms import v2

from convnext_nb import check_accuracy, create_model, get_device, make_optimizer, train
from convnext_nb.data import (
    FASHION_MNIST_FILES,
    DatasetNotFoundError,
    fashion_mnist_loaders,
    find_fashion_mnist,
)

FILES = (*FASHION_MNIST_FILES["train"], *FASHION_MNIST_FILES["test"])
MEAN, STD = 0.2860, 0.3530


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.train_bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--budget", type=float, default=60.0, help="seconds of training each")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--workers", type=int, default=0, help="baseline DataLoader workers")
    p.add_argument("--test-images", type=int, default=10_000)
    p.add_argument("--root", type=Path, default=None,
                   help="folder with the four IDX files (default: data/FashionMNIST/raw, "
                   "then Debian's dataset-fashion-mnist)")  # fmt: skip
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: best available)")
    p.add_argument("--tiny", action="store_true", help="5 s each, 1,000 test images")
    args = p.parse_args(argv)
    if args.tiny:
        args.budget, args.test_images = 5.0, 1000
    return args


# ---------------------------------------------------------------------------- ours


def our_loaders(args, device):
    """The package's in-memory loaders: every image on `device` as one tensor."""
    return fashion_mnist_loaders(root=args.root, batch_size=args.batch_size, val_size=1000,
                                 device=device, fast=True, download=False)  # fmt: skip


def run_ours(args, device) -> dict:
    train_loader, val_loader, test_loader = our_loaders(args, device)
    torch.manual_seed(0)
    model = create_model("convnextv2_atto", num_classes=10)
    optimizer = make_optimizer("adamw", model, lr=args.lr, weight_decay=0.05)
    stop = threading.Event()
    timer = threading.Timer(args.budget, stop.set)
    start = time.perf_counter()
    timer.start()
    history = train(
        model, optimizer, train_loader, val_loader, epochs=10_000, device=device,
        channels_last=True, seed=0, stop_event=stop, progress=False,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    timer.cancel()
    done = history.steps
    acc = evaluate_subset(test_loader, model, device, args.test_images)
    return {"contender": "ours (convnext_nb.train, in-memory)", "steps": done,
            "seconds": elapsed, "images": done * args.batch_size, "test_acc": acc}  # fmt: skip


# ---------------------------------------------------------------------------- baseline


def torchvision_root(args) -> Path:
    """torchvision's FashionMNIST wants root/FashionMNIST/raw/<uncompressed IDX files>."""
    root = Path(tempfile.mkdtemp(prefix="fmnist_"))
    raw = root / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for name in FILES:
        packed = args.root / f"{name}.gz"
        with (gzip.open(packed) if packed.exists() else open(args.root / name, "rb")) as src, \
                open(raw / name, "wb") as dst:  # fmt: skip
            shutil.copyfileobj(src, dst)
    return root


def run_timm(args, device) -> dict:
    root = torchvision_root(args)
    tf = v2.Compose([v2.Pad(2), v2.Grayscale(3), v2.ToImage(), v2.ToDtype(torch.float32, True),
                     v2.Normalize([MEAN] * 3, [STD] * 3)])  # fmt: skip
    train_set = datasets.FashionMNIST(root, train=True, transform=tf, download=False)
    test_set = datasets.FashionMNIST(root, train=False, transform=tf, download=False)
    test_set = torch.utils.data.Subset(test_set, range(args.test_images))
    pin = device.type == "cuda"
    loader = torch.utils.data.DataLoader(train_set, args.batch_size, shuffle=True,
                                         num_workers=args.workers, pin_memory=pin)  # fmt: skip
    torch.manual_seed(0)
    model = timm.create_model("convnextv2_atto", num_classes=10).to(device)
    optimizer = make_optimizer("adamw", model, lr=args.lr, weight_decay=0.05)
    amp = torch.autocast("cuda", torch.bfloat16) if device.type == "cuda" else nullcontext()
    steps, start = 0, time.perf_counter()
    while time.perf_counter() - start < args.budget:
        for X, y in loader:
            X, y = X.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with amp:
                loss = F.cross_entropy(model(X), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            steps += 1
            if time.perf_counter() - start >= args.budget:
                break
    elapsed = time.perf_counter() - start
    test_loader = torch.utils.data.DataLoader(test_set, 1000, num_workers=args.workers)
    acc = check_accuracy(test_loader, model, device, verbose=False)
    shutil.rmtree(root)
    return {"contender": "baseline (timm + torchvision DataLoader)", "steps": steps,
            "seconds": elapsed, "images": steps * args.batch_size, "test_acc": acc}  # fmt: skip


def evaluate_subset(loader, model, device, n: int) -> float:
    batches = []
    for X, y in loader:
        batches.append((X, y))
        if sum(len(b[1]) for b in batches) >= n:
            break
    return check_accuracy(batches, model, device, verbose=False)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = get_device(args.device)
    try:
        args.root = find_fashion_mnist(args.root)
    except DatasetNotFoundError as e:
        print(e)
        return 1
    rows = [run_timm(args, device), run_ours(args, device)]
    print(f"\nFashion-MNIST, convnextv2_atto, {args.budget:g} s budget each, batch "
          f"{args.batch_size}, lr {args.lr:g}, device {device}, torch {torch.__version__}, "
          f"timm {timm.__version__}")  # fmt: skip
    print(f"Command: python -m benchmarks.train_bench {' '.join(argv or sys.argv[1:])}")
    print(f"\n| contender | steps | images/s | test acc ({args.test_images:,} images) |")
    print("|---|---|---|---|")
    for r in rows:
        print(f"| {r['contender']} | {r['steps']:,} | {r['images'] / r['seconds']:,.0f} "
              f"| {100 * r['test_acc']:.2f} % |")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
