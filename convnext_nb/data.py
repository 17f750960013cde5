"""CIFAR-100 and Fashion-MNIST, split and loaded the way the seed report does it.

The seed's protocol: the 50,000 training images are split into a training set and a
`val_size`-image validation set (disjoint, seeded); the test split is kept for the final report.

Two ways to serve batches, both yielding (X, y) with X float32 (N, 3, 32, 32), normalised:

- `TensorLoader` (the fast path, the default): the whole split lives in one uint8 tensor on the
  training device; shuffling, random crop and flip are done on whole batches with tensor ops.
- `PlainLoader`: torch's DataLoader with per-sample `transforms.v2` (the classic pipeline;
  also the only one with the "strong" recipe: TrivialAugment, RandomErasing, Mixup/CutMix).

Each epoch's order and augmentation are a pure function of (seed, epoch) on both paths, with
any `num_workers`, and neither path draws from the global torch RNG: `train` calls
`loader.set_epoch(epoch)`, so a resumed run sees exactly what an uninterrupted one would.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import pickle
import socket
import struct
import threading
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from torchvision import datasets
from torchvision.datasets.utils import check_integrity, download_url, extract_archive
from torchvision.transforms import v2

from .utils import get_device

CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)
FASHION_MNIST_MEAN = (0.2860, 0.2860, 0.2860)  # of the 28x28 images; padding adds zeros
FASHION_MNIST_STD = (0.3530, 0.3530, 0.3530)

CIFAR100_URL = "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz"
CIFAR100_ARCHIVE = "cifar-100-python.tar.gz"
CIFAR100_MD5 = "eb9058c3a382ffc7106e4002c42a8d85"
FASHION_MNIST_DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")  # apt dataset-fashion-mnist
FASHION_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}

# fmt: off
CIFAR100_CLASSES = [
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle",
    "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle",
    "caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch",
    "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox",
    "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom",
    "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road",
    "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake",
    "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank",
    "telephone", "television", "tiger", "tractor", "train", "trout", "tulip", "turtle",
    "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
]
CIFAR100_SUPERCLASSES = [
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates", "people",
    "reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2",
]
# CIFAR100_SUPERCLASSES[CIFAR100_FINE_TO_COARSE[fine_label]] is a class's superclass.
CIFAR100_FINE_TO_COARSE = [
    4, 1, 14, 8, 0, 6, 7, 7, 18, 3, 3, 14, 9, 18, 7, 11, 3, 9, 7, 11, 6, 11, 5, 10, 7, 6, 13,
    15, 3, 15, 0, 11, 1, 10, 12, 14, 16, 9, 11, 5, 5, 19, 8, 8, 15, 13, 14, 17, 18, 10, 16, 4,
    17, 4, 2, 0, 17, 4, 18, 17, 10, 3, 2, 12, 12, 16, 12, 1, 9, 19, 2, 10, 0, 1, 16, 12, 9, 13,
    15, 13, 16, 19, 2, 4, 6, 19, 5, 5, 8, 19, 18, 1, 2, 15, 6, 0, 17, 8, 14, 13,
]
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
# fmt: on

AUGMENTS = ("none", "basic", "strong")


class DatasetNotFoundError(RuntimeError):
    """The dataset is not on disk and could not be fetched; the message says what to do."""


# ----------------------------------------------------------------------------------------
# Loaders


def _epoch_seed(seed: int, epoch: int) -> int:
    return seed * 100_003 + epoch


def _epoch_generator(seed: int, epoch: int, stream: int = 0) -> torch.Generator:
    """A fresh CPU generator for (seed, epoch); `stream` gives independent ones for other uses."""
    return torch.Generator().manual_seed(_epoch_seed(seed, epoch) + stream * 2**40)


def random_crop_flip(x: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """RandomCrop(H, padding) + RandomHorizontalFlip for a whole batch at once.

    x: (N, C, H, W) uint8 -> (N, C, H, W): each image is zero-padded by `padding` pixels, cut
    at its own random offset, and mirrored with probability 1/2 (as torchvision does per image).
    One gather does crop and flip: output pixel (i, j) of image n reads padded pixel
    (dy[n] + i, dx[n] + j), with j reversed for flipped images.
    """
    n, c, h, w = x.shape
    dy, dx = torch.randint(0, 2 * padding + 1, (2, n, 1), generator=generator).to(x.device)
    flip = torch.rand(n, generator=generator).to(x.device) < 0.5
    padded = torch.nn.functional.pad(x, (padding,) * 4).flatten(2)  # (N, C, (H + 2p)(W + 2p))
    rows = dy + torch.arange(h, device=x.device)  # (N, H): the rows each image keeps
    cols = dx + torch.arange(w, device=x.device)  # (N, W)
    cols = torch.where(flip[:, None], cols.flip(1), cols)  # a flip reads the columns backwards
    index = (rows[:, :, None] * (w + 2 * padding) + cols[:, None, :]).flatten(1)  # (N, H * W)
    return padded.gather(2, index[:, None].expand(n, c, h * w)).view(n, c, h, w)


@contextlib.contextmanager
def _one_thread_on_cpu(device: torch.device) -> Iterator[None]:
    """Run a batch's small, memory-bound CPU ops on one thread, then restore the setting.

    One thread does them about as fast (over 100,000 images/s), and it avoids a collapse
    measured here: with the cores busy elsewhere, 2 intra-op threads took 60x longer.
    """
    if device.type != "cpu":
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


class TensorLoader:
    """The fast path: batches cut from one in-memory uint8 tensor, augmented on the device.

    images: (N, 3, H, W) uint8; labels: (N,) int64. augment: "none" or "basic" (crop + flip).
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        batch_size: int,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        augment: str = "none",
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int = 0,
        device: torch.device | None = None,
        classes: list[str],
        dataset_name: str,
    ):
        if augment not in ("none", "basic"):
            raise ValueError(f"the fast path does augment='none' or 'basic', got {augment!r}.")
        self.device = get_device(device)
        self.images = images.to(self.device)
        self.labels = labels.to(self.device)
        self.mean = torch.tensor(mean, device=self.device).view(1, -1, 1, 1) * 255
        self.std = torch.tensor(std, device=self.device).view(1, -1, 1, 1) * 255
        self.batch_size, self.augment, self.shuffle = batch_size, augment, shuffle
        self.drop_last, self.seed, self.epoch = drop_last, seed, 0
        self.classes, self.num_classes = classes, len(classes)
        self.dataset_name, self.num_samples = dataset_name, len(labels)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_samples // self.batch_size
        return -(-self.num_samples // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        generator = _epoch_generator(self.seed, self.epoch)
        if self.shuffle:
            order = torch.randperm(self.num_samples, generator=generator).to(self.device)
        else:
            order = torch.arange(self.num_samples, device=self.device)
        for i in range(len(self)):
            idx = order[i * self.batch_size : (i + 1) * self.batch_size]
            with _one_thread_on_cpu(self.device):
                x = self.images[idx]
                if self.augment == "basic":
                    x = random_crop_flip(x, generator)
                x = x.float().sub_(self.mean).div_(self.std)
            yield x, self.labels[idx]


class EpochSampler(Sampler):
    """Yields (index, sample_seed) pairs; both are a pure function of (seed, epoch).

    The per-sample seed travels with the index, so random transforms give the same result in
    the main process and in any DataLoader worker (persistent or not).
    """

    def __init__(self, n: int, shuffle: bool, seed: int, random_transform: bool):
        self.n, self.shuffle, self.seed, self.epoch = n, shuffle, seed, 0
        self.random_transform = random_transform

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.n

    def __iter__(self) -> Iterator[tuple[int, int | None]]:
        generator = _epoch_generator(self.seed, self.epoch)
        if self.shuffle:
            order = torch.randperm(self.n, generator=generator).tolist()
        else:
            order = list(range(self.n))
        if not self.random_transform:
            return ((i, None) for i in order)
        seeds = torch.randint(0, 2**62, (self.n,), generator=generator).tolist()
        return zip(order, seeds, strict=True)


class ImageDataset(Dataset):
    """(N, 3, H, W) uint8 images and (N,) labels, with a per-sample transform.

    Indexed by (i, sample_seed) from `EpochSampler`: a random transform runs under its own
    seed in a forked RNG, so it neither depends on nor disturbs the global torch RNG.
    """

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, key: tuple[int, int | None]) -> tuple[torch.Tensor, torch.Tensor]:
        i, sample_seed = key
        image = v2.functional.to_image(self.images[i])
        if sample_seed is None:
            return self.transform(image), self.labels[i]
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(sample_seed)
            return self.transform(image), self.labels[i]


def sample_transform(augment: str, mean, std) -> v2.Compose:
    """The per-sample transforms.v2 pipeline of the plain path (uint8 image in, float out)."""
    steps = []
    if augment in ("basic", "strong"):
        steps += [v2.RandomCrop(32, padding=4), v2.RandomHorizontalFlip()]
    if augment == "strong":
        steps.append(v2.TrivialAugmentWide())
    steps += [v2.ToDtype(torch.float32, scale=True), v2.Normalize(mean, std)]
    if augment == "strong":
        steps.append(v2.RandomErasing(p=0.25))
    return v2.Compose(steps)


class PlainLoader:
    """The classic path: DataLoader over per-sample transforms; Mixup/CutMix on "strong"."""

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        *,
        batch_size: int,
        mean: tuple[float, ...],
        std: tuple[float, ...],
        augment: str = "none",
        shuffle: bool = False,
        drop_last: bool = False,
        seed: int = 0,
        device: torch.device | None = None,
        classes: list[str],
        dataset_name: str,
        num_workers: int = 0,
    ):
        self.dataset = ImageDataset(images, labels, sample_transform(augment, mean, std))
        self.sampler = EpochSampler(len(labels), shuffle, seed, random_transform=augment != "none")
        self.loader = DataLoader(
            self.dataset,
            batch_size=batch_size,
            sampler=self.sampler,
            drop_last=drop_last,
            num_workers=num_workers,
            pin_memory=get_device(device).type == "cuda",
            persistent_workers=num_workers > 0,
            generator=torch.Generator(),  # its own base seed: the global RNG is left alone
        )
        self.batch_transform = None
        if augment == "strong":  # mixes pairs of images; labels become (N, C) soft targets
            mix = [
                v2.MixUp(alpha=0.8, num_classes=len(classes)),
                v2.CutMix(alpha=1.0, num_classes=len(classes)),
            ]
            self.batch_transform = v2.RandomChoice(mix)
        self.seed, self.epoch, self.batch_size = seed, 0, batch_size
        self.classes, self.num_classes = classes, len(classes)
        self.dataset_name, self.num_samples = dataset_name, len(labels)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        # Mixup/CutMix draw from the global RNG: give each batch its own seed, in a forked RNG.
        batch_seeds = _epoch_generator(self.seed, self.epoch, stream=1)
        for x, y in self.loader:
            if self.batch_transform is not None:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(int(torch.randint(0, 2**62, (), generator=batch_seeds)))
                    x, y = self.batch_transform(x, y)
            yield x, y


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
    train_images: torch.Tensor,
    train_labels: torch.Tensor,
    test_images: torch.Tensor,
    test_labels: torch.Tensor,
    *,
    mean,
    std,
    classes,
    dataset_name,
    batch_size: int,
    val_size: int,
    augment: str,
    seed: int,
    device,
    fast: bool | None,
    subset: int | None,
    num_workers: int = 0,
):
    """(train, val, test) loaders from uint8 image tensors (N, 3, 32, 32) and labels."""
    if augment not in AUGMENTS:
        raise ValueError(f"augment must be one of {AUGMENTS}, got {augment!r}.")
    if batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size}.")
    if fast is None:
        fast = augment != "strong"
    if fast and augment == "strong":
        raise ValueError("augment='strong' runs on the plain path: pass fast=False (or None).")
    train_idx, val_idx = split_indices(len(train_labels), val_size, seed, subset)
    common = dict(
        batch_size=batch_size,
        mean=mean,
        std=std,
        seed=seed,
        device=device,
        classes=classes,
        dataset_name=dataset_name,
    )
    make = TensorLoader if fast else PlainLoader
    if not fast:
        common["num_workers"] = num_workers
    train = make(
        train_images[train_idx],
        train_labels[train_idx],
        augment=augment,
        shuffle=True,
        drop_last=len(train_idx) > batch_size,
        **common,
    )
    val = make(train_images[val_idx], train_labels[val_idx], **common)
    test = make(test_images, test_labels, **common)
    return train, val, test


# ----------------------------------------------------------------------------------------
# CIFAR-100 on disk


class _FakeCIFAR100(datasets.CIFAR100):
    """torchvision's CIFAR100 reader, unchanged, for files from `write_fake_cifar100`.

    torchvision checks each file with `check_integrity(path, md5)` against the official md5s
    in `train_list`, `test_list` and `meta`; with md5 None that check only asks that the file
    exists. Only these three class attributes differ: parsing is torchvision's own code.
    """

    train_list = [["train", None]]
    test_list = [["test", None]]
    meta = {"filename": "meta", "key": "fine_label_names", "md5": None}


def _host_reachable(url: str, timeout: float = 3.0) -> bool:
    """Can we open a TCP connection to the url's host (or its proxy) within `timeout` seconds?

    The probe runs in a daemon thread so that a stalled DNS lookup (which ignores socket
    timeouts) cannot hold the caller longer than `timeout` either.
    """
    parts = urllib.parse.urlsplit(url)
    proxy = urllib.request.getproxies().get(parts.scheme)
    if proxy and not urllib.request.proxy_bypass(parts.hostname or ""):
        parts = urllib.parse.urlsplit(proxy if "://" in proxy else f"http://{proxy}")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    reached, done = [], threading.Event()

    def probe() -> None:
        try:
            socket.create_connection((parts.hostname, port), timeout=timeout).close()
            reached.append(True)
        except OSError:
            pass
        finally:
            done.set()

    threading.Thread(target=probe, daemon=True).start()
    done.wait(timeout)  # a refused or unresolvable host answers at once
    return bool(reached)


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
    The download uses torchvision's own `download_url` (what `datasets.CIFAR100(download=True)`
    calls: progress bar, md5 check), but into a `.part` file that is renamed only once its md5
    checks out and deleted otherwise, so a broken download never passes for the archive.
    Offline, it fails within a few seconds; a connection that stalls for `timeout` seconds fails.
    Raises DatasetNotFoundError saying which file to put where.
    """
    root = Path(root)
    if _cifar_ok(root):
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
        raise DatasetNotFoundError(_missing_cifar_message(root, "download=False"))
    url = url or CIFAR100_URL
    if not _host_reachable(url):
        raise DatasetNotFoundError(_missing_cifar_message(root, f"cannot reach {url}: offline?"))
    print(
        f"Downloading CIFAR-100 (161 MB) from {url}. The official host is sometimes very slow; "
        "pass url= for a mirror, or archive= for a file you already have."
    )
    root.mkdir(parents=True, exist_ok=True)
    part = root / (CIFAR100_ARCHIVE + ".part")
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(timeout)  # urllib reads block at most this long: no endless hang
    try:
        part.unlink(missing_ok=True)
        download_url(url, str(root), filename=part.name, md5=CIFAR100_MD5)
        os.replace(part, root / CIFAR100_ARCHIVE)
    except Exception as err:
        raise DatasetNotFoundError(_missing_cifar_message(root, f"download failed: {err}")) from err
    finally:
        socket.setdefaulttimeout(previous)
        part.unlink(missing_ok=True)  # also after Ctrl+C: no half-written file stays behind
    return _extract(root / CIFAR100_ARCHIVE, root)


def _extract(archive: Path, root: Path) -> Path:
    """Extract a checked archive into root and check the extracted files' md5s too."""
    extract_archive(str(archive), str(root))
    if not _cifar_ok(root):
        why = f"{archive} did not extract to cifar-100-python/ with the official files"
        raise DatasetNotFoundError(_missing_cifar_message(root, why))
    return root


def _cifar_ok(root: Path) -> bool:
    """Are the extracted train/test files there with their official md5?"""
    folder = root / datasets.CIFAR100.base_folder
    files = datasets.CIFAR100.train_list + datasets.CIFAR100.test_list
    return all(check_integrity(str(folder / name), md5) for name, md5 in files)


def is_fake_cifar100(root: str | os.PathLike) -> bool:
    return (Path(root) / "cifar-100-python" / "FAKE").exists()


def _images_tensor(hwc: np.ndarray) -> torch.Tensor:
    """(N, H, W, C) uint8 numpy -> (N, C, H, W) uint8 tensor."""
    return torch.from_numpy(np.ascontiguousarray(hwc)).permute(0, 3, 1, 2).contiguous()


def cifar100_loaders(
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
    path); validation and test batches are never augmented. fast: None picks the in-memory
    path whenever it can ("none", "basic"); False gives the DataLoader path (`num_workers`).
    subset: keep only this many training images. download/url/archive: see `ensure_cifar100`
    (the official host, cs.toronto.edu, is sometimes very slow: `url=` takes a mirror,
    `archive=` a local cifar-100-python.tar.gz; both md5-checked). Raises DatasetNotFoundError,
    within seconds when offline, naming the folder and the file to put there.
    Files written by `write_fake_cifar100` are read through the same torchvision code.
    Each loader yields (X, y): X (N, 3, 32, 32) float32 normalised with CIFAR100_MEAN/STD,
    y (N,) int64; it has set_epoch, num_classes, classes, dataset_name and num_samples.
    """
    root = Path(root)
    if is_fake_cifar100(root):
        reader, name = _FakeCIFAR100, "fake_cifar100"
        print(f"Using FAKE CIFAR-100 files from {root} (made by write_fake_cifar100).")
    else:
        ensure_cifar100(root, download=download, url=url, archive=archive)
        reader, name = datasets.CIFAR100, "cifar100"
    train_set = reader(root, train=True, download=False)
    test_set = reader(root, train=False, download=False)
    return make_split_loaders(
        _images_tensor(train_set.data),
        torch.tensor(train_set.targets),
        _images_tensor(test_set.data),
        torch.tensor(test_set.targets),
        mean=CIFAR100_MEAN,
        std=CIFAR100_STD,
        classes=list(train_set.classes),
        dataset_name=name,
        batch_size=batch_size,
        val_size=val_size,
        augment=augment,
        seed=seed,
        device=device,
        fast=fast,
        subset=subset,
        num_workers=num_workers,
    )


class _Py2Str(bytes):
    """A Python 2 `str`, the type of every string in the original CIFAR pickles."""


class _Py2Pickler(pickle._Pickler):  # the pure-Python pickler: its dispatch table is extendable
    """Pickles like Python 2's cPickle did: `_Py2Str` as (SHORT_)BINSTRING, array bytes too.

    Loaded with encoding="latin1" (torchvision) these become str, with encoding="bytes" (the
    snippet on the CIFAR web page, `dict[b"data"]`) bytes, exactly as with the real files.
    """

    dispatch = pickle._Pickler.dispatch.copy()

    def save_py2_str(self, obj: _Py2Str) -> None:
        n = len(obj)
        size = bytes([n]) if n < 256 else struct.pack("<i", n)
        self.write((pickle.SHORT_BINSTRING if n < 256 else pickle.BINSTRING) + size + obj)
        self.memoize(obj)

    dispatch[_Py2Str] = save_py2_str

    def reducer_override(self, obj):
        if not isinstance(obj, np.ndarray):
            return NotImplemented
        func, (cls, shape, typecode), (version, shape_, dtype, fortran, raw) = obj.__reduce__()
        return (
            func,
            (cls, shape, _Py2Str(typecode)),
            (version, shape_, dtype, fortran, _Py2Str(raw)),
        )


def _py2_pickle(obj, path: Path) -> None:
    """Write obj as a protocol-2 pickle with Python 2 strings (str -> _Py2Str on the way)."""

    def py2(x):
        if isinstance(x, str):
            return _Py2Str(x.encode("latin1"))
        if isinstance(x, dict):
            return {py2(k): py2(v) for k, v in x.items()}
        if isinstance(x, list):
            return [py2(v) for v in x]
        return x

    with open(path, "wb") as f:
        _Py2Pickler(f, protocol=2).dump(py2(obj))


def write_fake_cifar100(
    root: str | os.PathLike, n_train: int = 500, n_test: int = 100, seed: int = 0
) -> Path:
    """Write `<root>/cifar-100-python/{train,test,meta}` in CIFAR-100's exact on-disk format.

    Protocol-2 pickles with Python 2 strings, like the originals, of dicts with their keys:
    data (N, 3072) uint8, rows of R, G and B planes of 32x32; fine_labels, coarse_labels,
    filenames, batch_label; meta with fine_label_names and coarse_label_names.
    torchvision's `datasets.CIFAR100(root, download=False)` reads them once its expected md5s
    are those of these files; `cifar100_loaders` does that through a subclass (`_FakeCIFAR100`,
    no md5 to match), spotted by the extra FAKE marker file written here. Each class is a
    blocky colour pattern plus noise, so a model learns them within a few hundred steps.
    Returns root.
    """
    folder = Path(root) / "cifar-100-python"
    if (folder / "train").exists() and not is_fake_cifar100(root):
        raise ValueError(
            f"{folder} holds real CIFAR-100 files; write the fake ones into another folder."
        )
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    # One random 4x4 colour grid per class, blown up to 32x32 (8x8 blocks).
    templates = rng.integers(0, 256, size=(100, 3, 4, 4), dtype=np.int16)
    templates = templates.repeat(8, axis=2).repeat(8, axis=3)  # (100, 3, 32, 32)
    for split, n in (("train", n_train), ("test", n_test)):
        if n < 1:
            raise ValueError(f"n_{split} must be a positive integer, got {n}.")
        fine = rng.integers(0, 100, size=n)
        noise = rng.integers(-64, 65, size=(n, 3, 32, 32), dtype=np.int16)  # int16: fast, small
        images = (templates[fine] + noise).clip(0, 255).astype(np.uint8)
        entry = {
            "filenames": [f"fake_{split}_{i}.png" for i in range(n)],
            "batch_label": f"{split}ing batch 1 of 1",
            "fine_labels": fine.tolist(),
            "coarse_labels": [CIFAR100_FINE_TO_COARSE[f] for f in fine],
            "data": images.reshape(n, 3072),
        }
        _py2_pickle(entry, folder / split)
    meta = {"fine_label_names": CIFAR100_CLASSES, "coarse_label_names": CIFAR100_SUPERCLASSES}
    _py2_pickle(meta, folder / "meta")
    (folder / "FAKE").write_text("written by convnext_nb.write_fake_cifar100\n")
    return Path(root)


# ----------------------------------------------------------------------------------------
# Fashion-MNIST on disk


def read_idx(path: Path) -> torch.Tensor:
    """An IDX file (MNIST's format; .gz or not) as a uint8 tensor of its stated shape.

    torchvision's FashionMNIST wants uncompressed copies under <root>/FashionMNIST/raw/;
    reading the .gz files in place (Debian ships them so) needs no copy on disk.
    """
    with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[:3] != b"\x00\x00\x08":  # magic: 0, 0, dtype 0x08 = uint8
        raise DatasetNotFoundError(f"{path} is not a uint8 IDX file (corrupt?); replace it.")
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return torch.frombuffer(bytearray(data[4 + 4 * ndim :]), dtype=torch.uint8).reshape(shape)


def find_fashion_mnist(root: str | os.PathLike | None = None) -> Path:
    """The folder holding Fashion-MNIST's four IDX files (.gz or not)."""
    candidates = [Path(root), Path(root) / "FashionMNIST" / "raw"] if root else []
    candidates += [Path("data/FashionMNIST/raw"), FASHION_MNIST_DEBIAN_DIR]
    for folder in candidates:
        names = [n for pair in FASHION_MNIST_FILES.values() for n in pair]
        if all((folder / n).exists() or (folder / f"{n}.gz").exists() for n in names):
            return folder
    where = ", ".join(str(c) for c in candidates)
    raise DatasetNotFoundError(
        f"Fashion-MNIST not found (looked in {where}). On Debian/Ubuntu: "
        "`sudo apt-get install dataset-fashion-mnist`; or download it with "
        "torchvision.datasets.FashionMNIST('data', download=True); or pass root= a folder "
        "holding train-images-idx3-ubyte.gz and the three other files."
    )


def _load_fashion_split(folder: Path, split: str) -> tuple[torch.Tensor, torch.Tensor]:
    """-> images (N, 3, 32, 32) uint8 (28x28 zero-padded, grey copied to 3 channels), labels."""
    paths = []
    for name in FASHION_MNIST_FILES[split]:
        plain = folder / name
        paths.append(plain if plain.exists() else folder / f"{name}.gz")
    images, labels = (read_idx(p) for p in paths)
    images = torch.nn.functional.pad(images, (2, 2, 2, 2))[:, None].expand(-1, 3, -1, -1)
    return images.contiguous(), labels.long()


def fashion_mnist_loaders(
    root: str | os.PathLike | None = None,
    batch_size: int = 64,
    val_size: int = 1000,
    augment: str = "none",
    seed: int = 0,
    device: str | torch.device | None = None,
    fast: bool | None = None,
    subset: int | None = None,
    num_workers: int = 0,
):
    """(train_loader, val_loader, test_loader) for Fashion-MNIST as 3x32x32 images.

    A real dataset that works offline (Debian's dataset-fashion-mnist), with the same split
    and loaders as `cifar100_loaders`. augment: "none" or "basic".
    """
    if augment == "strong":
        raise ValueError("Fashion-MNIST takes augment='none' or 'basic' (no colour to jitter).")
    folder = find_fashion_mnist(root)
    train_images, train_labels = _load_fashion_split(folder, "train")
    test_images, test_labels = _load_fashion_split(folder, "test")
    return make_split_loaders(
        train_images,
        train_labels,
        test_images,
        test_labels,
        mean=FASHION_MNIST_MEAN,
        std=FASHION_MNIST_STD,
        classes=list(FASHION_MNIST_CLASSES),
        dataset_name="fashion_mnist",
        batch_size=batch_size,
        val_size=val_size,
        augment=augment,
        seed=seed,
        device=device,
        fast=fast,
        subset=subset,
        num_workers=num_workers,
    )
