"""Checker for notebook 03's augmentation exercise: RandomCrop(32, padding=4) + flip, batched.

The student's crop_flip(x, generator) gets a uint8 batch x: (N, C, H, W) and returns the
augmented batch (N, C, H, W). Randomness differs from the package's `random_crop_flip`, so the
checker does not compare pixels with it: it finds, for every output image, the window of the
zero-padded input it was cut from (and whether it is mirrored), then checks those facts.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from .exercise import call, exercise

Tensor = torch.Tensor
PADDING = 4
# How an output image can be oriented: un-flip it with these dims, then look for its window.
ORIENTATIONS = {"none": (), "W": (-1,), "H": (-2,), "H and W": (-2, -1)}


def _windows(x: Tensor, padding: int) -> Tensor:
    """Every HxW window of x padded with -1: (N, C, K, K, H, W), K = 2 * padding + 1.

    Element [n, c, dy, dx, i, j] is padded pixel (dy + i, dx + j); -1 marks the padding.
    """
    h, w = x.shape[-2:]
    padded = F.pad(x.to(torch.int16), (padding,) * 4, value=-1)
    return padded.unfold(2, h, 1).unfold(3, w, 1)


def _locate(x: Tensor, out: Tensor, padding: int) -> list[tuple[str, int, int, bool] | None]:
    """For each image: (orientation, dy, dx, zero_padding) of the window it matches, or None.

    The central 8x8 patch of an output always comes from the image itself, so it finds the
    window; the window matches when every pixel that came from the image is equal, and
    zero_padding says whether the pixels that came from the padding are 0, as they should be.
    """
    win = _windows(x, padding)
    h, w = x.shape[-2:]
    rows, cols = slice(h // 2 - 4, h // 2 + 4), slice(w // 2 - 4, w // 2 + 4)
    found: list[tuple[str, int, int, bool] | None] = [None] * len(x)
    for name, dims in ORIENTATIONS.items():
        o = out.to(torch.int16).flip(dims) if dims else out.to(torch.int16)
        centre = (win[..., rows, cols] == o[:, :, None, None, rows, cols]).all(1)
        hits = centre.flatten(-2).all(-1)  # (N, K, K): windows whose centre matches
        for i, dy, dx in hits.nonzero().tolist():
            window = win[i, :, dy, dx]
            pad = window == -1
            if found[i] is None and torch.equal(window[~pad], o[i][~pad]):
                found[i] = (name, dy, dx, bool((o[i][pad] == 0).all()))
    return found


def _basic_checks(fn: Callable, x: Tensor, out: object) -> Tensor:
    n, c, h, w = x.shape
    if not isinstance(out, Tensor):
        raise AssertionError(f"your crop_flip returned {type(out).__name__}; return a tensor.")
    if out.ndim == 4 and out.shape[:2] == x.shape[:2] and out.shape[2] < h:
        raise AssertionError(
            f"your crop_flip returns images of shape {tuple(out.shape[1:])}, smaller than the "
            f"input's {(c, h, w)}: it cuts the window from the unpadded image. Pad first, "
            f"F.pad(x, ({PADDING},) * 4), then cut a {h}x{w} window from the padded image."
        )
    if out.shape != x.shape:
        raise AssertionError(
            f"your crop_flip returned shape {tuple(out.shape)}; it should return the input's "
            f"shape {tuple(x.shape)} (RandomCrop({h}, padding={PADDING}) keeps the size)."
        )
    if out.dtype != torch.uint8:
        raise AssertionError(
            f"your crop_flip returns {out.dtype}; it should return uint8, like its input: the "
            "loader crops raw pixels and normalises afterwards (F.pad keeps uint8)."
        )
    again = call(fn, "crop_flip", x.clone(), torch.Generator().manual_seed(1))
    torch.rand(1)  # moves the global RNG: a function that uses it now gives other crops
    if not torch.equal(call(fn, "crop_flip", x.clone(), torch.Generator().manual_seed(1)), again):
        raise AssertionError(
            "your crop_flip gives different results for two generators with the same seed: "
            "draw every random number from the generator you are given, e.g. "
            "torch.randint(..., generator=generator), torch.rand(..., generator=generator)."
        )
    return out


def _check_windows(found: list, n: int) -> tuple[list, list]:
    missing = [i for i, f in enumerate(found) if f is None]
    if missing:
        raise AssertionError(
            f"{len(missing)} of your {n} output images are not a window of the padded input "
            f"(image {missing[0]} is the first): each output should be an HxW window of the "
            f"image zero-padded by {PADDING} pixels on every side, mirrored left-right or not."
        )
    upside = [f[0] for f in found if f[0] in ("H", "H and W")]
    if upside:
        raise AssertionError(
            f"your crop_flip flips {len(upside)} images along H (upside down): a horizontal "
            "flip mirrors left-right, along the width W, the last dim: x.flip(-1) or "
            "torch.where(flip[:, None, None, None], x.flip(-1), x)."
        )
    if not all(f[3] for f in found):
        raise AssertionError(
            "your crop_flip does not pad with zeros: your border pixels hold other values "
            "(the mean? a reflection?), but RandomCrop pads with 0, black in the raw uint8 "
            f"pixels: F.pad(x, ({PADDING}, {PADDING}, {PADDING}, {PADDING}))."
        )
    offsets = [(f[1], f[2]) for f in found]
    flips = [f[0] == "W" for f in found]
    return offsets, flips


def _check_randomness(offsets: list[tuple[int, int]], flips: list[bool]) -> None:
    n, top = len(offsets), 2 * PADDING
    if len(set(offsets)) == 1:
        dy, dx = offsets[0]
        what = (
            "never crops (every window is the centred one)"
            if dy == dx == PADDING
            else (f"uses one offset (dy, dx) = ({dy}, {dx}) for the whole batch")
        )
        raise AssertionError(
            f"your crop_flip {what}; it should draw an offset per image: "
            f"torch.randint(0, {top + 1}, (2, N), generator=generator)."
        )
    seen = sorted({v for pair in offsets for v in pair})
    if seen[0] != 0 or seen[-1] != top:
        raise AssertionError(
            f"your crop offsets run from {seen[0]} to {seen[-1]} over {n} images; they should "
            f"run from 0 to {top} = 2 * padding, both ends included (torch.randint's high end "
            f"is excluded: torch.randint(0, {top + 1}, ...))."
        )
    share = sum(flips) / n
    if share in (0.0, 1.0):
        what = "none of" if share == 0 else "all"
        raise AssertionError(
            f"your crop_flip mirrors {what} the {n} images; it should mirror each image with "
            "probability 1/2, decided per image: torch.rand(N, generator=generator) < 0.5."
        )
    if not 0.3 < share < 0.7:
        raise AssertionError(
            f"your crop_flip mirrors {share:.0%} of the images; it should mirror about half "
            "(probability 1/2 per image)."
        )


@exercise("crop_flip", "Your crop + flip behaves like RandomCrop(32, padding=4) + flip.")
def check_crop_flip(fn: Callable[[Tensor, torch.Generator], Tensor]) -> None:
    """Check crop_flip(x, generator): x (N, C, H, W) uint8 -> (N, C, H, W) uint8.

    Checked: shape and dtype, same output for the same generator seed, every image a window
    of the input zero-padded by 4 (mirrored along W or not), offsets per image from 0 to 8,
    about half the images mirrored.
    """
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(1, 256, (256, 3, 32, 32), generator=gen, dtype=torch.uint8)  # no 0s
    original = x.clone()
    out = call(fn, "crop_flip", x, torch.Generator().manual_seed(1))
    if not torch.equal(x, original):
        raise AssertionError(
            "your crop_flip changes its input batch in place; return a new tensor and "
            "leave x as it was (the loader reuses its images every epoch)."
        )
    out = _basic_checks(fn, x, out)
    offsets, flips = _check_windows(_locate(x, out, PADDING), len(x))
    _check_randomness(offsets, flips)
