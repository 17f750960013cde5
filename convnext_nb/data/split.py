"""The seed report's split, and the (train, val, test) loaders every dataset returns.

The training images are split (seeded) into a training set and a `val_size`-image validation
set, disjoint; the test split is kept for the final report. This module must not read files:
the dataset modules hand it uint8 tensors.
"""

from __future__ import annotations

import torch

from .memory import TensorLoader
from .plain import PlainLoader
from .spec import DatasetInfo, LoaderOptions


def split_indices(n: int, val_size: int, seed: int, subset: int | None = None):
    """The seed's split: a seeded permutation; `val_size` for validation, the rest to train.

    subset: keep only this many training indices (quick mode). Returns (train_idx, val_idx).
    """
    if not 0 < val_size < n:
        raise ValueError(
            f"val_size must be between 1 and {n - 1} ({n} training images), got {val_size}."
        )
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed))
    val_idx, train_idx = order[:val_size], order[val_size:]
    if subset is not None:
        if not 0 < subset <= len(train_idx):
            raise ValueError(f"subset must be between 1 and {len(train_idx)}, got {subset}.")
        train_idx = train_idx[:subset]
    return train_idx, val_idx


def make_split_loaders(
    train: tuple[torch.Tensor, torch.Tensor],
    test: tuple[torch.Tensor, torch.Tensor],
    info: DatasetInfo,
    options: LoaderOptions,
):
    """(train, val, test) loaders from (images (N, 3, 32, 32) uint8, labels (N,) int64) pairs.

    Only the training loader shuffles and augments; validation and test come in order.
    """
    images, labels = train
    train_idx, val_idx = split_indices(len(labels), options.val_size, options.seed, options.subset)
    make = TensorLoader if options.fast_path else PlainLoader
    return (
        make(images[train_idx], labels[train_idx], info, options, train=True),
        make(images[val_idx], labels[val_idx], info, options),
        make(*test, info, options),
    )
