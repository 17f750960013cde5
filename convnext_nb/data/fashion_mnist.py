"""Fashion-MNIST: the IDX reader, the folder finder (and download), and its loaders.

Found, in this order: the `root` you pass (nowhere else then), `data/FashionMNIST/raw/`
(torchvision's layout, where `download` puts it), Debian's dataset-fashion-mnist folder.
Images become 3x32x32 (28x28 zero-padded by 2, grey copied to 3 channels) so every model
and loader works unchanged. This module must not write anywhere but `data/FashionMNIST/raw/`
(or `<root>/FashionMNIST/raw/`), and only when asked to download.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import torch
from torchvision import datasets

from .download import DatasetNotFoundError, fetch, host_reachable
from .spec import (
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_MEAN,
    FASHION_MNIST_STD,
    DatasetInfo,
    LoaderOptions,
)
from .split import make_split_loaders

FASHION_MNIST_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")  # apt dataset-fashion-mnist
FASHION_MNIST_RAW = Path("FashionMNIST") / "raw"  # torchvision's layout, under a data root
FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
FASHION_MNIST_INFO = DatasetInfo(
    "fashion_mnist", list(FASHION_MNIST_CLASSES), FASHION_MNIST_MEAN, FASHION_MNIST_STD
)
INSTALL_HINT = (
    "On Debian/Ubuntu: `sudo apt-get install dataset-fashion-mnist`; or call again with "
    "download=True (needs internet); or pass root= a folder holding "
    "train-images-idx3-ubyte.gz and the three other files. Quick mode needs none of these: "
    "it uses the subset shipped with the package (dataset 'fashion_mnist_small')."
)


def read_idx(path: str | os.PathLike) -> torch.Tensor:
    """An IDX file (MNIST's format; .gz or not) as a uint8 tensor of its stated shape.

    torchvision's FashionMNIST wants uncompressed copies under <root>/FashionMNIST/raw/;
    reading the .gz files in place (Debian ships them so) needs no copy on disk.
    Raises DatasetNotFoundError naming the file when it is damaged or truncated.
    """
    path = Path(path)
    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as err:  # gzip.BadGzipFile is an OSError
        raise DatasetNotFoundError(f"{path} cannot be read ({err}): replace it.") from err
    if len(data) < 4 or data[:3] != b"\x00\x00\x08":  # magic: 0, 0, dtype 0x08 = uint8
        raise DatasetNotFoundError(f"{path} is not a uint8 IDX file (corrupt?); replace it.")
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    body = data[4 + 4 * ndim :]
    if len(data) < 4 + 4 * ndim or len(body) != torch.Size(shape).numel():
        raise DatasetNotFoundError(
            f"{path} is truncated or damaged: its header says {shape} values, it holds "
            f"{len(body)} bytes; replace it."
        )
    return torch.frombuffer(bytearray(body), dtype=torch.uint8).reshape(shape)


def _complete(folder: Path) -> bool:
    names = [n for pair in FASHION_MNIST_FILES.values() for n in pair]
    return all((folder / n).exists() or (folder / f"{n}.gz").exists() for n in names)


def find_fashion_mnist(root: str | os.PathLike | None = None, download: bool = False) -> Path:
    """The folder holding Fashion-MNIST's four IDX files (.gz or not).

    root given: only `root` and `root/FashionMNIST/raw` (it must exist). Otherwise
    `data/FashionMNIST/raw`, then Debian's folder. download: fetch the files from
    torchvision's mirrors (md5-checked) into `<root or data>/FashionMNIST/raw` if not found.
    """
    if root is not None:
        base = Path(root)
        if not base.is_dir():
            raise DatasetNotFoundError(f"root={str(root)!r} does not exist (or is not a folder).")
        candidates = [base, base / FASHION_MNIST_RAW]
    else:
        base = Path("data")
        candidates = [base / FASHION_MNIST_RAW, FASHION_MNIST_DEBIAN_DIR]
    for folder in candidates:
        if _complete(folder):
            return folder
    if download:
        return download_fashion_mnist(base / FASHION_MNIST_RAW)
    where = ", ".join(str(c) for c in candidates)
    raise DatasetNotFoundError(f"Fashion-MNIST not found (looked in {where}). {INSTALL_HINT}")


def download_fashion_mnist(folder: Path) -> Path:
    """Fetch the four .gz files from torchvision's mirrors, md5-checked, into `folder`."""
    for mirror in datasets.FashionMNIST.mirrors:
        if host_reachable(mirror):
            break
    else:
        raise DatasetNotFoundError(
            f"Fashion-MNIST not found, and cannot reach {datasets.FashionMNIST.mirrors[0]} "
            f"to download it: offline? {INSTALL_HINT}"
        )
    print(f"Downloading Fashion-MNIST (30 MB) from {mirror} into {folder}/")
    for filename, md5 in datasets.FashionMNIST.resources:
        if not (folder / filename).exists():
            try:
                fetch(mirror + filename, folder / filename, md5)
            except OSError as err:
                raise DatasetNotFoundError(f"download of {filename} failed: {err}") from err
    return folder


def as_rgb32(images: torch.Tensor) -> torch.Tensor:
    """(N, 28, 28) uint8 -> (N, 3, 32, 32) uint8: zero-padded by 2, grey copied to 3 channels."""
    images = torch.nn.functional.pad(images, (2, 2, 2, 2))[:, None].expand(-1, 3, -1, -1)
    return images.contiguous()


def check_labels(labels: torch.Tensor, n_images: int, source: str) -> torch.Tensor:
    """(N,) uint8 labels -> int64, after checking there is one per image, each in 0..9."""
    if labels.ndim != 1 or len(labels) != n_images:
        raise DatasetNotFoundError(
            f"{source}: {tuple(labels.shape)} labels for {n_images} images; replace the files."
        )
    if len(labels) and int(labels.max()) >= len(FASHION_MNIST_CLASSES):
        raise DatasetNotFoundError(
            f"{source}: label {int(labels.max())} is out of range (Fashion-MNIST has 10 "
            "classes, 0-9); the file is damaged: replace it."
        )
    return labels.long()


def _load_split(folder: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """-> images (N, 3, 32, 32) uint8, labels (N,) int64 of one split's two IDX files."""
    paths = []
    for name in FASHION_MNIST_FILES[split]:
        plain = folder / name
        paths.append(plain if plain.exists() else folder / f"{name}.gz")
    images, labels = (read_idx(p) for p in paths)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise DatasetNotFoundError(f"{paths[0]} holds {tuple(images.shape)}, not (N, 28, 28).")
    return as_rgb32(images), check_labels(labels, len(images), str(paths[1]))


def fashion_mnist_loaders(  # noqa: PLR0913 (notebook-facing, like cifar100_loaders)
    root: str | os.PathLike | None = None,
    batch_size: int = 64,
    val_size: int = 1000,
    augment: str = "none",
    seed: int = 0,
    device: str | torch.device | None = None,
    fast: bool | None = None,
    subset: int | None = None,
    num_workers: int = 0,
    download: bool = True,
):
    """(train_loader, val_loader, test_loader) for Fashion-MNIST as 3x32x32 images.

    A real dataset that works offline (Debian's dataset-fashion-mnist), with the same split
    and loaders as `cifar100_loaders`. augment: "none" or "basic". root: see
    `find_fashion_mnist`; when it is nowhere to be found, download=True fetches it (within
    seconds an error when offline), download=False says at once how to get it.
    """
    if augment == "strong":
        raise ValueError("Fashion-MNIST takes augment='none' or 'basic' (no colour to jitter).")
    options = LoaderOptions(batch_size, val_size, augment, seed, device, fast, subset, num_workers)
    folder = find_fashion_mnist(root, download=download)
    train, test = _load_split(folder, "train"), _load_split(folder, "test")
    return make_split_loaders(train, test, FASHION_MNIST_INFO, options)
