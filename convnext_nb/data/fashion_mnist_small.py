"""The Fashion-MNIST subset shipped with the package: quick mode's data, the same everywhere.

`fashion_mnist_small.npz` (beside this file) holds 1,000 training and 500 test images of the
real Fashion-MNIST (100 and 50 per class, uint8, 28x28; Zalando Research, MIT licence: see
FASHION_MNIST_SMALL_LICENSE.txt). Its sha256 is recorded here and checked on every load, so
quick mode, nbval and CI see identical data with no system package and no network.
scripts/make_fashion_mnist_small.py regenerates it. This module must not read any other file.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
from pathlib import Path

import numpy as np
import torch

from .download import DatasetNotFoundError
from .fashion_mnist import FASHION_MNIST_INFO, as_rgb32, check_labels
from .spec import LoaderOptions
from .split import make_split_loaders

SMALL_FILE = Path(__file__).with_name("fashion_mnist_small.npz")
SMALL_SHA256 = "9abaf7e4afae466bc3d666a9b2dbeba2ee9f9414faecad641111e235b5e535fa"
SMALL_SIZES = {"train": 1000, "test": 500}
SMALL_INFO = dataclasses.replace(FASHION_MNIST_INFO, name="fashion_mnist_small")


def load_fashion_mnist_small(
    path: Path | None = None,
) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """{"train": (images (1000, 3, 32, 32) uint8, labels (1000,) int64), "test": (500 ...)}.

    The file's bytes are checked against SMALL_SHA256 before numpy reads them (no pickles:
    allow_pickle=False); a mismatch raises DatasetNotFoundError naming the file.
    """
    path = path or SMALL_FILE
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SMALL_SHA256:
        raise DatasetNotFoundError(
            f"{path} has sha256 {digest}, expected {SMALL_SHA256}: the file is damaged or was "
            "changed. Reinstall the package (or `git checkout` the file)."
        )
    with np.load(io.BytesIO(raw), allow_pickle=False) as arrays:
        splits = {}
        for split, n in SMALL_SIZES.items():
            images = torch.from_numpy(arrays[f"{split}_images"])  # (n, 28, 28): checksummed
            labels = check_labels(torch.from_numpy(arrays[f"{split}_labels"]), n, str(path))
            splits[split] = (as_rgb32(images), labels)
    return splits


def fashion_mnist_small_loaders(
    batch_size: int = 32,
    val_size: int = 256,
    augment: str = "none",
    seed: int = 0,
    device: str | torch.device | None = None,
    fast: bool | None = None,
    subset: int | None = None,
    num_workers: int = 0,
):
    """(train, val, test) loaders of the shipped subset, like `fashion_mnist_loaders`.

    The 1,000 training images are split (seeded) into `val_size` for validation and the rest
    (or `subset` of them) for training; the 500 test images are the test set.
    """
    if augment == "strong":
        raise ValueError("Fashion-MNIST takes augment='none' or 'basic' (no colour to jitter).")
    options = LoaderOptions(batch_size, val_size, augment, seed, device, fast, subset, num_workers)
    splits = load_fashion_mnist_small()
    return make_split_loaders(splits["train"], splits["test"], SMALL_INFO, options)
