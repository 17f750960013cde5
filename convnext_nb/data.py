"""CIFAR-100 and Fashion-MNIST, split and loaded the way the seed report does it.

The seed's protocol: the 50,000 training images are split into a training set and a
`val_size`-image validation set (disjoint, seeded); the test split is kept for the final report.

Two ways to serve batches, both yielding (X, y) with X float32 (N, 3, 32, 32), normalised:

- `TensorLoader` (the fast path, the default): the whole split lives in one uint8 tensor on the
  training device; shuffling, random crop and flip are done on whole batches with tensor ops.
- `PlainLoader`: torch's DataLoader with per-sample `transforms.v2` (the classic pipeline;
  also the only one with the "strong" recipe: TrivialAugment, RandomErasing, Mixup/CutMix).

Each epoch's order and augmentation are a pure function of (seed, epoch): `train` calls
`loader.set_epoch(epoch)`, so a resumed run sees exactly what an uninterrupted one would.
"""

from __future__ import annotations

import gzip
import os
import pickle
import socket
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, RandomSampler
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


def _epoch_generator(seed: int, epoch: int) -> torch.Generator:
    return torch.Generator().manual_seed(_epoch_seed(seed, epoch))


def random_crop_flip(x: torch.Tensor, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """RandomCrop(H, padding) + RandomHorizontalFlip for a whole batch at once.

    x: (N, C, H, W) uint8 -> (N, C, H, W): each image is zero-padded by `padding` pixels, cut
    at its own random offset, and mirrored with probability 1/2 (as torchvision does per image).
    """
    n, c, h, w = x.shape
    dy, dx = torch.randint(0, 2 * padding + 1, (2, n, 1), generator=generator).to(x.device)
    flip = torch.rand(n, generator=generator).to(x.device) < 0.5
    padded = torch.nn.functional.pad(x, (padding,) * 4)  # (N, C, H + 2p, W + 2p)
    rows = dy + torch.arange(h, device=x.device)  # (N, H): the rows each image keeps
    cols = dx + torch.arange(w, device=x.device)  # (N, W)
    cols = torch.where(flip[:, None], cols.flip(1), cols)  # a flip reads the columns backwards
    x = padded.gather(2, rows[:, None, :, None].expand(n, c, h, w + 2 * padding))
    return x.gather(3, cols[:, None, None, :].expand(n, c, h, w))


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
            x = self.images[idx]
            if self.augment == "basic":
                x = random_crop_flip(x, generator)
            yield (x.float() - self.mean) / self.std, self.labels[idx]


class ImageDataset(Dataset):
    """(N, 3, H, W) uint8 images and (N,) labels, with a per-sample transform."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform):
        self.images, self.labels, self.transform = images, labels, transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.transform(v2.functional.to_image(self.images[i])), self.labels[i]


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
        self.generator = _epoch_generator(seed, 0)
        sampler = RandomSampler(self.dataset, generator=self.generator) if shuffle else None
        on_cuda = get_device(device).type == "cuda"
        self.loader = DataLoader(
            self.dataset,
            batch_size=batch_size,
            sampler=sampler,
            drop_last=drop_last,
            num_workers=num_workers,
            pin_memory=on_cuda,
            persistent_workers=num_workers > 0,
        )
        self.batch_transform = None
        if augment == "strong":  # mixes pairs of images; labels become (N, C) soft targets
            mix = [
                v2.MixUp(alpha=0.8, num_classes=len(classes)),
                v2.CutMix(alpha=1.0, num_classes=len(classes)),
            ]
            self.batch_transform = v2.RandomChoice(mix)
        self.seed, self.batch_size = seed, batch_size
        self.classes, self.num_classes = classes, len(classes)
        self.dataset_name, self.num_samples = dataset_name, len(labels)

    def set_epoch(self, epoch: int) -> None:
        self.generator.manual_seed(_epoch_seed(self.seed, epoch))

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for x, y in self.loader:
            if self.batch_transform is not None:
                x, y = self.batch_transform(x, y)
            yield x, y


def split_indices(n: int, val_size: int, seed: int, subset: int | None = None):
    """The seed's split: a seeded permutation; `val_size` for validation, the rest to train.

    subset: keep only this many training indices (quick mode). Returns (train_idx, val_idx).
    """
    if not 0 < val_size < n:
        raise ValueError(f"val_size must be between 1 and {n - 1}, got {val_size}.")
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
    """torchvision's CIFAR100 reader for files from `write_fake_cifar100`: no md5 to match."""

    train_list = [["train", None]]
    test_list = [["test", None]]
    meta = {"filename": "meta", "key": "fine_label_names", "md5": None}


def _host_reachable(url: str, timeout: float = 5.0) -> bool:
    parts = urllib.parse.urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
        return True
    except OSError:
        return False


def _missing_cifar_message(root: Path, why: str) -> str:
    return (
        f"CIFAR-100 is not in {root.resolve()} ({why}). Either:\n"
        f"  - put {CIFAR100_ARCHIVE} (md5 {CIFAR100_MD5}, from {CIFAR100_URL}) into "
        f"{root.resolve()}/, or pass archive='path/to/{CIFAR100_ARCHIVE}';\n"
        f"  - or put the extracted cifar-100-python/ folder (train, test, meta) there;\n"
        "  - or, with internet, call again with download=True; the official host is slow at "
        "times: url='...' takes a mirror of the same archive (checked with the same md5)."
    )


def ensure_cifar100(
    root: str | os.PathLike,
    download: bool = True,
    url: str | None = None,
    archive: str | os.PathLike | None = None,
) -> Path:
    """Make sure `<root>/cifar-100-python/` holds CIFAR-100; fetch or extract it if needed.

    Order: already extracted -> a local `archive` -> `<root>/cifar-100-python.tar.gz` ->
    download from `url` (default: the official host). Every archive is md5-checked before it
    is extracted; a download goes to a `.part` file, renamed only once it checks out.
    """
    root = Path(root)
    if _cifar_ok(root):
        return root
    local = Path(archive) if archive is not None else root / CIFAR100_ARCHIVE
    if local.exists():
        if not check_integrity(str(local), CIFAR100_MD5):
            raise DatasetNotFoundError(
                _missing_cifar_message(root, f"{local} is corrupt or incomplete: md5 mismatch")
            )
        extract_archive(str(local), str(root))
        return root
    if archive is not None:
        raise DatasetNotFoundError(_missing_cifar_message(root, f"no file at {archive}"))
    if not download:
        raise DatasetNotFoundError(_missing_cifar_message(root, "download=False"))
    url = url or CIFAR100_URL
    if not _host_reachable(url):
        raise DatasetNotFoundError(_missing_cifar_message(root, f"cannot reach {url}: offline?"))
    print(
        f"Downloading CIFAR-100 (161 MB) from {url}. The official host is slow at times; "
        "pass url= for a mirror, or archive= for a file you already have."
    )
    part = root / (CIFAR100_ARCHIVE + ".part")
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(30)  # a stalled connection fails instead of hanging
    try:
        download_url(url, str(root), filename=part.name, md5=CIFAR100_MD5)
    except Exception as err:
        part.unlink(missing_ok=True)
        raise DatasetNotFoundError(_missing_cifar_message(root, f"download failed: {err}")) from err
    finally:
        socket.setdefaulttimeout(previous)
    os.replace(part, root / CIFAR100_ARCHIVE)
    extract_archive(str(root / CIFAR100_ARCHIVE), str(root))
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

    root: folder holding (or receiving) cifar-100-python/. augment: "none" (the seed),
    "basic" (random crop with 4-pixel padding + horizontal flip), "strong" (basic +
    TrivialAugment + RandomErasing + Mixup/CutMix soft targets; plain path). fast: None picks
    the in-memory path whenever it can. subset: keep only this many training images.
    Files written by `write_fake_cifar100` are read through the same torchvision code.
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


def write_fake_cifar100(
    root: str | os.PathLike, n_train: int = 500, n_test: int = 100, seed: int = 0
) -> Path:
    """Write `<root>/cifar-100-python/{train,test,meta}` in CIFAR-100's exact on-disk format.

    Pickles (protocol 2) of dicts with the original keys: data (N, 3072) uint8, rows of
    R, G and B planes; fine_labels, coarse_labels, filenames, batch_label; meta with
    fine_label_names and coarse_label_names. Each class gets its own colour blob plus noise,
    so a model can learn them. A FAKE marker file tells `cifar100_loaders` what it reads.
    """
    folder = Path(root) / "cifar-100-python"
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    templates = rng.integers(0, 256, size=(100, 3, 4, 4)).repeat(8, axis=2).repeat(8, axis=3)
    for split, n in (("train", n_train), ("test", n_test)):
        fine = rng.integers(0, 100, size=n)
        noise = rng.normal(0, 40, size=(n, 3, 32, 32))
        images = np.clip(templates[fine] + noise, 0, 255).astype(np.uint8)
        entry = {
            "filenames": [f"fake_{split}_{i}.png" for i in range(n)],
            "batch_label": f"fake {split} batch",
            "fine_labels": fine.tolist(),
            "coarse_labels": [CIFAR100_FINE_TO_COARSE[f] for f in fine],
            "data": images.reshape(n, 3072),
        }
        with open(folder / split, "wb") as f:
            pickle.dump(entry, f, protocol=2)
    meta = {"fine_label_names": CIFAR100_CLASSES, "coarse_label_names": CIFAR100_SUPERCLASSES}
    with open(folder / "meta", "wb") as f:
        pickle.dump(meta, f, protocol=2)
    (folder / "FAKE").write_text("written by convnext_nb.write_fake_cifar100\n")
    return Path(root)


# ----------------------------------------------------------------------------------------
# Fashion-MNIST on disk


def read_idx(path: Path) -> torch.Tensor:
    """An IDX file (MNIST's format; .gz or not) as a uint8 tensor of its stated shape."""
    with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
        data = f.read()
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
