"""Data: Fashion-MNIST (IDX reader, finder, damaged files) and the subset shipped for quick mode.

Quick mode's data ships with the package, checksummed, so its outputs are the same on every
machine: with or without Debian's dataset-fashion-mnist, with or without a network.
"""

import functools
import hashlib
import shutil
import socket
import urllib.request

import pytest
import torch
from data_helpers import write_idx

from convnext_nb.data import (
    FASHION_MNIST_CLASSES,
    DatasetNotFoundError,
    fashion_mnist_loaders,
    make_loaders,
    quick_dataset,
    read_idx,
)
from convnext_nb.data import fashion_mnist as fm
from convnext_nb.data import fashion_mnist_small as small

# The batches are compared with CPU tensors: load them on the CPU, also on a GPU machine
# (the loaders' default device is the GPU).
fashion_mnist_loaders = functools.partial(fashion_mnist_loaders, device="cpu")
make_loaders = functools.partial(make_loaders, device="cpu")

needs_full = pytest.mark.skipif(
    not fm.FASHION_MNIST_DEBIAN_DIR.exists(),
    reason="needs the full Fashion-MNIST: install Debian's dataset-fashion-mnist "
    "(apt-get install dataset-fashion-mnist)",
)


@pytest.fixture
def nothing_installed(tmp_path, monkeypatch):
    """No Debian package, no data/ folder, no network: a fresh laptop on a train."""
    monkeypatch.setattr(fm, "FASHION_MNIST_DEBIAN_DIR", tmp_path / "no-debian-package")
    monkeypatch.chdir(tmp_path)

    def no_network(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    return tmp_path


@pytest.fixture
def idx_folder(tmp_path):
    """A small Fashion-MNIST folder (the shipped images) in the four IDX .gz files."""
    folder = tmp_path / "fashion"
    folder.mkdir()
    for split, (images, labels) in small.load_fashion_mnist_small().items():
        image_name, label_name = fm.FASHION_MNIST_FILES[split]
        write_idx(folder / f"{image_name}.gz", images[:, 0, 2:30, 2:30])
        write_idx(folder / f"{label_name}.gz", labels)
    return folder


# ----------------------------------------------------------------------------------------
# The shipped subset (issue 14)


def test_quick_mode_uses_the_shipped_subset_with_nothing_installed(nothing_installed):
    from convnext_nb import experiments

    assert quick_dataset() == experiments.quick_dataset() == "fashion_mnist_small"
    train, val, test = make_loaders(quick_dataset(), batch_size=32, subset=512, val_size=256)
    assert (train.num_samples, val.num_samples, test.num_samples) == (512, 256, 500)
    assert train.dataset_name == "fashion_mnist_small" and train.classes == FASHION_MNIST_CLASSES
    X, y = next(iter(train))
    assert X.shape == (32, 3, 32, 32) and X.dtype == torch.float32 and int(y.max()) < 10
    assert not list(nothing_installed.iterdir())  # nothing written, nothing downloaded


def test_the_shipped_subset_is_balanced_and_small():
    assert small.SMALL_FILE.stat().st_size < 1_000_000
    splits = small.load_fashion_mnist_small()
    for split, n in (("train", 1000), ("test", 500)):
        images, labels = splits[split]
        assert images.shape == (n, 3, 32, 32) and images.dtype == torch.uint8
        assert labels.bincount(minlength=10).tolist() == [n // 10] * 10
        assert images[:, :, 2:30, 2:30].float().std() > 50  # real pictures, not blank
    assert (small.SMALL_FILE.parent / "FASHION_MNIST_SMALL_LICENSE.txt").is_file()


def test_a_tampered_subset_is_rejected_by_its_checksum(tmp_path, monkeypatch):
    tampered = tmp_path / "fashion_mnist_small.npz"
    raw = bytearray(small.SMALL_FILE.read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    tampered.write_bytes(raw)
    monkeypatch.setattr(small, "SMALL_FILE", tampered)
    with pytest.raises(DatasetNotFoundError, match="sha256") as err:
        make_loaders("fashion_mnist_small", subset=512, val_size=256)
    assert str(tampered) in str(err.value)


@needs_full
def test_the_shipped_subset_is_the_real_data_and_the_script_remakes_it(tmp_path):
    import numpy as np

    from scripts.make_fashion_mnist_small import main

    with np.load(small.SMALL_FILE) as arrays:
        index = torch.from_numpy(arrays["test_index"]).long()
        shipped = torch.from_numpy(arrays["test_images"])
    folder = fm.FASHION_MNIST_DEBIAN_DIR
    assert torch.equal(read_idx(folder / "t10k-images-idx3-ubyte.gz")[index], shipped)
    out = tmp_path / "again.npz"
    assert main(["--out", str(out)]) == 0
    assert hashlib.sha256(out.read_bytes()).hexdigest() == small.SMALL_SHA256


# ----------------------------------------------------------------------------------------
# Finding the full dataset


def test_fashion_mnist_not_found_says_what_to_do(nothing_installed):
    with pytest.raises(DatasetNotFoundError, match="apt-get install dataset-fashion-mnist"):
        fashion_mnist_loaders(download=False)
    with pytest.raises(DatasetNotFoundError, match="cannot reach .*offline"):
        fashion_mnist_loaders()  # download=True, offline: fails at once, says so
    assert not list(nothing_installed.iterdir())


def test_a_root_that_does_not_exist_is_an_error_not_a_fallback(tmp_path):
    with pytest.raises(DatasetNotFoundError, match="does not exist"):
        fashion_mnist_loaders(root=tmp_path / "nonexistent")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetNotFoundError, match="not found"):
        fashion_mnist_loaders(root=tmp_path / "empty", download=False)


def test_a_given_root_in_torchvisions_layout_is_read(idx_folder, tmp_path):
    train, val, test = fashion_mnist_loaders(root=idx_folder, val_size=100, download=False)
    assert (train.num_samples, val.num_samples, test.num_samples) == (900, 100, 500)
    raw = tmp_path / "tv" / "FashionMNIST" / "raw"
    shutil.copytree(idx_folder, raw)
    assert fm.find_fashion_mnist(tmp_path / "tv") == raw


def test_the_idx_reader_and_the_package_agree(idx_folder):
    images = read_idx(idx_folder / "t10k-images-idx3-ubyte.gz")
    assert images.shape == (500, 28, 28) and images.dtype == torch.uint8
    shipped, labels = small.load_fashion_mnist_small()["test"]
    assert torch.equal(images, shipped[:, 0, 2:30, 2:30])
    _, _, test = fashion_mnist_loaders(root=idx_folder, val_size=100, download=False)
    assert torch.equal(torch.cat([y for _, y in test]), labels)


# ----------------------------------------------------------------------------------------
# Damaged files name themselves (issue 12, item 11)


def damage(path, how):
    raw = path.read_bytes()
    path.write_bytes(
        {"garbage": b"\x1f\x8bnot gzip at all", "truncated": raw[: len(raw) // 2]}[how]
    )


@pytest.mark.parametrize("how", ["garbage", "truncated"])
def test_a_damaged_gz_file_is_named(idx_folder, how):
    path = idx_folder / "train-images-idx3-ubyte.gz"
    damage(path, how)
    with pytest.raises(DatasetNotFoundError, match="replace it") as err:
        fashion_mnist_loaders(root=idx_folder, val_size=100, download=False)
    assert str(path) in str(err.value)


def test_a_truncated_idx_file_is_named(idx_folder):
    images = read_idx(idx_folder / "train-images-idx3-ubyte.gz")
    path = idx_folder / "train-images-idx3-ubyte.gz"
    write_idx(path, images[:10], header_shape=(1000, 28, 28))  # says 1000, holds 10
    with pytest.raises(DatasetNotFoundError, match="truncated") as err:
        fashion_mnist_loaders(root=idx_folder, val_size=100, download=False)
    assert str(path) in str(err.value)


def test_labels_out_of_range_are_rejected(idx_folder):
    path = idx_folder / "t10k-labels-idx1-ubyte.gz"
    labels = read_idx(path)
    labels[7] = 12
    write_idx(path, labels)
    with pytest.raises(DatasetNotFoundError, match="label 12 is out of range") as err:
        fashion_mnist_loaders(root=idx_folder, val_size=100, download=False)
    assert str(path) in str(err.value)


# ----------------------------------------------------------------------------------------
# The full dataset, when installed


@needs_full
def test_fashion_mnist_from_debian():
    train, val, test = fashion_mnist_loaders(batch_size=256, val_size=1000, subset=2000)
    assert (train.num_samples, val.num_samples, test.num_samples) == (2000, 1000, 10_000)
    assert train.dataset_name == "fashion_mnist" and train.num_classes == 10
    X, y = next(iter(test))
    assert X.shape == (1024, 3, 32, 32) and X.dtype == torch.float32 and y.max() < 10
    assert train.classes[0] == "T-shirt/top"
    assert torch.equal(X[:, 0], X[:, 1])  # grey copied to 3 channels
    assert torch.equal(X[:, :, :2], X[:, :, :2].amin().expand_as(X[:, :, :2]))  # 2-pixel pad
    assert -1 < X.mean() < 1 and 0.5 < X.std() < 1.5  # normalised
