"""Datasets and loaders: CIFAR-100 and Fashion-MNIST, split and served the seed report's way.

    train, val, test = make_loaders("fashion_mnist_small", batch_size=32, val_size=256)

The seed's protocol: the training images are split into a training set and a `val_size`-image
validation set (disjoint, seeded); the test split is kept for the final report. Every loader
yields (X, y) with X float32 (N, 3, 32, 32), normalised, and each epoch's order and
augmentation are a pure function of (seed, epoch): `train` calls `loader.set_epoch(epoch)`,
so a resumed run sees exactly what an uninterrupted one would.

One job per module: `spec` (class names, options), `memory` (the in-memory fast path, crop +
flip), `plain` (DataLoader + transforms.v2), `split` (the split, the three loaders),
`download` (network probe, checked download), `cifar100`, `fashion_mnist`,
`fashion_mnist_small` (the subset shipped for quick mode), `fakes` (fake CIFAR-100 files).
This file only re-exports them and picks a dataset by name (`make_loaders`).
"""

from __future__ import annotations

import os

from .cifar100 import (
    CIFAR100_ARCHIVE,
    CIFAR100_MD5,
    CIFAR100_URL,
    cifar100_loaders,
    ensure_cifar100,
)
from .download import DatasetNotFoundError
from .fakes import (
    check_fake_cifar100,
    fake_cifar100_root,
    is_fake_cifar100,
    write_fake_cifar100,
)
from .fashion_mnist import (
    FASHION_MNIST_DEBIAN_DIR,
    FASHION_MNIST_FILES,
    fashion_mnist_loaders,
    find_fashion_mnist,
    read_idx,
)
from .fashion_mnist_small import SMALL_FILE, SMALL_SHA256, fashion_mnist_small_loaders
from .memory import TensorLoader, random_crop_flip
from .plain import EpochSampler, ImageDataset, PlainLoader, sample_transform
from .spec import (
    AUGMENTS,
    CIFAR100_CLASSES,
    CIFAR100_FINE_TO_COARSE,
    CIFAR100_MEAN,
    CIFAR100_STD,
    CIFAR100_SUPERCLASSES,
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_MEAN,
    FASHION_MNIST_STD,
    DatasetInfo,
    LoaderOptions,
)
from .split import make_split_loaders, split_indices

__all__ = [
    "CIFAR100_ARCHIVE",
    "CIFAR100_MD5",
    "CIFAR100_URL",
    "cifar100_loaders",
    "ensure_cifar100",
    "check_fake_cifar100",
    "fake_cifar100_root",
    "is_fake_cifar100",
    "write_fake_cifar100",
    "FASHION_MNIST_DEBIAN_DIR",
    "FASHION_MNIST_FILES",
    "fashion_mnist_loaders",
    "find_fashion_mnist",
    "read_idx",
    "AUGMENTS",
    "CIFAR100_CLASSES",
    "CIFAR100_FINE_TO_COARSE",
    "CIFAR100_MEAN",
    "CIFAR100_STD",
    "CIFAR100_SUPERCLASSES",
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_MEAN",
    "FASHION_MNIST_STD",
    "DatasetInfo",
    "LoaderOptions",
    "DatasetNotFoundError",
    "SMALL_FILE",
    "SMALL_SHA256",
    "fashion_mnist_small_loaders",
    "TensorLoader",
    "random_crop_flip",
    "EpochSampler",
    "ImageDataset",
    "PlainLoader",
    "sample_transform",
    "make_split_loaders",
    "split_indices",
    "DATASETS",
    "FASHION_MNIST_DIR",
    "make_loaders",
    "quick_dataset",
]

DATASETS = ("cifar100", "fashion_mnist", "fashion_mnist_small", "fake_cifar100")
FASHION_MNIST_DIR = FASHION_MNIST_DEBIAN_DIR  # the name experiments.py used
CIFAR100_TRAIN_IMAGES = 50_000  # fake CIFAR-100 is never bigger than the real one


def quick_dataset() -> str:
    """Quick mode's data: the Fashion-MNIST subset shipped in the package, the same everywhere."""
    return "fashion_mnist_small"


def make_loaders(
    dataset: str,
    *,
    augment: str = "none",
    batch_size: int = 64,
    seed: int = 0,
    subset: int | None = None,
    val_size: int = 1000,
    data_root: str | os.PathLike | None = None,
    device=None,
):
    """(train, val, test) loaders of one of DATASETS, by name.

    Fashion-MNIST has no "strong" augmentation; it gets "basic" (crop + flip) instead.
    "fake_cifar100" writes its files (once) into a private per-user cache folder, or into
    `data_root`. Every argument is checked before anything is read or written.
    """
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; choose one of: {', '.join(DATASETS)}.")
    if dataset.startswith("fashion_mnist") and augment == "strong":
        augment = "basic"
    LoaderOptions(batch_size, val_size, augment, seed, device, subset=subset)  # checks them
    kw = dict(batch_size=batch_size, val_size=val_size, seed=seed, device=device, subset=subset)
    if dataset == "fashion_mnist_small":
        return fashion_mnist_small_loaders(augment=augment, **kw)
    if dataset == "fashion_mnist":
        return fashion_mnist_loaders(root=data_root, augment=augment, **kw)
    if dataset == "fake_cifar100":
        root = _fake_root(subset, val_size, data_root)
        return cifar100_loaders(root=root, augment=augment, download=False, **kw)
    return cifar100_loaders(root=data_root or "data", augment=augment, **kw)


def _fake_root(subset: int | None, val_size: int, data_root) -> os.PathLike:
    """The fake CIFAR-100 folder for this split, written first if it is not there whole."""
    n_train = (subset or 500) + val_size  # enough for the split asked for
    if subset is not None and not 0 < subset <= CIFAR100_TRAIN_IMAGES - val_size:
        raise ValueError(
            f"subset must be between 1 and {CIFAR100_TRAIN_IMAGES - val_size:,} (CIFAR-100 "
            f"has {CIFAR100_TRAIN_IMAGES:,} training images, {val_size:,} go to validation), "
            f"got {subset}."
        )
    root = data_root or fake_cifar100_root(n_train)
    try:
        check_fake_cifar100(root)
    except DatasetNotFoundError:
        write_fake_cifar100(root, n_train=n_train, n_test=100)
    return root
