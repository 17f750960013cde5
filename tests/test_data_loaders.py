"""Data: the seed's split, both loader paths (fast in-memory, plain DataLoader), determinism.

The batches for a given (seed, epoch) must stay exactly those of the code that trained the
course's reference runs: the last tests compare with that code, read from git.
"""

import functools

import pytest
import torch
from data_helpers import old_data_module

import convnext_nb
from convnext_nb import data
from convnext_nb.data import (
    CIFAR100_CLASSES,
    CIFAR100_MEAN,
    CIFAR100_STD,
    cifar100_loaders,
    random_crop_flip,
    write_fake_cifar100,
)
from convnext_nb.data.fashion_mnist_small import load_fashion_mnist_small

# The batches are compared with CPU tensors: load them on the CPU, also on a GPU machine
# (the loaders' default device is the GPU).
cifar100_loaders = functools.partial(cifar100_loaders, device="cpu")

N_TRAIN, N_TEST = 600, 100


@pytest.fixture(scope="module")
def fake_root(tmp_path_factory):
    return write_fake_cifar100(tmp_path_factory.mktemp("cifar"), N_TRAIN, N_TEST, seed=0)


def test_package_exports_the_data_api():
    for name in ("cifar100_loaders", "fashion_mnist_loaders", "write_fake_cifar100"):
        assert name in convnext_nb.__all__ and callable(getattr(convnext_nb, name))
    assert issubclass(convnext_nb.DatasetNotFoundError, RuntimeError)
    assert len(convnext_nb.CIFAR100_SUPERCLASSES) == 20 and len(convnext_nb.CIFAR100_STD) == 3


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
    assert len(val) == 1 and len(test) == 1  # evaluation batches: 4x, at least 256
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


def test_evaluation_batches_are_larger_and_keep_every_image(fake_root):
    train, val, test = cifar100_loaders(fake_root, batch_size=100, val_size=100)
    assert [len(y) for _, y in train] == [100] * 5
    assert [len(y) for _, y in test] == [100]  # one batch of up to 400: all 100 test images
    big, _, big_test = cifar100_loaders(fake_root, batch_size=16, val_size=100, subset=40)
    assert len(big) == 40 // 16 and big_test.batch_size == 256  # at least 256
    Xa = torch.cat([X for X, _ in test])
    Xb = torch.cat([X for X, _ in big_test])
    assert torch.equal(Xa, Xb)  # the same images in the same order, whatever the batch


# ----------------------------------------------------------------------------------------
# The same batches as the code that trained the reference runs (seed 0)


def shipped_tensors():
    splits = load_fashion_mnist_small()
    return (*splits["train"], *splits["test"])


def old_and_new_loaders(old, fast, augment, **kw):
    images, labels, test_images, test_labels = shipped_tensors()
    info = data.DatasetInfo("fashion_mnist", list(data.FASHION_MNIST_CLASSES),
                            data.FASHION_MNIST_MEAN, data.FASHION_MNIST_STD)  # fmt: skip
    options = data.LoaderOptions(augment=augment, fast=fast, device="cpu", **kw)
    new = data.make_split_loaders((images, labels), (test_images, test_labels), info, options)
    before = old.make_split_loaders(
        images, labels, test_images, test_labels, mean=info.mean, std=info.std,
        classes=info.classes, dataset_name=info.name, augment=augment, fast=fast,
        device="cpu", **{"subset": None, **kw},
    )  # fmt: skip
    return before, new


@pytest.mark.parametrize(
    ("fast", "augment"), [(True, "none"), (True, "basic"), (False, "basic"), (False, "strong")]
)
def test_batches_are_those_of_the_reference_runs_code(fast, augment):
    old = old_data_module()
    for n in (60_000, 1000):
        before, after = old.split_indices(n, 256, 0, 500), data.split_indices(n, 256, 0, 500)
        assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))
    (old_train, old_val, _), (train, val, _) = old_and_new_loaders(
        old, fast, augment, batch_size=64, val_size=256, seed=0, subset=500
    )
    for epoch in (0, 3):
        old_train.set_epoch(epoch)
        train.set_epoch(epoch)
        batches = 0
        for (Xa, ya), (Xb, yb) in zip(old_train, train, strict=True):
            assert torch.equal(Xa, Xb) and torch.equal(ya, yb)
            batches += 1
        assert batches == 500 // 64
    old_X = torch.cat([X for X, _ in old_val])
    assert torch.equal(old_X, torch.cat([X for X, _ in val]))  # other batch size, same images


@pytest.mark.skipif(
    not data.FASHION_MNIST_DEBIAN_DIR.exists(),
    reason="needs the full Fashion-MNIST: install Debian's dataset-fashion-mnist",
)
def test_reference_run_batches_on_the_full_fashion_mnist():
    # The reference runs: Fashion-MNIST, subset 5000, val_size 1000, seed 0, augment basic.
    old = old_data_module()
    kw = dict(batch_size=128, val_size=1000, seed=0, subset=5000, augment="basic", device="cpu")
    old_train, _, _ = old.fashion_mnist_loaders(**kw)
    train, _, _ = data.fashion_mnist_loaders(**kw, download=False)
    for epoch in (0, 7):
        old_train.set_epoch(epoch)
        train.set_epoch(epoch)
        (Xa, ya), (Xb, yb) = next(iter(old_train)), next(iter(train))
        assert torch.equal(Xa, Xb) and torch.equal(ya, yb)


@pytest.mark.parametrize("augment", ["none", "basic"])
def test_gpu_chunks_give_the_batches_of_one_at_a_time(fake_root, augment):
    """On a GPU the fast path prepares 64 batches at once; the batches are the same."""
    one, _, _ = cifar100_loaders(fake_root, augment=augment, batch_size=30, val_size=100)
    chunked, val, _ = cifar100_loaders(fake_root, augment=augment, batch_size=30, val_size=100)
    chunked.batches_per_chunk = val.batches_per_chunk = 4  # what CUDA does, here on the CPU
    assert one.batches_per_chunk == 1
    for epoch in (0, 2):
        one.set_epoch(epoch)
        chunked.set_epoch(epoch)
        pairs = list(zip(one, chunked, strict=True))
        assert len(pairs) == len(one) > 4
        assert all(torch.equal(a, c) and torch.equal(y, z) for (a, y), (c, z) in pairs)
    assert sum(len(y) for _, y in val) == 100
