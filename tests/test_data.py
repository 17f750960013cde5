"""Data: CIFAR-100's on-disk format, the seed's split, both loader paths, offline failures."""

import json
import pickle
import shutil
import socket
import tarfile
import time
import urllib.request

import numpy as np
import pytest
import torch
from torchvision import datasets
from torchvision.datasets.utils import calculate_md5

import convnext_nb
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
KEYS = {"data", "fine_labels", "coarse_labels", "filenames", "batch_label"}


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    return write_fake_cifar100(tmp_path_factory.mktemp("cifar"), N_TRAIN, N_TEST, seed=0)


def use_md5s_of(folder, monkeypatch):
    """Make torchvision's CIFAR100 expect the md5s of the files in `folder` (this test only)."""
    md5 = {name: calculate_md5(folder / name) for name in ("train", "test", "meta")}
    monkeypatch.setattr(datasets.CIFAR100, "train_list", [["train", md5["train"]]])
    monkeypatch.setattr(datasets.CIFAR100, "test_list", [["test", md5["test"]]])
    meta = {"filename": "meta", "key": "fine_label_names", "md5": md5["meta"]}
    monkeypatch.setattr(datasets.CIFAR100, "meta", meta)


def test_package_exports_the_data_api():
    for name in ("cifar100_loaders", "fashion_mnist_loaders", "write_fake_cifar100"):
        assert name in convnext_nb.__all__ and callable(getattr(convnext_nb, name))
    assert issubclass(convnext_nb.DatasetNotFoundError, RuntimeError)
    assert len(convnext_nb.CIFAR100_SUPERCLASSES) == 20 and len(convnext_nb.CIFAR100_STD) == 3


def test_torchvision_cifar100_reads_the_fake_files(fake_root, monkeypatch):
    # torchvision's own class, unchanged but for the md5s of the files it expects.
    use_md5s_of(fake_root / "cifar-100-python", monkeypatch)
    train = datasets.CIFAR100(fake_root, train=True, download=False)
    test = datasets.CIFAR100(fake_root, train=False, download=False)
    assert train.data.shape == (N_TRAIN, 32, 32, 3) and train.data.dtype.name == "uint8"
    assert len(test) == N_TEST and train.classes == CIFAR100_CLASSES
    image, label = train[0]
    assert image.size == (32, 32) and 0 <= label < 100


def test_fake_files_are_in_the_original_format(fake_root):
    path = fake_root / "cifar-100-python" / "train"
    assert path.read_bytes()[:2] == b"\x80\x02"  # pickle protocol 2, like the originals
    with open(path, "rb") as f:  # torchvision's way
        entry = pickle.load(f, encoding="latin1")
    assert set(entry) == KEYS and entry["data"].shape == (N_TRAIN, 3072)
    assert entry["data"].dtype == np.uint8
    assert entry["coarse_labels"] == [CIFAR100_FINE_TO_COARSE[f] for f in entry["fine_labels"]]
    with open(path, "rb") as f:  # the CIFAR web page's way: Python 2 strings come back as bytes
        raw = pickle.load(f, encoding="bytes")
    assert set(raw) == {k.encode() for k in KEYS} and isinstance(raw[b"filenames"][0], bytes)
    np.testing.assert_array_equal(raw[b"data"], entry["data"])
    with open(fake_root / "cifar-100-python" / "meta", "rb") as f:
        meta = pickle.load(f, encoding="latin1")
    assert meta["coarse_label_names"] == CIFAR100_SUPERCLASSES
    assert meta["fine_label_names"] == CIFAR100_CLASSES and len(CIFAR100_CLASSES) == 100


def test_fake_rows_are_rgb_planes(fake_root, monkeypatch):
    # Row layout: 1024 red, then 1024 green, then 1024 blue values, each plane row-major.
    use_md5s_of(fake_root / "cifar-100-python", monkeypatch)
    train = datasets.CIFAR100(fake_root, train=True, download=False)  # (N, 32, 32, 3)
    with open(fake_root / "cifar-100-python" / "train", "rb") as f:
        row = pickle.load(f, encoding="latin1")["data"][7]
    np.testing.assert_array_equal(row.reshape(3, 32, 32).transpose(1, 2, 0), train.data[7])


def test_fake_writer_never_overwrites_real_files(tmp_path):
    (tmp_path / "cifar-100-python").mkdir()
    (tmp_path / "cifar-100-python" / "train").write_bytes(b"the real thing")
    with pytest.raises(ValueError, match="real CIFAR-100"):
        write_fake_cifar100(tmp_path, n_train=10, n_test=10)
    assert (tmp_path / "cifar-100-python" / "train").read_bytes() == b"the real thing"


def test_fake_classes_are_learnable(fake_root):
    # Nearest class mean on raw pixels: far above chance (0.01), so training can show learning.
    train, _, test = cifar100_loaders(fake_root, batch_size=1000, val_size=100)
    X, y = next(iter(train))
    means = torch.stack([X[y == c].mean(0) if (y == c).any() else X[0] * 0 for c in range(100)])
    Xt, yt = next(iter(test))
    pred = torch.cdist(Xt.flatten(1), means.flatten(1)).argmin(1)
    assert (pred == yt).float().mean() > 0.8


def test_split_sizes_and_disjointness():
    train_idx, val_idx = data.split_indices(50_000, 1000, seed=0)
    assert len(train_idx) == 49_000 and len(val_idx) == 1000
    assert len(set(train_idx.tolist()) | set(val_idx.tolist())) == 50_000
    again, _ = data.split_indices(50_000, 1000, seed=0)
    other, _ = data.split_indices(50_000, 1000, seed=1)
    assert torch.equal(train_idx, again) and not torch.equal(train_idx, other)
    small, _ = data.split_indices(50_000, 1000, seed=0, subset=500)
    assert torch.equal(small, train_idx[:500])


def test_loader_splits_hold_disjoint_images(fake_root):
    train, val, _ = cifar100_loaders(fake_root, batch_size=1000, val_size=100)
    (Xt, _), (Xv, _) = next(iter(train)), next(iter(val))
    assert len(Xt) + len(Xv) == N_TRAIN
    assert torch.cdist(Xv.flatten(1), Xt.flatten(1)).min() > 0  # no validation image in train


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
    small, _, _ = cifar100_loaders(fake_root, batch_size=32, val_size=100, fast=fast, subset=40)
    assert small.num_samples == 40 and len(small) == 1


def test_normalisation_uses_the_cifar_constants(fake_root):
    _, val, _ = cifar100_loaders(fake_root, batch_size=100, val_size=100)
    X, _ = next(iter(val))
    raw = val.images[:100].float() / 255
    mean = torch.tensor(CIFAR100_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(CIFAR100_STD).view(1, 3, 1, 1)
    torch.testing.assert_close(X, (raw - mean) / std)
    _, plain_val, _ = cifar100_loaders(fake_root, batch_size=100, val_size=100, fast=False)
    torch.testing.assert_close(next(iter(plain_val))[0], X)  # no augmentation: identical


def test_fast_and_plain_paths_give_the_same_kind_of_batches(fake_root):
    kw = dict(batch_size=50, val_size=100, augment="basic")
    fast, _, _ = cifar100_loaders(fake_root, **kw)
    plain, _, _ = cifar100_loaders(fake_root, fast=False, **kw)
    Xf, yf = (torch.cat(t) for t in zip(*fast, strict=True))
    Xp, yp = (torch.cat(t) for t in zip(*plain, strict=True))
    assert Xf.shape == Xp.shape == (500, 3, 32, 32)
    assert Xf.dtype == Xp.dtype == torch.float32 and yf.dtype == yp.dtype == torch.int64
    assert torch.equal(yf.bincount(minlength=100), yp.bincount(minlength=100))  # one epoch each
    assert abs(Xf.mean() - Xp.mean()) < 0.05 and abs(Xf.std() - Xp.std()) < 0.05
    torch.testing.assert_close(Xf.amin((0, 2, 3)), Xp.amin((0, 2, 3)))  # same range per channel
    torch.testing.assert_close(Xf.amax((0, 2, 3)), Xp.amax((0, 2, 3)))
    # Crop padding: zero pixels, normalised, appear in both (per channel, same value).
    padding = (-torch.tensor(CIFAR100_MEAN) / torch.tensor(CIFAR100_STD)).view(1, 3, 1, 1)
    assert (Xf == padding).float().mean() > 0.02 and (Xp == padding).float().mean() > 0.02


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


@pytest.mark.parametrize("fast", [True, False])
def test_augmentation_keeps_labels_and_changes_pixels(fake_root, fast):
    kw = dict(batch_size=50, val_size=100, fast=fast)
    plain, _, _ = cifar100_loaders(fake_root, augment="none", **kw)
    aug, val, _ = cifar100_loaders(fake_root, augment="basic", **kw)
    (X0, y0), (X1, y1) = next(iter(plain)), next(iter(aug))
    assert torch.equal(y0, y1)  # same seed: same order, same labels
    changed = (X0 != X1).flatten(1).any(1)
    assert changed.float().mean() > 0.8  # a crop offset of (0, 0) without a flip is rare
    X1_again, _ = next(iter(aug))
    assert torch.equal(X1, X1_again)  # no set_epoch: the same epoch again


def test_fast_path_leaves_the_thread_setting_alone(fake_root):
    train, _, _ = cifar100_loaders(fake_root, batch_size=50, val_size=100, augment="basic")
    threads = torch.get_num_threads()
    batches = iter(train)
    next(batches)  # suspended mid-epoch, as in a training step
    assert torch.get_num_threads() == threads
    assert sum(1 for _ in batches) == len(train) - 1 and torch.get_num_threads() == threads


@pytest.mark.parametrize(
    ("fast", "augment"), [(True, "basic"), (False, "basic"), (False, "strong")]
)
def test_set_epoch_is_a_pure_function_of_seed_and_epoch(fake_root, fast, augment):
    kw = dict(batch_size=50, val_size=100, augment=augment, fast=fast)
    train, _, _ = cifar100_loaders(fake_root, **kw)
    twin, _, _ = cifar100_loaders(fake_root, **kw)
    rng_state = torch.get_rng_state()
    train.set_epoch(3)
    first = next(iter(train))
    train.set_epoch(4)
    other = next(iter(train))
    twin.set_epoch(3)
    again = next(iter(twin))
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])
    assert not torch.equal(first[1], other[1])
    assert torch.equal(torch.get_rng_state(), rng_state)  # the global RNG was left alone


def test_plain_path_with_workers_gives_the_same_batches(fake_root):
    kw = dict(batch_size=100, val_size=100, augment="basic", fast=False, subset=200)
    in_process, _, _ = cifar100_loaders(fake_root, **kw)
    workers, _, _ = cifar100_loaders(fake_root, num_workers=2, **kw)
    for epoch in (0, 1):
        in_process.set_epoch(epoch)
        workers.set_epoch(epoch)
        for (Xa, ya), (Xb, yb) in zip(in_process, workers, strict=True):
            assert torch.equal(Xa, Xb) and torch.equal(ya, yb)


def test_strong_augmentation_gives_soft_targets(fake_root):
    train, val, _ = cifar100_loaders(fake_root, batch_size=32, val_size=100, augment="strong")
    X, y = next(iter(train))
    assert X.shape == (32, 3, 32, 32) and y.shape == (32, 100) and y.dtype == torch.float32
    torch.testing.assert_close(y.sum(dim=1), torch.ones(32))
    assert (y.amax(1) < 1).any()  # some targets are really mixed
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
    with pytest.raises(ValueError, match="batch_size"):
        cifar100_loaders(fake_root, val_size=100, batch_size=0)


# ----------------------------------------------------------------------------------------
# Downloads: never the real network here.


def no_network(*args, **kwargs):
    raise OSError("network is unreachable")


def test_offline_download_fails_fast_with_instructions(tmp_path, monkeypatch):
    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(urllib.request, "urlopen", no_network)
    start = time.perf_counter()
    with pytest.raises(DatasetNotFoundError) as err:
        cifar100_loaders(tmp_path / "data")
    assert time.perf_counter() - start < 2  # seconds, not a hang
    message = str(err.value)
    assert str((tmp_path / "data").resolve()) in message
    assert "cifar-100-python.tar.gz" in message and "cifar-100-python/" in message
    assert "archive=" in message and "url=" in message and "slow" in message
    assert not list(tmp_path.rglob("*.tar.gz*"))  # nothing half-written left


def test_a_stalled_connection_check_gives_up_in_time(monkeypatch):
    def stalled(*args, **kwargs):  # like a DNS lookup that never answers
        time.sleep(3)
        raise OSError("timed out")

    monkeypatch.setattr(socket, "create_connection", stalled)
    start = time.perf_counter()
    assert not data._host_reachable("https://www.cs.toronto.edu/x", timeout=0.5)
    assert time.perf_counter() - start < 2


def test_failed_download_leaves_no_partial_archive(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "_host_reachable", lambda url, timeout=3.0: True)
    for error in (OSError("connection reset"), KeyboardInterrupt()):

        def broken_download(url, root, filename, md5, error=error):
            (tmp_path / filename).write_bytes(b"half an archive")
            raise error

        monkeypatch.setattr(data, "download_url", broken_download)
        with pytest.raises((DatasetNotFoundError, KeyboardInterrupt)):
            cifar100_loaders(tmp_path)
        assert not list(tmp_path.glob("cifar-100-python.tar.gz*"))


@pytest.fixture
def fake_archive(tmp_path, fake_root, monkeypatch):
    """A tar.gz of the fake files, with the package and torchvision expecting its md5s."""
    archive = tmp_path / "mirror" / "cifar-100-python.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("train", "test", "meta"):
            tar.add(fake_root / "cifar-100-python" / name, arcname=f"cifar-100-python/{name}")
    use_md5s_of(fake_root / "cifar-100-python", monkeypatch)
    monkeypatch.setattr(data, "CIFAR100_MD5", calculate_md5(archive))
    return archive


def test_a_verified_local_archive_is_extracted_and_read(tmp_path, fake_archive):
    train, _, test = cifar100_loaders(tmp_path / "data", archive=fake_archive, val_size=100)
    assert train.dataset_name == "cifar100" and test.num_samples == N_TEST
    assert (tmp_path / "data" / "cifar-100-python" / "train").is_file()


def test_download_from_a_mirror_url_is_verified_then_renamed(tmp_path, fake_archive, monkeypatch):
    monkeypatch.setattr(data, "_host_reachable", lambda url, timeout=3.0: True)
    seen = {}

    def download(url, root, filename, md5):  # stands in for torchvision's download_url
        seen.update(url=url, filename=filename, md5=md5)
        shutil.copy(fake_archive, f"{root}/{filename}")

    monkeypatch.setattr(data, "download_url", download)
    root = tmp_path / "data"
    train, _, _ = cifar100_loaders(root, url="https://mirror.example/c100.tgz", val_size=100)
    assert seen["url"] == "https://mirror.example/c100.tgz" and seen["md5"] == data.CIFAR100_MD5
    assert seen["filename"].endswith(".part")  # never written under the final name
    assert sorted(p.name for p in root.iterdir()) == ["cifar-100-python", "cifar-100-python.tar.gz"]
    assert train.num_samples == N_TRAIN - 100


def test_corrupt_local_archive_is_rejected(tmp_path):
    archive = tmp_path / "cifar-100-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(__file__, arcname="cifar-100-python/train")
    with pytest.raises(DatasetNotFoundError, match="md5 mismatch"):
        cifar100_loaders(tmp_path)
    assert not (tmp_path / "cifar-100-python").exists()  # nothing extracted from it
    with pytest.raises(DatasetNotFoundError, match="no file at"):
        cifar100_loaders(tmp_path / "elsewhere", archive=tmp_path / "missing.tar.gz")


# ----------------------------------------------------------------------------------------
# Fashion-MNIST and the benchmark


def test_fashion_mnist_not_found_says_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setattr(data, "FASHION_MNIST_DEBIAN_DIR", tmp_path / "nothing")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DatasetNotFoundError, match="apt-get install dataset-fashion-mnist"):
        fashion_mnist_loaders(root=tmp_path)


@pytest.mark.skipif(
    not FASHION_MNIST_DEBIAN_DIR.exists(),
    reason=f"Debian's dataset-fashion-mnist is not installed (no {FASHION_MNIST_DEBIAN_DIR}); "
    "apt-get install dataset-fashion-mnist",
)
def test_fashion_mnist_from_debian():
    train, val, test = fashion_mnist_loaders(batch_size=256, val_size=1000, subset=2000)
    assert (train.num_samples, val.num_samples, test.num_samples) == (2000, 1000, 10_000)
    assert train.dataset_name == "fashion_mnist" and train.num_classes == 10
    X, y = next(iter(test))
    assert X.shape == (256, 3, 32, 32) and X.dtype == torch.float32 and y.max() < 10
    assert train.classes[0] == "T-shirt/top"
    assert torch.equal(X[:, 0], X[:, 1])  # grey copied to 3 channels
    assert torch.equal(X[:, :, :2], X[:, :, :2].amin().expand_as(X[:, :, :2]))  # 2-pixel pad
    assert -1 < X.mean() < 1 and 0.5 < X.std() < 1.5  # normalised


def test_data_benchmark_runs_in_its_tiny_configuration(tmp_path, capsys):
    from benchmarks.data_bench import main

    out = tmp_path / "data_bench.json"
    assert main(["--tiny", "--device", "cpu", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [row["contender"] for row in rows] == ["per-sample DataLoader", "in-memory batched"]
    assert all(row["value"] > 0 for row in rows) and rows[1]["ratio"] > 0
    assert "ratio" in capsys.readouterr().out
