"""Data: CIFAR-100 on disk (md5-checked, downloads, offline failures) and its fake files.

The fake files are CIFAR-100's exact on-disk format, read by torchvision's own CIFAR100; they
appear whole or not at all, live in a private per-user folder, and are checked against the
sha256s recorded when they were written before anything is unpickled.
"""

import functools
import io
import os
import pickle
import socket
import tarfile
import time
import urllib.request

import numpy as np
import pytest
import torch
from data_helpers import use_md5s_of
from torchvision import datasets
from torchvision.datasets.utils import calculate_md5

from convnext_nb import data
from convnext_nb.data import (
    CIFAR100_CLASSES,
    CIFAR100_FINE_TO_COARSE,
    CIFAR100_SUPERCLASSES,
    DatasetNotFoundError,
    cifar100_loaders,
    fakes,
    make_loaders,
    write_fake_cifar100,
)
from convnext_nb.data import cifar100 as cifar_module
from convnext_nb.data import download as download_module

# The batches are compared with CPU tensors: load them on the CPU, also on a GPU machine
# (the loaders' default device is the GPU).
cifar100_loaders = functools.partial(cifar100_loaders, device="cpu")
make_loaders = functools.partial(make_loaders, device="cpu")

N_TRAIN, N_TEST = 600, 100
KEYS = {"data", "fine_labels", "coarse_labels", "filenames", "batch_label"}


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    return write_fake_cifar100(tmp_path_factory.mktemp("cifar"), N_TRAIN, N_TEST, seed=0)


def test_torchvision_cifar100_reads_the_fake_files(fake_root, monkeypatch):
    # torchvision's own class, unchanged but for the md5s of the files it expects.
    use_md5s_of(fake_root / "cifar-100-python", monkeypatch)
    train = datasets.CIFAR100(fake_root, train=True, download=False)
    test = datasets.CIFAR100(fake_root, train=False, download=False)
    assert train.data.shape == (N_TRAIN, 32, 32, 3) and train.data.dtype.name == "uint8"
    assert len(test) == N_TEST and train.classes == CIFAR100_CLASSES
    assert all(isinstance(t, int) and 0 <= t < 100 for t in train.targets)
    image, label = train[0]
    assert image.size == (32, 32) and 0 <= label < 100


def test_fake_files_are_plain_pickles_in_the_original_layout(fake_root):
    path = fake_root / "cifar-100-python" / "train"
    assert path.read_bytes()[:2] == b"\x80\x02"  # pickle protocol 2, like the originals
    with open(path, "rb") as f:  # torchvision's way
        entry = pickle.load(f, encoding="latin1")
    assert set(entry) == KEYS and entry["data"].shape == (N_TRAIN, 3072)
    assert entry["data"].dtype == np.uint8 and entry["data"].flags.c_contiguous
    assert entry["coarse_labels"] == [CIFAR100_FINE_TO_COARSE[f] for f in entry["fine_labels"]]
    assert isinstance(entry["filenames"][0], str) and isinstance(entry["batch_label"], str)
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


# ----------------------------------------------------------------------------------------
# Fake files: whole or nothing, private, checked before unpickling (issue 12, items 4, 5, 7)


def test_an_interrupted_fake_write_leaves_nothing(tmp_path, monkeypatch):
    calls = []

    def interrupted_dump(obj, f, protocol):
        calls.append(1)
        f.write(b"\x80\x02half")
        if len(calls) == 2:
            raise KeyboardInterrupt  # Ctrl-C while the second file is written

    monkeypatch.setattr(fakes.pickle, "dump", interrupted_dump)
    with pytest.raises(KeyboardInterrupt):
        write_fake_cifar100(tmp_path, n_train=20, n_test=10)
    assert list(tmp_path.iterdir()) == []  # no partial folder, no temporary one
    monkeypatch.undo()
    write_fake_cifar100(tmp_path, n_train=20, n_test=10)
    train, _, _ = cifar100_loaders(tmp_path, val_size=5, download=False)
    assert train.num_samples == 15


def test_a_half_written_folder_of_an_old_version_is_recognised_and_replaced(tmp_path):
    # What the old writer left on Ctrl-C: a truncated train pickle, no test/meta, no marker.
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    entry = {"filenames": [f"fake_train_{i}.png" for i in range(50)], "data": b"x" * 9000}
    (folder / "train").write_bytes(pickle.dumps(entry, protocol=2)[:5000])
    with pytest.raises(DatasetNotFoundError, match="half-written") as err:
        cifar100_loaders(tmp_path, download=False)
    assert "write_fake_cifar100" in str(err.value) and "download=False" not in str(err.value)
    write_fake_cifar100(tmp_path, n_train=20, n_test=10)  # replaces it
    assert sorted(p.name for p in folder.iterdir()) == ["FAKE", "meta", "test", "train"]
    assert cifar100_loaders(tmp_path, val_size=5, download=False)[0].num_samples == 15


def test_rewriting_a_fake_folder_replaces_it_whole(tmp_path):
    write_fake_cifar100(tmp_path, n_train=20, n_test=10)
    write_fake_cifar100(tmp_path, n_train=30, n_test=10, seed=1)
    assert [p.name for p in tmp_path.iterdir()] == ["cifar-100-python"]
    assert cifar100_loaders(tmp_path, val_size=5, download=False)[0].num_samples == 25


def test_too_large_a_subset_is_refused_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(ValueError, match="subset must be between 1 and 49,000"):
        make_loaders("fake_cifar100", subset=10**6)
    with pytest.raises(ValueError, match="subset must be between 1 and 49,000"):
        make_loaders("fake_cifar100", subset=10**6, data_root=tmp_path / "mine")
    assert not (tmp_path / "mine").exists() and not list(tmp_path.rglob("*"))
    with pytest.raises(ValueError, match="n_train must be between 1 and 60,000"):
        write_fake_cifar100(tmp_path / "mine", n_train=10**6)
    assert not (tmp_path / "mine").exists()


def test_fake_files_live_in_a_private_per_user_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    train, _, _ = make_loaders("fake_cifar100", subset=40, val_size=20, batch_size=8)
    assert train.dataset_name == "fake_cifar100" and train.num_samples == 40
    cache = tmp_path / "cache" / "convnext_nb"
    folder = cache / "fake_cifar100_60" / "cifar-100-python"
    assert (folder / "FAKE").is_file()
    if os.name == "posix":
        assert cache.stat().st_mode & 0o777 == 0o700
        assert folder.stat().st_mode & 0o777 == 0o700
        assert (folder / "train").stat().st_mode & 0o077 == 0


class Planted:
    """Unpickling this creates a file: the proof that a pickle ran code."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_planted_pickle_is_refused_not_loaded(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    make_loaders("fake_cifar100", subset=40, val_size=20)
    folder = tmp_path / "cache" / "convnext_nb" / "fake_cifar100_60" / "cifar-100-python"
    marker = tmp_path / "code_ran"
    (folder / "train").write_bytes(pickle.dumps(Planted(marker), protocol=2))
    with pytest.raises(DatasetNotFoundError, match="sha256") as err:
        cifar100_loaders(folder.parent, download=False)
    assert str(folder / "train") in str(err.value)
    assert not marker.exists()
    train, _, _ = make_loaders("fake_cifar100", subset=40, val_size=20)  # rewrites, never loads
    assert not marker.exists() and train.num_samples == 40


@pytest.mark.skipif(os.name != "posix", reason="file permissions are POSIX")
def test_fake_files_others_may_write_are_refused(tmp_path):
    root = write_fake_cifar100(tmp_path, n_train=20, n_test=10)
    (root / "cifar-100-python" / "test").chmod(0o666)
    with pytest.raises(DatasetNotFoundError, match="writable by others"):
        cifar100_loaders(root, download=False)


# ----------------------------------------------------------------------------------------
# Real CIFAR-100: md5s, downloads (never the real network here)


def no_network(*args, **kwargs):
    raise OSError("network is unreachable")


def test_a_folder_with_one_damaged_file_says_which(tmp_path, monkeypatch):
    folder = tmp_path / "cifar-100-python"
    folder.mkdir()
    for name in ("train", "test", "meta"):
        (folder / name).write_bytes(f"real {name} bytes".encode())
    monkeypatch.setattr(
        datasets.CIFAR100, "train_list", [["train", calculate_md5(folder / "train")]]
    )
    with pytest.raises(DatasetNotFoundError, match="failed its md5 check") as err:
        cifar100_loaders(tmp_path, download=False)
    assert str(folder.resolve() / "test") in str(err.value)
    assert "/train" not in str(err.value).split("failed")[0][-40:]


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
    assert not data.download.host_reachable("https://www.cs.toronto.edu/x", timeout=0.5)
    assert time.perf_counter() - start < 2


class Response(io.BytesIO):
    """What urlopen returns, for `fetch`: a body, headers, a context manager."""

    def __init__(self, body: bytes, fail_after: BaseException | None = None):
        super().__init__(body)
        self.headers = {"Content-Length": str(len(body))}
        self.fail_after = fail_after

    def read(self, size=-1):
        chunk = super().read(size)
        if not chunk and self.fail_after is not None:
            raise self.fail_after
        return chunk


def test_fetch_leaves_no_partial_file_and_keeps_global_socket_state(tmp_path, monkeypatch):
    seen = []

    def urlopen(url, timeout):
        seen.append(timeout)
        return Response(b"half an archive", fail_after=error)

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    for error in (OSError("connection reset"), KeyboardInterrupt()):
        with pytest.raises(type(error)):
            download_module.fetch("https://x/a.tgz", tmp_path / "a.tgz", md5="0" * 32, timeout=7)
        assert list(tmp_path.iterdir()) == []
    error = None
    with pytest.raises(OSError, match="md5"):
        download_module.fetch("https://x/a.tgz", tmp_path / "a.tgz", md5="0" * 32)
    assert list(tmp_path.iterdir()) == [] and socket.getdefaulttimeout() is None
    assert seen == [7, 7, 30.0]  # a timeout per connection, not a global one


@pytest.fixture
def fake_archive(tmp_path, fake_root, monkeypatch):
    """A tar.gz of the fake files, with the package and torchvision expecting its md5s."""
    archive = tmp_path / "mirror" / "cifar-100-python.tar.gz"
    archive.parent.mkdir()
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("train", "test", "meta"):
            tar.add(fake_root / "cifar-100-python" / name, arcname=f"cifar-100-python/{name}")
    use_md5s_of(fake_root / "cifar-100-python", monkeypatch)
    monkeypatch.setattr(cifar_module, "CIFAR100_MD5", calculate_md5(archive))
    return archive


def test_a_verified_local_archive_is_extracted_and_read(tmp_path, fake_archive):
    train, _, test = cifar100_loaders(tmp_path / "data", archive=fake_archive, val_size=100)
    assert train.dataset_name == "cifar100" and test.num_samples == N_TEST
    assert (tmp_path / "data" / "cifar-100-python" / "train").is_file()


def test_download_from_a_mirror_url_is_verified_then_renamed(tmp_path, fake_archive, monkeypatch):
    monkeypatch.setattr(cifar_module, "host_reachable", lambda url, timeout=3.0: True)
    seen = []

    def urlopen(url, timeout):  # stands in for the network
        seen.append(url)
        return Response(fake_archive.read_bytes())

    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    root = tmp_path / "data"
    train, _, _ = cifar100_loaders(root, url="https://mirror.example/c100.tgz", val_size=100)
    assert seen == ["https://mirror.example/c100.tgz"]
    assert sorted(p.name for p in root.iterdir()) == ["cifar-100-python", "cifar-100-python.tar.gz"]
    assert train.num_samples == N_TRAIN - 100


def test_a_download_with_the_wrong_md5_is_not_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(cifar_module, "host_reachable", lambda url, timeout=3.0: True)
    monkeypatch.setattr(urllib.request, "urlopen", lambda url, timeout: Response(b"not it"))
    with pytest.raises(DatasetNotFoundError, match="download failed.*md5"):
        cifar100_loaders(tmp_path, url="https://mirror.example/c100.tgz")
    assert list(tmp_path.iterdir()) == []


def test_corrupt_local_archive_is_rejected(tmp_path):
    archive = tmp_path / "cifar-100-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(__file__, arcname="cifar-100-python/train")
    with pytest.raises(DatasetNotFoundError, match="md5 mismatch"):
        cifar100_loaders(tmp_path)
    assert not (tmp_path / "cifar-100-python").exists()  # nothing extracted from it
    with pytest.raises(DatasetNotFoundError, match="no file at"):
        cifar100_loaders(tmp_path / "elsewhere", archive=tmp_path / "missing.tar.gz")


def test_data_benchmark_runs_in_its_tiny_configuration(tmp_path, capsys):
    import json

    from benchmarks.data_bench import main

    out = tmp_path / "data_bench.json"
    assert main(["--tiny", "--device", "cpu", "--out", str(out)]) == 0
    rows = json.loads(out.read_text())["rows"]
    assert [row["contender"] for row in rows] == ["per-sample DataLoader", "in-memory batched"]
    assert all(row["value"] > 0 for row in rows) and rows[1]["ratio"] > 0
    assert "ratio" in capsys.readouterr().out
