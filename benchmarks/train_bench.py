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

import convnext_nb
from convnext_nb import check_accuracy, create_model, get_device, make_optimizer, train

DEBIAN_ROOT = Path("/usr/share/datasets/fashion-mnist")
FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
         "t10k-labels-idx1-ubyte")  # fmt: skip
MEAN, STD = 0.2860, 0.3530


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.train_bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    p.add_argument("--budget", type=float, default=60.0, help="seconds of training each")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--lr", type=float, default=2e-3)
    p.add_argument("--workers", type=int, default=0, help="baseline DataLoader workers")
    p.add_argument("--test-images", type=int, default=10_000)
    p.add_argument("--root", type=Path, default=DEBIAN_ROOT, help="folder with the IDX .gz files")
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: best available)")
    p.add_argument("--tiny", action="store_true", help="5 s each, 1,000 test images")
    args = p.parse_args(argv)
    if args.tiny:
        args.budget, args.test_images = 5.0, 1000
    return args


# ---------------------------------------------------------------------------- ours


class TensorLoader:
    """Shuffled batches of tensors already on the device (`set_epoch` seeds the order)."""

    def __init__(self, X, y, batch_size: int, shuffle: bool = True, seed: int = 0):
        self.X, self.y, self.batch_size, self.shuffle, self.seed = X, y, batch_size, shuffle, seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-len(self.X) // self.batch_size)

    def __iter__(self):
        n = len(self.X)
        if self.shuffle:
            g = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
            order = torch.randperm(n, generator=g).to(self.X.device)
        else:
            order = torch.arange(n, device=self.X.device)
        for i in range(0, n, self.batch_size):
            idx = order[i : i + self.batch_size]
            yield self.X[idx], self.y[idx]


def read_idx(path: Path) -> torch.Tensor:
    data = gzip.decompress(path.read_bytes())
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(data[3])]
    return torch.frombuffer(bytearray(data[4 + 4 * data[3] :]), dtype=torch.uint8).reshape(shape)


def to_input(images: torch.Tensor, device: torch.device) -> torch.Tensor:
    """(N, 28, 28) uint8 -> (N, 3, 32, 32) normalised float32 on `device`."""
    x = F.pad(images.to(device).float() / 255, (2, 2, 2, 2))
    return ((x - MEAN) / STD)[:, None].expand(-1, 3, -1, -1).contiguous()


def our_loaders(args, device):
    if hasattr(convnext_nb, "fashion_mnist_loaders"):
        train_loader, val_loader, test_loader = convnext_nb.fashion_mnist_loaders(
            root=args.root, batch_size=args.batch_size, val_size=1000, device=device, fast=True
        )
        return train_loader, val_loader, test_loader
    X, y = read_idx(args.root / f"{FILES[0]}.gz"), read_idx(args.root / f"{FILES[1]}.gz").long()
    Xt, yt = read_idx(args.root / f"{FILES[2]}.gz"), read_idx(args.root / f"{FILES[3]}.gz").long()
    X, Xt = to_input(X, device), to_input(Xt, device)
    y, yt = y.to(device), yt.to(device)
    perm = torch.randperm(len(X), generator=torch.Generator().manual_seed(0)).to(device)
    val, tr = perm[:1000], perm[1000:]
    return (
        TensorLoader(X[tr], y[tr], args.batch_size),
        TensorLoader(X[val], y[val], 1000, shuffle=False),
        TensorLoader(Xt, yt, 1000, shuffle=False),
    )


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
        with gzip.open(args.root / f"{name}.gz") as src, open(raw / name, "wb") as dst:
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
    if not (args.root / f"{FILES[0]}.gz").exists():
        print(f"Fashion-MNIST not found in {args.root}; install Debian's dataset-fashion-mnist "
              "or pass --root.")  # fmt: skip
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
