"""The fast path: batches cut from one in-memory uint8 tensor, augmented on the device.

`TensorLoader` holds a whole split on the training device; shuffling, random crop and flip are
done on whole batches with tensor ops. Each epoch's order and augmentation are a pure function
of (seed, epoch) (`epoch_generator`), never of the global torch RNG.
This module must not read files or know about any particular dataset.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch

from ..utils import epoch_seed, get_device
from .spec import DatasetInfo, LoaderOptions


def epoch_generator(seed: int, epoch: int, stream: int = 0) -> torch.Generator:
    """A fresh CPU generator for (seed, epoch); `stream` gives independent ones for other uses."""
    return torch.Generator().manual_seed(epoch_seed(seed, epoch, stream))


def crop_flip_draws(n: int, generator: torch.Generator, padding: int = 4) -> torch.Tensor:
    """The random numbers of `random_crop_flip` for n images: (3, n) int64, rows dy, dx, flip.

    dy, dx: the crop's offsets in [0, 2 * padding]; flip: 1 for a mirrored image (p = 1/2).
    """
    offsets = torch.randint(0, 2 * padding + 1, (2, n), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    return torch.cat([offsets, flip[None].long()])


def random_crop_flip(
    x: torch.Tensor,
    generator: torch.Generator | None = None,
    padding: int = 4,
    *,
    draws: torch.Tensor | None = None,
) -> torch.Tensor:
    """RandomCrop(H, padding) + RandomHorizontalFlip for a whole batch at once.

    x: (N, C, H, W) uint8 -> (N, C, H, W): each image is zero-padded by `padding` pixels, cut
    at its own random offset, and mirrored with probability 1/2 (as torchvision does per image).
    One gather does crop and flip: output pixel (i, j) of image n reads padded pixel
    (dy[n] + i, dx[n] + j), with j reversed for flipped images.
    draws: the (3, N) numbers from `crop_flip_draws`, when drawn ahead (the loader draws a
    whole epoch's at once, so a GPU never waits for a copy from the CPU); else from `generator`.
    """
    n, c, h, w = x.shape
    if draws is None:
        draws = crop_flip_draws(n, generator, padding)
    dy, dx, flip = draws.to(x.device)[:, :, None]  # each (N, 1)
    padded = torch.nn.functional.pad(x, (padding,) * 4).flatten(2)  # (N, C, (H + 2p)(W + 2p))
    rows = dy + torch.arange(h, device=x.device)  # (N, H): the rows each image keeps
    cols = dx + torch.arange(w, device=x.device)  # (N, W)
    cols = torch.where(flip.bool(), cols.flip(1), cols)  # a flip reads the columns backwards
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
    """Batches of one in-memory split, yielding (X, y): X (B, 3, H, W) float32 normalised.

    images: (N, 3, H, W) uint8; labels: (N,) int64. train=True: shuffled, augmented as
    `options.augment` says ("none" or "basic": crop + flip), last partial batch dropped;
    train=False: in order, never augmented, `options.eval_batch_size` images a batch.
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        info: DatasetInfo,
        options: LoaderOptions,
        train: bool = False,
    ):
        self.augment = options.augment if train else "none"
        if self.augment not in ("none", "basic"):
            raise ValueError(f"the fast path does augment='none' or 'basic', got {self.augment!r}.")
        self.device = get_device(options.device)
        self.images = images.to(self.device)
        self.labels = labels.to(self.device)
        self.mean = torch.tensor(info.mean, device=self.device).view(1, -1, 1, 1) * 255
        self.std = torch.tensor(info.std, device=self.device).view(1, -1, 1, 1) * 255
        self.batch_size = options.batch_size if train else options.eval_batch_size
        self.shuffle, self.seed, self.epoch = train, options.seed, 0
        self.drop_last = train and len(labels) > self.batch_size
        # On a GPU, 64 batches are cut, augmented and normalised at once: a few large kernels
        # instead of about 15 small ones per step. Each launch costs the host tens of
        # microseconds, and the host is what limits a CUDA-graph step of a small model. On
        # the CPU one batch at a time stays in cache.
        self.batches_per_chunk = 1 if self.device.type == "cpu" else 64
        self.classes, self.num_classes = info.classes, len(info.classes)
        self.dataset_name, self.num_samples = info.name, len(labels)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        if self.drop_last:
            return self.num_samples // self.batch_size
        return -(-self.num_samples // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        generator = epoch_generator(self.seed, self.epoch)
        if self.shuffle:
            order = torch.randperm(self.num_samples, generator=generator).to(self.device)
        else:
            order = torch.arange(self.num_samples, device=self.device)
        starts = range(0, len(self) * self.batch_size, self.batch_size)
        sizes = [min(self.batch_size, self.num_samples - start) for start in starts]
        draws = None
        if self.augment == "basic":  # the epoch's crops and flips: one copy to the device
            draws = torch.cat([crop_flip_draws(n, generator) for n in sizes], 1).to(self.device)
        all_batches = list(zip(starts, sizes, strict=True))  # (first image, images)
        for first in range(0, len(all_batches), self.batches_per_chunk):
            batches = all_batches[first : first + self.batches_per_chunk]
            begin, end = batches[0][0], batches[-1][0] + batches[-1][1]
            x = self._prepare(order[begin:end], None if draws is None else draws[:, begin:end])
            y = self.labels[order[begin:end]]
            for start, n in batches:
                yield x[start - begin : start - begin + n], y[start - begin : start - begin + n]

    def _prepare(self, idx: torch.Tensor, draws: torch.Tensor | None) -> torch.Tensor:
        """Images `idx`, cropped and flipped as `draws` say (if given), normalised:
        (len(idx), 3, H, W) float32."""
        with _one_thread_on_cpu(self.device):
            x = self.images[idx]
            if draws is not None:
                x = random_crop_flip(x, draws=draws)
            return x.float().sub_(self.mean).div_(self.std)
