"""CIFAR-100: find, download (md5-checked) or extract it, and serve its split.

`cifar100_loaders` reads the files with torchvision's own `datasets.CIFAR100`, after their
official md5s are checked (fake files: their recorded sha256s, see `fakes`), so nothing
unchecked is ever unpickled. This module must not write anywhere but the `root` it is given.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from torchvision import datasets
from torchvision.datasets.utils import check_integrity, extract_archive

from .download import DatasetNotFoundError, fetch, host_reachable
from .fakes import is_fake_cifar100, read_fake_cifar100
from .spec import CIFAR100_MEAN, CIFAR100_STD, DatasetInfo, LoaderOptions
from .split import make_split_loaders

CIFAR100_URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
CIFAR100_ARCHIVE = "cifar-100-python.tar.gz"
CIFAR100_MD5 = "eb9058c3a382ffc7106e4002c42a8d85"


def _missing_cifar_message(root: Path, why: str) -> str:
    folder = root.resolve()
    return (
        f"CIFAR-100 is not in {folder} ({why}). Either:\n"
        f"  - put {CIFAR100_ARCHIVE} (161 MB, md5 {CIFAR100_MD5}, from {CIFAR100_URL}) "
        f"into {folder}/, or pass archive='path/to/{CIFAR100_ARCHIVE}';\n"
        f"  - or put the extracted cifar-100-python/ folder (train, test, meta) into {folder}/;\n"
        "  - or, with internet, call again with download=True. The official host "
        "(cs.toronto.edu) is sometimes very slow: url='https://...' takes a mirror of the same "
        "archive (checked with the same md5)."
    )


def _cifar_problem(root: Path) -> str | None:
    """None when the extracted files are there with their official md5s, else what is wrong."""
    folder = root / datasets.CIFAR100.base_folder
    if not folder.is_dir():
        return "download=False"
    files = datasets.CIFAR100.train_list + datasets.CIFAR100.test_list
    for name, md5 in files:
        if not (folder / name).is_file():
            return f"{folder.resolve() / name} is missing"
        if not check_integrity(str(folder / name), md5):
            return (
                f"{folder.resolve() / name} failed its md5 check: it is damaged or incomplete; "
                "delete that folder and extract the archive again"
            )
    return None


def ensure_cifar100(
    root: str | os.PathLike,
    download: bool = True,
    url: str | None = None,
    archive: str | os.PathLike | None = None,
    timeout: float = 30.0,
) -> Path:
    """Make sure `<root>/cifar-100-python/` holds CIFAR-100; fetch or extract it if needed.

    Order: already extracted (official md5s) -> a local `archive` ->
    `<root>/cifar-100-python.tar.gz` -> download from `url` (default: the official host,
    cs.toronto.edu, which is sometimes very slow; pass a mirror of the same file instead).
    Every archive is md5-checked before it is extracted, and so are the extracted files.
    Offline, it fails within a few seconds; a connection that stalls for `timeout` seconds
    fails. Raises DatasetNotFoundError saying which file to put where (or which one failed).
    """
    root = Path(root)
    problem = _cifar_problem(root)
    if problem is None:
        return root
    local = Path(archive) if archive is not None else root / CIFAR100_ARCHIVE
    if archive is not None and not local.is_file():
        raise DatasetNotFoundError(_missing_cifar_message(root, f"no file at {archive}"))
    if local.is_file():
        if not check_integrity(str(local), CIFAR100_MD5):
            why = f"{local} is corrupt or incomplete: md5 mismatch; delete or replace it"
            raise DatasetNotFoundError(_missing_cifar_message(root, why))
        return _extract(local, root)
    if not download:
        raise DatasetNotFoundError(_missing_cifar_message(root, problem))
    url = url or CIFAR100_URL
    if not host_reachable(url):
        raise DatasetNotFoundError(_missing_cifar_message(root, f"cannot reach {url}: offline?"))
    print(
        f"Downloading CIFAR-100 (161 MB) from {url}. The official host is sometimes very slow; "
        "pass url= for a mirror, or archive= for a file you already have."
    )
    try:
        fetch(url, root / CIFAR100_ARCHIVE, CIFAR100_MD5, timeout)
    except OSError as err:
        raise DatasetNotFoundError(_missing_cifar_message(root, f"download failed: {err}")) from err
    return _extract(root / CIFAR100_ARCHIVE, root)


def _extract(archive: Path, root: Path) -> Path:
    """Extract a checked archive into root and check the extracted files' md5s too."""
    extract_archive(str(archive), str(root))
    problem = _cifar_problem(root)
    if problem is not None:
        why = f"{archive} did not extract to cifar-100-python/ with the official files: {problem}"
        raise DatasetNotFoundError(_missing_cifar_message(root, why))
    return root


def _as_tensors(split: datasets.CIFAR100) -> tuple[torch.Tensor, torch.Tensor]:
    """torchvision's (N, H, W, C) uint8 array and label list -> (N, C, H, W) uint8, (N,) int64."""
    images = torch.from_numpy(np.ascontiguousarray(split.data)).permute(0, 3, 1, 2)
    return images.contiguous(), torch.tensor(split.targets)


def cifar100_loaders(  # noqa: PLR0913 (notebook-facing: every option a keyword, as in torchvision)
    root: str | os.PathLike = "data",
    batch_size: int = 64,
    val_size: int = 1000,
    augment: str = "none",
    download: bool = True,
    seed: int = 0,
    device: str | torch.device | None = None,
    fast: bool | None = None,
    subset: int | None = None,
    url: str | None = None,
    archive: str | os.PathLike | None = None,
    num_workers: int = 0,
):
    """(train_loader, val_loader, test_loader) for CIFAR-100, the seed report's way.

    The 50,000 training images are split (seeded) into `50,000 - val_size` for training and
    `val_size` for validation; the 10,000 test images are kept for the final report.
    root: folder holding (or receiving) cifar-100-python/. augment: "none" (the seed),
    "basic" (random crop with 4-pixel padding + horizontal flip), "strong" (basic +
    TrivialAugmentWide + RandomErasing, and Mixup/CutMix giving (N, 100) soft targets; plain
    path); validation and test batches are never augmented, and come 4x larger (at least
    256). fast: None picks the in-memory path whenever it can ("none", "basic"); False gives
    the DataLoader path (`num_workers`). subset: keep only this many training images.
    download/url/archive: see `ensure_cifar100` (`url=` takes a mirror, `archive=` a local
    cifar-100-python.tar.gz; both md5-checked). Raises DatasetNotFoundError, within seconds
    when offline, naming the folder and the file to put there. Files written by
    `write_fake_cifar100` are read through the same torchvision code.
    Each loader yields (X, y): X (N, 3, 32, 32) float32 normalised with CIFAR100_MEAN/STD,
    y (N,) int64; it has set_epoch, num_classes, classes, dataset_name and num_samples.
    """
    options = LoaderOptions(batch_size, val_size, augment, seed, device, fast, subset, num_workers)
    root = Path(root)
    if is_fake_cifar100(root):
        print(f"Using FAKE CIFAR-100 files from {root} (made by write_fake_cifar100).")
        name, read = "fake_cifar100", read_fake_cifar100
    else:
        ensure_cifar100(root, download=download, url=url, archive=archive)
        name, read = "cifar100", lambda root, train: datasets.CIFAR100(root, train, download=False)
    train_set, test_set = read(root, train=True), read(root, train=False)
    info = DatasetInfo(name, list(train_set.classes), CIFAR100_MEAN, CIFAR100_STD)
    return make_split_loaders(_as_tensors(train_set), _as_tensors(test_set), info, options)
