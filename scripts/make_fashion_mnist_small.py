"""Regenerate convnext_nb/data/fashion_mnist_small.npz from the full Fashion-MNIST.

    python scripts/make_fashion_mnist_small.py                  # from Debian's folder
    python scripts/make_fashion_mnist_small.py --root data/FashionMNIST/raw

Takes the first 100 training and the first 50 test images of each class (in file order:
1,000 + 500 uint8 images, balanced), writes them as one compressed .npz with fixed zip
timestamps (the same input gives the same bytes) and prints the sha256 to record as
`SMALL_SHA256` in convnext_nb/data/fashion_mnist_small.py.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import zipfile
from pathlib import Path

import numpy as np

from convnext_nb.data.fashion_mnist import FASHION_MNIST_DEBIAN_DIR, find_fashion_mnist, read_idx
from convnext_nb.data.fashion_mnist_small import SMALL_FILE

PER_CLASS = {"train": 100, "test": 50}
FILES = {"train": "train-{}-idx{}-ubyte", "test": "t10k-{}-idx{}-ubyte"}


def first_per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices (sorted) of the first `per_class` examples of each class."""
    picked = [np.flatnonzero(labels == c)[:per_class] for c in range(10)]
    return np.sort(np.concatenate(picked))


def subset_arrays(folder: Path) -> dict[str, np.ndarray]:
    arrays = {}
    for split, per_class in PER_CLASS.items():
        images, labels = (
            read_idx(next(folder.glob(FILES[split].format(kind, dim) + "*"))).numpy()
            for kind, dim in (("images", 3), ("labels", 1))
        )
        index = first_per_class(labels, per_class)
        arrays[f"{split}_images"], arrays[f"{split}_labels"] = images[index], labels[index]
        arrays[f"{split}_index"] = index.astype(np.int32)  # where each came from
    return arrays


def write_npz(arrays: dict[str, np.ndarray], path: Path) -> bytes:
    """np.savez_compressed's format, but with fixed timestamps: reproducible bytes."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, array in arrays.items():
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w") as f:
                np.lib.format.write_array(f, np.ascontiguousarray(array), allow_pickle=False)
    path.write_bytes(buffer.getvalue())
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=FASHION_MNIST_DEBIAN_DIR)
    parser.add_argument("--out", type=Path, default=SMALL_FILE)
    args = parser.parse_args(argv)
    data = write_npz(subset_arrays(find_fashion_mnist(args.root)), args.out)
    print(f"wrote {args.out} ({len(data):,} bytes), sha256 {hashlib.sha256(data).hexdigest()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
