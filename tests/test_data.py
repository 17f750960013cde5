"""Data: CIFAR-100's on-disk format, the seed's split, both loader paths, offline failures."""

import pickle
import socket
import tarfile
import time

import pytest
import torch
from torchvision import datasets
from torchvision.datasets.utils import calculate_md5

from convnext_nb import data
from convnext_nb.data import (
    CIFAR100_CLASSES,
    CIFAR100_FINE_TO_COARSE,
    CIFAR100_MEAN,
    CIFAR100_STD,
    CIFAR100_SUPERCLASSES,
    FASHION_MNIST_DEBIAN_DIR,
    DatasetNotFoundError,
    cifar100_loaders,
    fashion_mnist_loaders,
    random_crop_flip,
    write_fake_cifar100,
)

N_TRAIN, N_TEST = 600, 100


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    return write_fake_cifar100(tmp_path_factory.mktemp("cifar"), N_TRAIN, N_TEST, seed=0)


def test_torchvision_cifar100_reads_the_fake_files(fake_root, monkeypatch):
    # torchvision's own class, unchanged but for the md5 of the files it expects.
    folder = fake_root / "cifar-100-python"
    monkeypatch.setattr(
        datasets.CIFAR100, "train_list", [["train", calculate_md5(folder / "train")]]
    )
    monkeypatch.setattr(datasets.CIFAR100, "test_list", [["test", calculate_md5(folder / "test")]])
    monkeypatch.setattr(
        datasets.CIFAR100,
        "meta",
        {"filename": "meta", "key": "fine_label_names", "md5": calculate_md5(folder / "meta")},
    )
    train = datasets.CIFAR100(fake_root, train=True, download=False)
    test = datasets.CIFAR100(fake_root, train=False, download=False)
    assert train.data.shape == (N_TRAIN, 32, 32, 3) and train.data.dtype.name == "uint8"
    assert len(test) == N_TEST and train.classes == CIFAR100_CLASSES
    image, label = train[0]
    assert image.size == (32, 32) and 0 <= label < 100


def test_fake_files_have_the_original_keys(fake_root):
    with open(fake_root / "cifar-100-python" / "train", "rb") as f:
        entry = pickle.load(f, encoding="latin1")
    assert set(entry) == {"data", "fine_labels", "coarse_labels", "filenames", "batch_label"}
    assert entry["data"].shape == (N_TRAIN, 3072)
    assert entry["coarse_labels"] == [CIFAR100_FINE_TO_COARSE[f] for f in entry["fine_labels"]]
    with open(fake_root / "cifar-100-python" / "meta", "rb") as f:
        meta = pickle.load(f, encoding="latin1")
    assert meta["coarse_label_names"] == CIFAR100_SUPERCLASSES and len(CIFAR100_CLASSES) == 100


def test_split_sizes_and_disjointness():
    train_idx, val_idx = data.split_indices(50_000, 1000, seed=0)
    assert len(train_idx) == 49_000 and len(val_idx) == 1000
    assert len(set(train_idx.tolist()) | set(val_idx.tolist())) == 50_000
    again, _ = data.split_indices(50_000, 1000, seed=0)
    other, _ = data.split_indices(50_000, 1000, seed=1)
    assert torch.equal(train_idx, again) and not torch.equal(train_idx, other)
    small, _ = data.split_indices(50_000, 1000, seed=0, subset=500)
    assert torch.equal(small, train_idx[:500])


@pytest.mark.parametrize("fast", [True, False])
def test_loaders_shapes_and_attributes(fake_root, fast):
    train, val, test = cifar100_loaders(fake_root, batch_size=32, val_size=100, fast=fast)
    assert (train.num_samples, val.num_samples, test.num_samples) == (500, 100, 100)
    assert len(train) == 500 // 32  # train drops the last partial batch
    assert len(val) == 4 and len(test) == 4
    assert train.num_classes == 100 and train.classes == CIFAR100_CLASSES
    assert train.dataset_name == "fake_cifar100"
    X, y = next(iter(train))
    assert X.shape == (32, 3, 32, 32) and X.dtype == torch.float32 and y.dtype == torch.int64
    assert sum(len(y) for _, y in val) == 100


def test_normalisation_uses_the_cifar_constants(fake_root):
    _, val, _ = cifar100_loaders(fake_root, batch_size=100, val_size=100)
    X, _ = next(iter(val))
    raw = val.images[:100].float() / 255
    mean = torch.tensor(CIFAR100_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR100_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(X, (raw - mean) / std)


def test_fast_and_plain_paths_give_the_same_kind_of_batches(fake_root):
    fast, _, _ = cifar100_loaders(fake_root, batch_size=500, val_size=100, augment="basic")
    plain, _, _ = cifar100_loaders(
        fake_root, batch_size=500, val_size=100, augment="basic", fast=False
    )
    (Xf, yf), (Xp, yp) = next(iter(fast)), next(iter(plain))
    assert Xf.shape == Xp.shape and Xf.dtype == Xp.dtype and yf.dtype == yp.dtype
    assert torch.equal(yf.sort().values, yp.sort().values)  # one epoch: the same labels
    assert abs(Xf.mean() - Xp.mean()) < 0.05 and abs(Xf.std() - Xp.std()) < 0.05
    assert abs(Xf.min() - Xp.min()) < 1e-4 and abs(Xf.max() - Xp.max()) < 1e-4  # same range


def test_crop_flip_matches_torchvision_per_image():
    x = torch.randint(0, 256, (6, 3, 32, 32), dtype=torch.uint8)
    out = random_crop_flip(x, torch.Generator().manual_seed(0))
    padded = torch.nn.functional.pad(x, (4, 4, 4, 4))
    g2 = torch.Generator().manual_seed(0)
    dy, dx = torch.randint(0, 9, (2, 6, 1), generator=g2)
    flip = torch.rand(6, generator=g2) < 0.5
    for i in range(6):
        crop = padded[i, :, dy[i, 0] : dy[i, 0] + 32, dx[i, 0] : dx[i, 0] + 32]
        expected = crop.flip(2) if flip[i] else crop
        assert torch.equal(out[i], expected)


def test_augmentation_keeps_labels_and_changes_pixels(fake_root):
    plain, _, _ = cifar100_loaders(fake_root, batch_size=50, val_size=100, augment="none")
    aug, _, _ = cifar100_loaders(fake_root, batch_size=50, val_size=100, augment="basic")
    (X0, y0), (X1, y1) = next(iter(plain)), next(iter(aug))
    assert torch.equal(y0, y1)  # same seed: same order, same labels
    assert not torch.equal(X0, X1)


def test_set_epoch_makes_each_epoch_reproducible(fake_root):
    for fast in (True, False):
        train, _, _ = cifar100_loaders(
            fake_root, batch_size=50, val_size=100, augment="basic", fast=fast
        )
        torch.manual_seed(0)
        train.set_epoch(3)
        first = next(iter(train))
        train.set_epoch(4)
        other = next(iter(train))
        torch.manual_seed(0)
        train.set_epoch(3)
        again = next(iter(train))
        assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
        assert not torch.equal(first[1], other[1])


def test_strong_augmentation_gives_soft_targets(fake_root):
    train, val, _ = cifar100_loaders(fake_root, batch_size=32, val_size=100, augment="strong")
    X, y = next(iter(train))
    assert X.shape == (32, 3, 32, 32) and y.shape == (32, 100) and y.dtype == torch.float32
    torch.testing.assert_close(y.sum(dim=1), torch.ones(32))
    assert next(iter(val))[1].ndim == 1  # validation stays plain
    with pytest.raises(ValueError, match="plain path"):
        cifar100_loaders(fake_root, augment="strong", fast=True)


def test_bad_arguments(fake_root):
    with pytest.raises(ValueError, match="augment must be one of"):
        cifar100_loaders(fake_root, augment="heavy")
    with pytest.raises(ValueError, match="val_size"):
        cifar100_loaders(fake_root, val_size=N_TRAIN)
    with pytest.raises(ValueError, match="subset"):
        cifar100_loaders(fake_root, val_size=100, subset=10_000)


def no_network(*args, **kwargs):
    raise OSError("network is unreachable")


def test_offline_download_fails_fast_with_instructions(tmp_path, monkeypatch):
    monkeypatch.setattr(socket, "create_connection", no_network)
    start = time.perf_counter()
    with pytest.raises(DatasetNotFoundError) as err:
        cifar100_loaders(tmp_path / "data")
    assert time.perf_counter() - start < 5
    message = str(err.value)
    assert str((tmp_path / "data").resolve()) in message
    assert "cifar-100-python.tar.gz" in message and "archive=" in message and "url=" in message
    assert not list((tmp_path / "data").glob("*.tar.gz*"))  # nothing half-written left


def test_failed_download_leaves_no_partial_archive(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "_host_reachable", lambda url, timeout=5.0: True)

    def broken_download(url, root, filename, md5):
        (tmp_path / filename).write_bytes(b"half an archive")
        raise OSError("connection reset")

    monkeypatch.setattr(data, "download_url", broken_download)
    with pytest.raises(DatasetNotFoundError, match="download failed"):
        cifar100_loaders(tmp_path)
    assert not list(tmp_path.glob("cifar-100-python.tar.gz*"))


def test_corrupt_local_archive_is_rejected(tmp_path):
    archive = tmp_path / "cifar-100-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(__file__, arcname="cifar-100-python/train")
    with pytest.raises(DatasetNotFoundError, match="md5 mismatch"):
        cifar100_loaders(tmp_path)
    with pytest.raises(DatasetNotFoundError, match="no file at"):
        cifar100_loaders(tmp_path / "elsewhere", archive=tmp_path / "missing.tar.gz")


def test_fashion_mnist_not_found_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "FASHION_MNIST_DEBIAN_DIR", tmp_path / "nothing")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetNotFoundError, match="apt-get install dataset-fashion-mnist"):
        fashion_mnist_loaders(root=tmp_path)


@pytest.mark.skipif(
    not FASHION_MNIST_DEBIAN_DIR.exists(), reason="Debian's dataset-fashion-mnist is not installed"
)
def test_fashion_mnist_from_debian():
    train, val, test = fashion_mnist_loaders(batch_size=256, val_size=1000, subset=2000)
    assert (train.num_samples, val.num_samples, test.num_samples) == (2000, 1000, 10_000)
    X, y = next(iter(test))
    assert X.shape == (256, 3, 32, 32) and y.max() < 10 and train.classes[0] == "T-shirt/top"
    assert torch.equal(X[:, 0], X[:, 1])  # grey copied to 3 channels
    assert torch.equal(X[:, :, :2], X[:, :, :2].amin().expand_as(X[:, :, :2]))  # 2-pixel pad
