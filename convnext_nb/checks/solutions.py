"""One solution per exercise, kept out of the notebooks until a student asks for it.

    show_solution("crop_flip")   # prints the code of `crop_flip` below

Each solution passes its checker (tests/test_checks.py runs them all).
"""

from __future__ import annotations

import inspect
import math

import torch
import torch.nn as nn
import torch.nn.functional as F


def crop_flip(x, generator, padding=4):
    """RandomCrop(H, padding) + RandomHorizontalFlip on a uint8 batch x: (N, C, H, W)."""
    n, c, h, w = x.shape
    padded = F.pad(x, (padding, padding, padding, padding))  # zeros: black pixels
    dy, dx = torch.randint(0, 2 * padding + 1, (2, n), generator=generator)
    flip = torch.rand(n, generator=generator) < 0.5
    out = torch.empty_like(x)
    for i in range(n):  # one offset per image
        out[i] = padded[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w]
    return torch.where(flip[:, None, None, None], out.flip(-1), out)  # flip along W


def train_step(model, optimizer, X, y):
    """One optimizer step on the batch (X, y); returns the loss."""
    model.train()
    optimizer.zero_grad()
    loss = F.cross_entropy(model(X), y)
    loss.backward()
    optimizer.step()
    return loss.item()


def report_optimizers(model):
    """The report's three optimizers, in plain torch.optim (lr 1e-3, PyTorch's defaults)."""
    params = list(model.parameters())
    sgd = torch.optim.SGD(params, lr=1e-3, momentum=0.9, nesterov=True)
    radam = torch.optim.RAdam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    adamw = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    return sgd, radam, adamw  # AdamW's weight_decay: PyTorch's default, 0.01


def stage_sizes(image_size, stem_stride):
    """The feature-map side of each of the 4 stages."""
    sizes = [image_size // stem_stride]  # the stem: kernel = stride, no padding
    for _ in range(3):  # three 2x2 stride-2 downsampling convs
        sizes.append(sizes[-1] // 2)
    return sizes


def dyt_channels_first(x, alpha, weight, bias):
    """DyT on x: (N, C, H, W); weight and bias (C,) broadcast along dim 1."""
    return weight[:, None, None] * torch.tanh(alpha * x) + bias[:, None, None]


def best_epoch(history):
    """(1-based epoch, val acc) of the highest validation accuracy; the first on a tie."""
    best = max(history.val_acc)
    return history.val_acc.index(best) + 1, best


def warmup_cosine(t, lr, warmup_steps, total_steps):
    """Learning rate of step t: linear warmup to lr, then cosine decay to 0."""
    if t < warmup_steps:
        return lr * (t + 1) / (warmup_steps + 1)
    progress = (t - warmup_steps) / (total_steps - warmup_steps)
    return lr * (1 + math.cos(math.pi * progress)) / 2


class GRN(nn.Module):
    """Global Response Normalization on x: (N, H, W, C)."""

    def __init__(self, dim):
        super().__init__()
        self.gamma = nn.Parameter(torch.zeros(1, 1, 1, dim))
        self.beta = nn.Parameter(torch.zeros(1, 1, 1, dim))

    def forward(self, x):
        gx = torch.norm(x, p=2, dim=(1, 2), keepdim=True)  # one L2 norm per channel
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)  # compared with the mean channel
        return self.gamma * (x * nx) + self.beta + x


class DyT(nn.Module):
    """Dynamic Tanh: weight * tanh(alpha * x) + bias."""

    def __init__(self, normalized_shape, channels_last=True, alpha_init_value=0.5):
        super().__init__()
        self.alpha = nn.Parameter(torch.ones(1) * alpha_init_value)
        self.weight = nn.Parameter(torch.ones(normalized_shape))
        self.bias = nn.Parameter(torch.zeros(normalized_shape))
        self.channels_last = channels_last

    def forward(self, x):
        x = torch.tanh(self.alpha * x)
        if self.channels_last:
            return x * self.weight + self.bias
        return x * self.weight[:, None, None] + self.bias[:, None, None]


class LayerNorm(nn.Module):
    """LayerNorm over the channels, for (N, H, W, C) or (N, C, H, W) input."""

    def __init__(self, normalized_shape, eps=1e-6, data_format="channels_last"):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(normalized_shape))
        self.bias = nn.Parameter(torch.zeros(normalized_shape))
        self.eps = eps
        self.data_format = data_format
        self.normalized_shape = (normalized_shape,)

    def forward(self, x):
        if self.data_format == "channels_last":
            return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        u = x.mean(1, keepdim=True)
        s = (x - u).pow(2).mean(1, keepdim=True)  # biased variance
        x = (x - u) / torch.sqrt(s + self.eps)
        return self.weight[:, None, None] * x + self.bias[:, None, None]


SOLUTIONS = {
    "crop_flip": crop_flip,
    "train_step": train_step,
    "report_optimizers": report_optimizers,
    "stage_sizes": stage_sizes,
    "dyt_channels_first": dyt_channels_first,
    "best_epoch": best_epoch,
    "warmup_cosine": warmup_cosine,
    "grn": GRN,
    "dyt": DyT,
    "layernorm": LayerNorm,
}


def show_solution(name: str) -> None:
    """Print the solution of exercise `name` (try your own first!)."""
    if name not in SOLUTIONS:
        raise ValueError(f"no exercise named {name!r}; choose one of: {', '.join(SOLUTIONS)}.")
    print(inspect.getsource(SOLUTIONS[name]))
