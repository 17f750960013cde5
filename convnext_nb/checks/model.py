"""Checkers for the model exercises: stage sizes for a stem (05), a functional DyT (06)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from ..layers import DynamicTanh
from .exercise import call, exercise
from .layers import _dyt_mistakes

Tensor = torch.Tensor

# --------------------------------------------------------------------------------------------
# Stage sizes (notebook 05)

STAGE_CASES = [(32, 4), (32, 2), (32, 1), (224, 4), (44, 4), (40, 2)]  # (image_size, stride)


def stage_sizes(image_size: int, stem_stride: int) -> list[int]:
    """Side of the feature map in each of the 4 stages: the stem (kernel = stride) floors
    image_size / stem_stride, then each of the 3 downsampling convs (2x2, stride 2) halves it,
    rounding down."""
    sizes = [image_size // stem_stride]
    for _ in range(3):
        sizes.append(sizes[-1] // 2)
    return sizes


def _stage_mistakes(n: int, s: int) -> list[tuple[str, list[float]]]:
    s0 = n // s
    return [  # the first that matches names the mistake
        ("you ignore stem_stride and divide by 4, the patchify stem's stride", stage_sizes(n, 4)),
        (
            "you forgot the stem: your stage 1 runs at the input size, but the stem first "
            f"divides it by its stride ({n} // {s} = {s0})",
            [n, n // 2, n // 4, n // 8],
        ),
        (
            "you halve four times: there are three downsampling layers, between the stages; "
            "stage 1 runs at the stem's output",
            [s0 // 2, s0 // 4, s0 // 8, s0 // 16],
        ),
        (
            "your sizes are fractions: a strided convolution gives whole pixels, rounding down "
            "(use //)",
            [s0, s0 / 2, s0 / 4, s0 / 8],
        ),
        (
            "you round up: a 2x2 stride-2 convolution without padding drops an odd last row, "
            "so it rounds down (use //)",
            [s0, -(-s0 // 2), -(-s0 // 4), -(-s0 // 8)],
        ),
    ]


@exercise("stage_sizes", "Your stage sizes match what the model computes.")
def check_stage_sizes(fn: Callable[[int, int], Any]) -> None:
    """Check stage_sizes(image_size, stem_stride) -> the 4 stages' feature-map sides.

    32 px with the paper's stride-4 stem gives 8, 4, 2, 1; with a stride-2 stem 16, 8, 4, 2.
    """
    for n, s in STAGE_CASES:
        got = call(fn, "stage_sizes", n, s)
        want = stage_sizes(n, s)
        if not isinstance(got, (list, tuple)) or len(got) != 4:
            raise AssertionError(
                f"your stage_sizes({n}, {s}) returned {got!r}; it should return the 4 stages' "
                f"sizes, a list like {want}."
            )
        got = [float(v) for v in got]
        if got == want:
            continue
        where = f"stage_sizes({n}, {s}) returns {got}, it should return {want}"
        for message, wrong in _stage_mistakes(n, s):
            if got == wrong:
                raise AssertionError(f"{message}: {where}.")
        raise AssertionError(f"{where}.")


# --------------------------------------------------------------------------------------------
# A functional, channels-first DyT (notebook 06)


@exercise("dyt_channels_first", "Your DyT matches the package's DynamicTanh on (N, C, H, W).")
def check_dyt_channels_first(fn: Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]) -> None:
    """Check dyt(x, alpha, weight, bias) on x: (N, C, H, W) against
    DynamicTanh(C, channels_last=False): weight * tanh(alpha * x) + bias, per channel."""
    gen = torch.Generator().manual_seed(3)
    for shape in [(2, 6, 4, 6), (2, 6, 5, 7)]:  # W == C first: a wrong broadcast still runs
        c = shape[1]
        x = 3 * torch.randn(shape, generator=gen)
        params = {
            "alpha": 0.5 + torch.rand(1, generator=gen),
            "weight": 1.0 + 0.5 * torch.randn(c, generator=gen),
            "bias": 0.5 * torch.randn(c, generator=gen),
        }
        reference = DynamicTanh(c, channels_last=False)
        with torch.no_grad():
            for name, value in params.items():
                getattr(reference, name).copy_(value)
            want = reference(x)
        got = call(fn, "dyt", x.clone(), *(v.clone() for v in params.values()))
        where = f"on an input of shape {shape}"
        if not isinstance(got, Tensor) or got.shape != want.shape:
            what = tuple(got.shape) if isinstance(got, Tensor) else type(got).__name__
            raise AssertionError(f"your dyt returned {what} {where}; expected shape {shape}.")
        if torch.allclose(got, want, rtol=1e-4, atol=1e-6):
            continue
        for message, wrong in _dyt_mistakes(channels_last=False):
            if torch.allclose(got, wrong(x, params), rtol=1e-4, atol=1e-6):
                raise AssertionError(f"{message} ({where}).".replace("your DyT", "your dyt"))
        diff = (got - want).abs().max().item()
        raise AssertionError(
            f"your dyt differs from DynamicTanh {where} by up to {diff:.2g}: it should return "
            "weight[:, None, None] * tanh(alpha * x) + bias[:, None, None]."
        )
