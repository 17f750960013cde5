"""Fake CIFAR-100: files in CIFAR-100's exact on-disk format, for tests and offline demos.

`write_fake_cifar100` writes `<root>/cifar-100-python/{train,test,meta}` with plain `pickle`
(protocol 2, like the originals), so torchvision's CIFAR100 reads them as it reads the real
ones. The folder appears whole or not at all (written beside it, then renamed), and its FAKE
file records each file's sha256; `read_fake_cifar100` checks those before anything is
unpickled and refuses files another user could have planted. The default folder is in a
private per-user cache (`fake_cifar100_root`). This module must not download anything and
must never overwrite real CIFAR-100 files.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import shutil
import tempfile
from pathlib import Path

import numpy as np
from torchvision import datasets

from .download import DatasetNotFoundError
from .spec import CIFAR100_CLASSES, CIFAR100_FINE_TO_COARSE, CIFAR100_SUPERCLASSES

FOLDER = "cifar-100-python"  # what torchvision's CIFAR100 reads under its root
FILES = ("train", "test", "meta")
MARKER = "FAKE"  # JSON: who wrote the folder and the sha256 of each file
MAX_IMAGES = 60_000  # per split; more than CIFAR-100's 50,000 is never needed


def fake_cifar100_root(n_train: int) -> Path:
    """A private per-user folder for fake files: $XDG_CACHE_HOME (or ~/.cache)/convnext_nb/...

    Created readable by this user only (0o700), unlike a shared temporary folder where
    another user could plant a pickle first.
    """
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "convnext_nb"
    cache.mkdir(mode=0o700, parents=True, exist_ok=True)
    if cache.stat().st_uid == getattr(os, "getuid", lambda: None)():
        cache.chmod(0o700)  # ours: make sure it stays private, whatever the umask was
    _check_private(cache)
    return cache / f"fake_cifar100_{n_train}"


def _check_private(path: Path) -> None:
    """Refuse a file or folder that another user owns or may write (POSIX only)."""
    if not hasattr(os, "getuid"):
        return
    st = path.stat()
    if st.st_uid != os.getuid() or st.st_mode & 0o022:
        raise DatasetNotFoundError(
            f"{path} is owned by another user or writable by others: refusing to use it for "
            "fake CIFAR-100 files (a planted pickle would run code). Delete it, or pass a "
            "folder of your own."
        )


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def is_fake_cifar100(root: str | os.PathLike) -> bool:
    """Does `<root>/cifar-100-python/` hold fake files (whole, damaged or half-written)?"""
    folder = Path(root) / FOLDER
    return folder.is_dir() and ((folder / MARKER).exists() or _is_leftover(folder))


def _is_leftover(folder: Path) -> bool:
    """A folder an interrupted old-version writer left: only empty files or fake pickles.

    Real CIFAR-100 files never qualify: their file names inside are not fake_train_...
    """
    names = {p.name for p in folder.iterdir()}
    if not names or not names <= set(FILES):
        return False
    for name in names & {"train", "test"}:
        with open(folder / name, "rb") as f:
            head = f.read(256)
        if head and f"fake_{name}_".encode() not in head:
            return False
    return "train" in names or names == {"test"}


def check_fake_cifar100(root: str | os.PathLike) -> Path:
    """Check the fake files against the sha256s recorded when they were written; -> folder.

    Raises DatasetNotFoundError naming the file that does not match (nothing is unpickled).
    """
    folder = Path(root) / FOLDER
    rewrite = f"Call write_fake_cifar100({str(root)!r}) to write it again."
    try:
        record = json.loads((folder / MARKER).read_text())["sha256"]
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise DatasetNotFoundError(
            f"{folder} holds half-written or old-format fake CIFAR-100 files (no valid "
            f"{MARKER} record). {rewrite}"
        ) from err
    _check_private(folder)
    for name in FILES:
        path = folder / name
        if not path.is_file() or _sha256(path) != record.get(name):
            raise DatasetNotFoundError(
                f"{path} does not match the sha256 recorded when it was written (changed, "
                f"damaged or missing): it will not be unpickled. {rewrite}"
            )
        _check_private(path)
    return folder


class _FakeCIFAR100(datasets.CIFAR100):
    """torchvision's CIFAR100 reader, unchanged, for files from `write_fake_cifar100`.

    torchvision checks each file with `check_integrity(path, md5)` against the official md5s
    in `train_list`, `test_list` and `meta`; with md5 None that check only asks that the file
    exists (the sha256s were checked just before). Parsing is torchvision's own code.
    """

    train_list = [["train", None]]
    test_list = [["test", None]]
    meta = {"filename": "meta", "key": "fine_label_names", "md5": None}


def read_fake_cifar100(root: str | os.PathLike, train: bool) -> datasets.CIFAR100:
    """torchvision's CIFAR100 dataset over checked fake files (see `check_fake_cifar100`)."""
    check_fake_cifar100(root)
    return _FakeCIFAR100(root, train=train, download=False)


def _fake_split(rng, templates: np.ndarray, split: str, n: int) -> dict:
    """One split's dict, with the keys, dtypes and layout of the real CIFAR-100 pickles."""
    fine = rng.integers(0, 100, size=n)
    noise = rng.integers(-64, 65, size=(n, 3, 32, 32), dtype=np.int16)  # int16: fast, small
    images = (templates[fine] + noise).clip(0, 255).astype(np.uint8)
    return {
        "filenames": [f"fake_{split}_{i}.png" for i in range(n)],
        "batch_label": f"{split}ing batch 1 of 1",
        "fine_labels": fine.tolist(),
        "coarse_labels": [CIFAR100_FINE_TO_COARSE[f] for f in fine],
        "data": images.reshape(n, 3072),  # rows of R, G and B planes of 32x32
    }


def _write_files(folder: Path, n_train: int, n_test: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    # One random 4x4 colour grid per class, blown up to 32x32 (8x8 blocks).
    templates = rng.integers(0, 256, size=(100, 3, 4, 4), dtype=np.int16)
    templates = templates.repeat(8, axis=2).repeat(8, axis=3)  # (100, 3, 32, 32)
    contents = {
        "train": _fake_split(rng, templates, "train", n_train),
        "test": _fake_split(rng, templates, "test", n_test),
        "meta": {"fine_label_names": CIFAR100_CLASSES, "coarse_label_names": CIFAR100_SUPERCLASSES},
    }
    for name, obj in contents.items():
        with open(folder / name, "wb") as f:
            pickle.dump(obj, f, protocol=2)
        (folder / name).chmod(0o600)  # not group-writable, whatever the umask
    record = {"written_by": "convnext_nb.write_fake_cifar100", "n_train": n_train,
              "n_test": n_test, "seed": seed,
              "sha256": {name: _sha256(folder / name) for name in FILES}}  # fmt: skip
    (folder / MARKER).write_text(json.dumps(record, indent=1) + "\n")


def write_fake_cifar100(
    root: str | os.PathLike, n_train: int = 500, n_test: int = 100, seed: int = 0
) -> Path:
    """Write `<root>/cifar-100-python/{train,test,meta}` in CIFAR-100's exact on-disk format.

    Protocol-2 pickles of dicts with the real keys: data (N, 3072) uint8, rows of R, G and B
    planes of 32x32; fine_labels, coarse_labels, filenames, batch_label; meta with
    fine_label_names and coarse_label_names. Each class is a blocky colour pattern plus
    noise, so a model learns them within a few hundred steps. The files are written into a
    temporary folder beside the target and renamed into place, so an interruption leaves
    nothing half-made; an earlier fake folder (whole or half-written) is replaced, real
    CIFAR-100 files never are. Returns root.
    """
    for split, n in (("train", n_train), ("test", n_test)):
        if not 1 <= n <= MAX_IMAGES:
            raise ValueError(f"n_{split} must be between 1 and {MAX_IMAGES:,}, got {n}.")
    root = Path(root)
    folder = root / FOLDER
    if folder.exists() and not is_fake_cifar100(root):
        raise ValueError(
            f"{folder} holds real CIFAR-100 files (or files this writer did not make); "
            "write the fake ones into another folder."
        )
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{FOLDER}.", dir=root))  # 0o700, a unique name
    try:
        _write_files(tmp, n_train, n_test, seed)
        if folder.exists():  # an earlier fake: move it aside, then swap the new one in
            old = Path(tempfile.mkdtemp(prefix=f".{FOLDER}.old.", dir=root))
            os.replace(folder, old / FOLDER)
            shutil.rmtree(old)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # only left when interrupted before the rename
    return root
