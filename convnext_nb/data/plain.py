"""The classic path: torch's DataLoader with per-sample `transforms.v2`, and Mixup/CutMix.

`PlainLoader` is the only path with the "strong" recipe (TrivialAugment, RandomErasing,
Mixup/CutMix). Each epoch's order and every random transform are a pure function of
(seed, epoch), with any `num_workers`; the global torch RNG is never drawn from.
This module must not read files or know about any particular dataset.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import DataLoader, Dataset, Sampler
from torchvision.transforms import v2

from ..utils import get_device
from .memory import epoch_generator
from .spec import DatasetInfo, LoaderOptions


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
        generator = epoch_generator(self.seed, self.epoch)
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
    """DataLoader over per-sample transforms, yielding (X, y) like `TensorLoader`.

    train=True: shuffled, augmented as `options.augment` says, last partial batch dropped; on
    "strong", Mixup/CutMix make y (B, num_classes) soft targets. train=False: in order, never
    augmented, `options.eval_batch_size` images a batch.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        info: DatasetInfo,
        options: LoaderOptions,
        train: bool = False,
    ):
        augment = options.augment if train else "none"
        self.batch_size = options.batch_size if train else options.eval_batch_size
        self.dataset = ImageDataset(images, labels, sample_transform(augment, info.mean, info.std))
        self.sampler = EpochSampler(len(labels), train, options.seed, augment != "none")
        self.loader = DataLoader(
            self.dataset,
            batch_size=self.batch_size,
            sampler=self.sampler,
            drop_last=train and len(labels) > self.batch_size,
            num_workers=options.num_workers,
            pin_memory=get_device(options.device).type == "cuda",
            persistent_workers=options.num_workers > 0,
            generator=torch.Generator(),  # its own base seed: the global RNG is left alone
        )
        self.batch_transform = None
        if augment == "strong":  # mixes pairs of images; labels become (N, C) soft targets
            mix = [
                v2.MixUp(alpha=0.8, num_classes=len(info.classes)),
                v2.CutMix(alpha=1.0, num_classes=len(info.classes)),
            ]
            self.batch_transform = v2.RandomChoice(mix)
        self.seed, self.epoch = options.seed, 0
        self.classes, self.num_classes = info.classes, len(info.classes)
        self.dataset_name, self.num_samples = info.name, len(labels)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self.sampler.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        # Mixup/CutMix draw from the global RNG: give each batch its own seed, in a forked RNG.
        batch_seeds = epoch_generator(self.seed, self.epoch, stream=1)
        for x, y in self.loader:
            if self.batch_transform is not None:
                with torch.random.fork_rng(devices=[]):
                    torch.manual_seed(int(torch.randint(0, 2**62, (), generator=batch_seeds)))
                    x, y = self.batch_transform(x, y)
            yield x, y
