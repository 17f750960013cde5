"""ConvNeXt V2, readable top to bottom: the block, the stems, the model, the variant table.

Follows the official code (facebookresearch/ConvNeXt-V2) and its parameter names; the
`norm="dyt"` switch swaps every LayerNorm for Dynamic Tanh (the seed report's ConvNeXtV2n),
and the `stem` switch adds stems made for 32x32 CIFAR images.

Data flow for a (N, 3, 32, 32) batch with the paper's patchify stem:

    stem 4x4/4      -> (N, d0, 8, 8)   -> stage 1 blocks
    downsample 2x2  -> (N, d1, 4, 4)   -> stage 2 blocks
    downsample 2x2  -> (N, d2, 2, 2)   -> stage 3 blocks
    downsample 2x2  -> (N, d3, 1, 1)   -> stage 4 blocks   (7x7 depthwise conv on a 1x1 map!)
    global average pool -> norm -> Linear -> (N, num_classes)
"""

from __future__ import annotations

import warnings
from typing import Literal

import torch
import torch.nn as nn
from timm.layers import DropPath, trunc_normal_

from .layers import GRN, NormKind, make_norm

StemKind = Literal["patchify", "cifar", "cifar_s2"]


class Block(nn.Module):
    """ConvNeXt V2 block: x + drop_path(pwconv2(GRN(GELU(pwconv1(norm(dwconv(x))))))).

    x: (N, C, H, W) -> (N, C, H, W). The 1x1 convolutions are `nn.Linear` layers applied to
    the channels-last view, as in the official code.
    """

    def __init__(self, dim: int, drop_path: float = 0.0, norm: NormKind = "ln"):
        super().__init__()
        self.dwconv = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)  # depthwise
        self.norm = make_norm(norm, dim, "channels_last")
        self.pwconv1 = nn.Linear(dim, 4 * dim)  # inverted bottleneck: expand 4x
        self.act = nn.GELU()
        self.grn = GRN(4 * dim)
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        x = self.dwconv(x)
        x = x.permute(0, 2, 3, 1)  # NCHW -> NHWC for LayerNorm, Linear and GRN
        x = self.norm(x)
        x = self.pwconv1(x)
        x = self.act(x)
        x = self.grn(x)
        x = self.pwconv2(x)
        x = x.permute(0, 3, 1, 2)  # NHWC -> NCHW
        return shortcut + self.drop_path(x)


STEM_STRIDES: dict[str, int] = {"patchify": 4, "cifar": 1, "cifar_s2": 2}


def make_stem(kind: StemKind, in_chans: int, dim: int, norm: NormKind) -> nn.Sequential:
    """The first layer: turns (N, in_chans, H, W) into (N, dim, H / s, W / s).

    Compute at 32x32 input, relative to "patchify" (stage maps 8/4/2/1):
    - "patchify": 4x4 conv, stride 4 (the paper's, made for 224x224 ImageNet). 1x cost.
    - "cifar_s2": 3x3 conv, stride 2, padding 1. Stage maps 16/8/4/2; about 4x the MACs.
    - "cifar":    3x3 conv, stride 1, padding 1. Stage maps 32/16/8/4, the usual CIFAR
      choice (ResNet-18 and ConvNeXt CIFAR recipes keep 32x32 in stage 1); about 16x the MACs.
    """
    if kind not in STEM_STRIDES:
        raise ValueError(f"stem must be one of {sorted(STEM_STRIDES)}, got {kind!r}.")
    stride = STEM_STRIDES[kind]
    if kind == "patchify":
        conv = nn.Conv2d(in_chans, dim, kernel_size=4, stride=4)
    else:
        conv = nn.Conv2d(in_chans, dim, kernel_size=3, stride=stride, padding=1)
    return nn.Sequential(conv, make_norm(norm, dim, "channels_first"))


def make_downsample(in_dim: int, out_dim: int, norm: NormKind) -> nn.Sequential:
    """Between stages: norm, then a 2x2 stride-2 conv.

    (N, in_dim, H, W) -> (N, out_dim, H / 2, W / 2)
    """
    return nn.Sequential(
        make_norm(norm, in_dim, "channels_first"),
        nn.Conv2d(in_dim, out_dim, kernel_size=2, stride=2),
    )


class ConvNeXtV2(nn.Module):
    """ConvNeXt V2 for image classification.

    Args:
        in_chans: input channels (3 for RGB).
        num_classes: size of the classifier output.
        depths: blocks in each of the 4 stages, e.g. (3, 3, 9, 3) for tiny.
        dims: channels of each stage, e.g. (96, 192, 384, 768) for tiny.
        drop_path_rate: stochastic depth; block i of n drops its branch with rate
            drop_path_rate * i / (n - 1), rising linearly from 0.
        head_init_scale: scales the classifier's initial weights and bias.
        norm: "ln" (LayerNorm, the paper) or "dyt" (Dynamic Tanh everywhere LayerNorm was).
        stem: "patchify" (the paper), "cifar" or "cifar_s2"; see `make_stem`.

    forward: x (N, in_chans, H, W) -> logits (N, num_classes); H and W must be multiples
    of `total_stride` (32 with the patchify stem).
    """

    def __init__(
        self,
        in_chans: int = 3,
        num_classes: int = 1000,
        depths: tuple[int, ...] = (3, 3, 9, 3),
        dims: tuple[int, ...] = (96, 192, 384, 768),
        drop_path_rate: float = 0.0,
        head_init_scale: float = 1.0,
        norm: NormKind = "ln",
        stem: StemKind = "patchify",
    ):
        super().__init__()
        if len(depths) != 4 or len(dims) != 4:
            raise ValueError(f"depths and dims need 4 entries (one per stage): {depths}, {dims}.")
        self.in_chans, self.num_classes = in_chans, num_classes
        self.depths, self.dims = tuple(depths), tuple(dims)
        self.norm_kind, self.stem_kind = norm, stem
        self.total_stride = STEM_STRIDES.get(stem, 4) * 2**3  # stem, then three 2x downsamples

        # downsample_layers[0] is the stem; the official code keeps all four in one list.
        self.downsample_layers = nn.ModuleList([make_stem(stem, in_chans, dims[0], norm)])
        for i in range(3):
            self.downsample_layers.append(make_downsample(dims[i], dims[i + 1], norm))

        n_blocks = sum(depths)
        drop_rates = [drop_path_rate * i / max(n_blocks - 1, 1) for i in range(n_blocks)]
        self.stages = nn.ModuleList()
        for i, depth in enumerate(depths):
            first = sum(depths[:i])
            blocks = [Block(dims[i], drop_rates[first + j], norm) for j in range(depth)]
            self.stages.append(nn.Sequential(*blocks))

        self.norm = make_norm(norm, dims[-1], "channels_last")  # on pooled (N, C) features
        self.head = nn.Linear(dims[-1], num_classes)

        self.apply(self._init_weights)
        with torch.no_grad():
            self.head.weight.mul_(head_init_scale)
            self.head.bias.mul_(head_init_scale)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            trunc_normal_(module.weight, std=0.02)
            nn.init.zeros_(module.bias)

    def check_input(self, x: torch.Tensor) -> None:
        """Raise a ValueError that says what to do when x cannot go through this model."""
        if x.ndim != 4 or x.shape[1] != self.in_chans:
            raise ValueError(
                f"expected a batch of shape (N, {self.in_chans}, H, W), got {tuple(x.shape)}. "
                "Add a batch axis with x.unsqueeze(0), or build the model with "
                f"in_chans={x.shape[1] if x.ndim == 4 else '...'}."
            )
        if not x.is_floating_point():
            raise ValueError(
                f"the model takes float images, got {x.dtype}. Convert the batch with "
                "x.float() / 255 and normalise it (e.g. with CIFAR100_MEAN and CIFAR100_STD), "
                "as the package's loaders do."
            )
        h, w = x.shape[-2:]
        if h % self.total_stride or w % self.total_stride:
            raise ValueError(
                f"input size {h}x{w} is not a multiple of the model's total stride "
                f"{self.total_stride} (stem={self.stem_kind!r}). Resize or pad the images "
                f"to a multiple of {self.total_stride}, e.g. 32x32 for CIFAR."
            )

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """x: (N, in_chans, H, W) -> pooled, normalized features (N, dims[-1])."""
        for downsample, stage in zip(self.downsample_layers, self.stages, strict=True):
            x = stage(downsample(x))
        return self.norm(x.mean(dim=(-2, -1)))  # global average pool: (N, C, H, W) -> (N, C)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        return self.head(self.forward_features(x))


# The paper's eight sizes: (blocks per stage, channels per stage).
VARIANTS: dict[str, tuple[tuple[int, ...], tuple[int, ...]]] = {
    "convnextv2_atto": ((2, 2, 6, 2), (40, 80, 160, 320)),
    "convnextv2_femto": ((2, 2, 6, 2), (48, 96, 192, 384)),
    "convnextv2_pico": ((2, 2, 6, 2), (64, 128, 256, 512)),
    "convnextv2_nano": ((2, 2, 8, 2), (80, 160, 320, 640)),
    "convnextv2_tiny": ((3, 3, 9, 3), (96, 192, 384, 768)),
    "convnextv2_base": ((3, 3, 27, 3), (128, 256, 512, 1024)),
    "convnextv2_large": ((3, 3, 27, 3), (192, 384, 768, 1536)),
    "convnextv2_huge": ((3, 3, 27, 3), (352, 704, 1408, 2816)),
}


def list_models() -> list[str]:
    """Names accepted by `create_model`, smallest first."""
    return list(VARIANTS)


def resolve_name(name: str) -> str:
    """'atto' or 'convnextv2_atto' -> 'convnextv2_atto'; ValueError listing the valid names."""
    full = name if name.startswith("convnextv2_") else f"convnextv2_{name}"
    if full not in VARIANTS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(VARIANTS)}.")
    return full


def create_model(
    name: str,
    num_classes: int = 100,
    *,
    width: float = 1.0,
    seed: int | None = None,
    norm: NormKind = "ln",
    stem: StemKind = "patchify",
    drop_path_rate: float = 0.0,
    **kwargs,
) -> ConvNeXtV2:
    """Build a ConvNeXt V2 variant by name, e.g. create_model("convnextv2_tiny", norm="dyt").

    width: scales every stage's channels, max(8, round(d * width)) (0.25: a quarter-width
        atto for quick CPU runs). seed: the initial weights come from torch.manual_seed(seed)
        without touching the global random state; None draws from it as usual.
    Other keywords go to `ConvNeXtV2` (in_chans, head_init_scale).
    """
    depths, dims = VARIANTS[resolve_name(name)]
    if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
        raise ValueError(
            f"num_classes must be a positive integer (100 for CIFAR-100, 10 for "
            f"Fashion-MNIST), got {num_classes!r}."
        )
    if isinstance(width, bool) or not isinstance(width, (int, float)) or not 0 < width < 1e3:
        raise ValueError(f"width must be a positive number (1.0 = the paper's), got {width!r}.")
    dims = tuple(max(8, round(d * width)) for d in dims) if width != 1.0 else dims

    def build() -> ConvNeXtV2:
        return ConvNeXtV2(depths=depths, dims=dims, num_classes=num_classes, norm=norm,
                          stem=stem, drop_path_rate=drop_path_rate, **kwargs)  # fmt: skip

    if seed is None:
        return build()
    with torch.random.fork_rng(devices=[]):  # the global RNG is left as it was
        torch.default_generator.manual_seed(seed)  # the CPU generator draws the initial weights
        return build()


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Number of parameters (works on models built on the meta device too)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_macs(model: nn.Module, input_size: tuple[int, int, int] = (3, 32, 32)) -> int:
    """Multiply-accumulates (MACs) of one forward pass on one image of `input_size`.

    Counted by `torch.utils.flop_counter` (matmuls and convolutions; 1 MAC = 2 FLOPs), the
    convention of the paper's GFLOPs column. On a meta-device model nothing is computed.
    """
    from torch.utils.flop_counter import FlopCounterMode

    device = next(model.parameters()).device
    x = torch.zeros(1, *input_size, device=device)
    counter = FlopCounterMode(display=False)
    was_training = model.training
    model.eval()
    with counter, torch.no_grad():
        model(x)
    model.train(was_training)
    return counter.get_total_flops() // 2


def count_flops(model: nn.Module, input_size: tuple[int, int, int] = (3, 32, 32)) -> int:
    """Deprecated name of `count_macs` (it always returned MACs); kept for one release."""
    warnings.warn(
        "count_flops is deprecated: it counts MACs, so it is now called count_macs.",
        DeprecationWarning,
        stacklevel=2,
    )
    return count_macs(model, input_size)
