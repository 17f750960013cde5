# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#       jupytext_version: 1.19.6
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · Architecture: from ResNet to ConvNeXt V2
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/convnext-nb/convnext-nb/blob/main/notebooks/01_architecture.ipynb)
#
# The report trained ConvNeXt V2 on CIFAR-100 and plateaued near 35 %. To see
# why, we first need the architecture: where it came from, what one block
# computes, and what happens to a 32x32 image on its way through the network.

# %% [markdown]
# **On Colab** the next cell installs `convnext_nb` from GitHub at one git
# commit, the `commit` in the cell: the package as it was when this notebook
# was built and its outputs below were made. So a later change to the package
# cannot break the notebook; `setup_notebook()` then prints that commit. The
# cell leaves Colab's own torch alone, and elsewhere it installs nothing
# (install the package once with `pip install -e .` in a clone). On Colab
# choose Runtime > Change runtime type > GPU first. A Colab VM loses its files
# when it restarts: set `USE_DRIVE = True` to keep `runs/` on your Google Drive
# (`keep_runs_on_drive`: it asks for permission once and never deletes runs
# you already have; elsewhere it does nothing), so no run trains twice.

# %%
import sys

from IPython import get_ipython

if "google.colab" in sys.modules:  # on Colab: the package as built (see above)
    commit = "ca2ca6711ca639388c40654ed67e6e0d7e07100b"
    url = f"git+https://github.com/convnext-nb/convnext-nb@{commit}"
    get_ipython().run_line_magic("pip", f'install -q "convnext-nb @ {url}"')

from convnext_nb import get_device
from convnext_nb.notebook import setup_notebook

USE_DRIVE = False  # True: on Colab, keep runs/ on your Google Drive (see above)
setup_notebook(runs_on_drive=USE_DRIVE)
device = get_device()

# %% [markdown]
# ## From ResNet to ConvNeXt
#
# ConvNeXt ("A ConvNet for the 2020s", CVPR 2022) starts from a ResNet-50 and
# changes it one step at a time towards a Swin Transformer, measuring
# ImageNet-1K top-1 accuracy after every step:
#
# 1. **Modern training.** The same ResNet-50, trained the way Transformers
#    are: AdamW, 300 epochs, Mixup, CutMix, RandAugment, stochastic depth and
#    label smoothing. Much of the ConvNet-vs-Transformer gap was the recipe.
# 2. **Macro design.** Blocks per stage go from (3, 4, 6, 3) to (3, 3, 9, 3),
#    Swin's 1:1:3:1 compute ratio, and the stem becomes a 4x4 stride-4
#    "patchify" convolution, like cutting the image into ViT patches.
# 3. **ResNeXt-ify.** The 3x3 convolution becomes depthwise (one filter per
#    channel, mixing space only, like attention's weighted sum), and the
#    width grows from 64 to Swin-T's 96 channels to pay back the lost FLOPs.
# 4. **Inverted bottleneck.** The block widens in the middle (96 -> 384 -> 96,
#    as in a Transformer's MLP and MobileNetV2) instead of narrowing.
# 5. **Micro design.** GELU replaces ReLU, one activation and one norm per
#    block instead of three, LayerNorm replaces BatchNorm, and downsampling
#    gets its own 2x2 stride-2 convolution between stages.
#
# The report quotes the accuracy after each step; the cell below tabulates
# them and computes each step's gain.

# %%
steps = [  # (step, ImageNet-1K top-1 %, GFLOPs where the report gives them)
    ("ResNet-50, original recipe", 76.1, None),
    ("1. modern training recipe", 78.8, None),
    ("2. macro design (3-3-9-3, patchify)", 79.5, None),
    ("3. ResNeXt-ify (depthwise, width 96)", 80.5, 5.3),
    ("4. inverted bottleneck", 80.6, 4.6),
    ("5. micro design (GELU, LN, fewer norms)", 82.0, None),
]
print(f"{'step':42} {'top-1':>6} {'gain':>6} {'GFLOPs':>7}")
previous = steps[0][1]
for name, acc, gflops in steps:
    flops = "" if gflops is None else f"{gflops:.1f}"
    print(f"{name:42} {acc:6.1f} {acc - previous:+6.1f} {flops:>7}")
    previous = acc
print(f"total gain: {steps[-1][1] - steps[0][1]:+.1f} points")

# %% [markdown]
# The paper has one more step between 4 and 5 that the report folds in: the
# depthwise convolution moves to the top of the block and grows from 3x3 to
# 7x7 (Swin's window size), which first costs accuracy and then wins it
# back. As a plot:

# %%
from matplotlib.figure import Figure

from convnext_nb import save_fig

fig = Figure(figsize=(7, 3.2), layout="constrained")
ax = fig.add_subplot()
accs = [acc for _, acc, _ in steps]
ax.plot(range(len(steps)), accs, "o-", color="tab:blue")
for i, acc in enumerate(accs):
    ax.text(i, acc + 0.25, f"{acc:.1f}", ha="center", fontsize=9)
ax.set_xticks(range(len(steps)))
short = ["ResNet-50", "training", "macro", "ResNeXt", "inv. bottl.", "micro"]
ax.set_xticklabels(short, fontsize=8)
ax.set_ylabel("ImageNet-1K top-1 (%)")
ax.set_ylim(75, 83.5)
ax.set_title("Modernizing a ResNet-50 into a ConvNeXt-T")
save_fig(fig, "01_architecture_modernization")
fig

# %% [markdown]
# ## Three block designs
#
# The report's Figure 1 sets a ResNet bottleneck block, a Swin Transformer
# block and a ConvNeXt block side by side. We draw them from a short list of
# layers per block (`"["` opens a residual branch, `"+"` adds it back), and
# add the ConvNeXt V2 block, which inserts GRN after the GELU.

# %%
BLOCKS = {
    "ResNet (256-d)": [
        "[",
        "1x1, 64",
        "BN, ReLU",
        "3x3, 64",
        "BN, ReLU",
        "1x1, 256",
        "BN",
        "+",
        "ReLU",
    ],
    "Swin (96-d)": [
        "[",
        "LN",
        "1x1, 96x3",
        "MSA, w7x7, H=3\n+ rel. pos.",
        "1x1, 96",
        "+",
        "[",
        "LN",
        "1x1, 384",
        "GELU",
        "1x1, 96",
        "+",
    ],
    "ConvNeXt (96-d)": [
        "[",
        "d7x7, 96",
        "LN",
        "1x1, 384",
        "GELU",
        "1x1, 96",
        "+",
    ],
    "ConvNeXt V2 (96-d)": [
        "[",
        "d7x7, 96",
        "LN",
        "1x1, 384",
        "GELU",
        "GRN",
        "1x1, 96",
        "+",
    ],
}
COLORS = {
    "BN": "#f6d55c",
    "LN": "#f6d55c",
    "GRN": "#ed553b",
    "ReLU": "#8fd19e",
    "GELU": "#8fd19e",
    "MSA": "#f4a259",
}


def box_color(label: str) -> str:
    for key, color in COLORS.items():
        if label.startswith(key):
            return color
    return "#a8c8e8"  # convolutions and linear layers


# %% [markdown]
# The drawing itself: boxes top to bottom, an arrow between consecutive
# layers, and each residual branch as a line on the right into a circle.

# %%
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch


def arrow(ax, start, end, **kw):
    style = dict(arrowstyle="-|>", mutation_scale=10, lw=1)
    ax.add_patch(FancyArrowPatch(start, end, **style, **kw))


def draw_block(ax, title, layers, width=1.6, h=0.55, gap=0.35, r=0.18):
    """Draw one block from its layer list, top (input) to bottom."""
    top, prev_bottom, branches = 0.0, gap, []  # prev_bottom: the input
    right = width / 2 + 0.3  # x of the residual lines
    for item in layers:
        if item == "[":  # branch off the arrow that enters the next layer
            branches.append((prev_bottom + top) / 2)
            ax.plot(0, branches[-1], "k.", ms=5)
            continue
        arrow(ax, (0, prev_bottom), (0, top))
        if item == "+":
            cy = top - r
            ax.add_patch(Circle((0, cy), r, fc="white", ec="k"))
            ax.text(0, cy, "+", ha="center", va="center", fontsize=11)
            start = branches.pop()
            ax.plot([0, right, right], [start, start, cy], color="k", lw=1)
            arrow(ax, (right, cy), (r, cy))
            prev_bottom = cy - r
        else:
            ax.add_patch(
                FancyBboxPatch(
                    (-width / 2, top - h),
                    width,
                    h,
                    boxstyle="round,pad=0.02",
                    fc=box_color(item),
                    ec="k",
                )
            )
            ax.text(0, top - h / 2, item, ha="center", va="center", fontsize=8)
            prev_bottom = top - h
        top = prev_bottom - gap
    arrow(ax, (0, prev_bottom), (0, top))  # the output
    ax.set_title(title, fontsize=10)
    ax.set_aspect("equal")
    ax.set_xlim(-1.2, 1.4)
    ax.set_ylim(top - 0.1, gap + 0.1)
    ax.axis("off")


# %% [markdown]
# The four blocks, drawn:

# %%
fig = Figure(figsize=(10, 6), layout="constrained")
axes = fig.subplots(1, len(BLOCKS))
for ax, (title, layers) in zip(axes, BLOCKS.items(), strict=True):
    draw_block(ax, title, layers)
y_min = min(ax.get_ylim()[0] for ax in axes)
for ax in axes:
    ax.set_ylim(y_min, ax.get_ylim()[1])  # one vertical scale for all four
save_fig(fig, "01_architecture_blocks")
fig

# %% [markdown]
# The ConvNeXt block has fewer norms and activations than the ResNet block
# (one of each), and its channel mixing (the two 1x1 layers) looks exactly
# like the MLP half of the Swin block. The cell counts the norm and
# activation layers in each list:

# %%
for title, layers in BLOCKS.items():
    norms = sum(item.startswith(("BN", "LN")) for item in layers)
    acts = sum("ReLU" in item or "GELU" in item for item in layers)
    print(f"{title:20} norms: {norms}  activations: {acts}")

# %% [markdown]
# ## The ConvNeXt V2 block in code
#
# `convnext_nb.Block` follows the official code: the 1x1 convolutions are
# `nn.Linear` layers working on a channels-last view of the feature map.

# %%
import torch

from convnext_nb import Block, count_parameters

torch.manual_seed(0)
block = Block(dim=96)
print(block)
print(f"parameters: {count_parameters(block):,}")

# %% [markdown]
# Its `forward`, straight from the package:

# %%
import inspect

print(inspect.getsource(Block.forward))

# %% [markdown]
# A block keeps the shape of its input, so blocks can be stacked and the
# residual sum is always defined:

# %%
x = torch.randn(2, 96, 8, 8)
print(tuple(x.shape), "->", tuple(block(x).shape))

# %% [markdown]
# ## The layer order: the report vs the official code
#
# The report describes the block three times, and not consistently:
#
# - *Key theoretical concepts*: GRN "is applied after the depthwise
#   convolution and before the GELU activation".
# - *ConvNeXt Block*: LayerNorm, then the 1x1 expansion, then the depthwise
#   convolution, GELU, GRN, 1x1 reduction.
# - *The Model*: depthwise conv, LayerNorm, pointwise expansion, GELU, GRN.
#
# Only the third matches the official ConvNeXt V2 code, which we follow:
# dwconv -> LN -> pwconv1 -> GELU -> GRN -> pwconv2 -> residual. GRN needs
# the wide (4x) activations after GELU to let channels compete, and the
# depthwise conv comes first so that the expensive 7x7 works on the narrow
# 96 channels. Let us record the order the layers actually run in, with
# forward hooks, and compare it with each description:

# %%
ran = []
hooks = [
    module.register_forward_hook(lambda m, i, o, n=name: ran.append(n))
    for name, module in block.named_children()
]
block(x)
for h in hooks:
    h.remove()
ran = [n for n in ran if n != "drop_path"]  # Identity when drop_path=0
print("official code:", " -> ".join(ran))

# %% [markdown]
# The same names in the orders the report gives:

# %%
report = {
    "Key theoretical concepts": ["dwconv", "grn", "act"],
    "ConvNeXt Block list": [
        "norm",
        "pwconv1",
        "dwconv",
        "act",
        "grn",
        "pwconv2",
    ],
    "The Model": ["dwconv", "norm", "pwconv1", "act", "grn"],
}
for where, order in report.items():
    in_code = [n for n in ran if n in order]  # the code's order of those
    verdict = "matches" if in_code == order else "differs from"
    print(f"{where:24} {' -> '.join(order):49} {verdict} the code")

# %% [markdown]
# ## Shapes through the network: why stage 4 sees a 1x1 map
#
# The paper's stem is a 4x4 convolution with stride 4, made for 224x224
# ImageNet images (224 / 4 = 56 pixels in stage 1). Three 2x downsamplings
# follow. On a 32x32 CIFAR image the same network ends with a 1x1 map. The
# package has two CIFAR stems, 3x3 convolutions with stride 2 (`cifar_s2`)
# or stride 1 (`cifar`). We trace a 32x32 image through `atto` with each,
# recording every stem, downsampling layer and stage output with hooks.

# %%
from convnext_nb import create_model


def trace_shapes(model, x):
    """Output shape (C, H, W) of the stem, each downsample and each stage."""
    shapes, hooks = {}, []

    def recorder(name):
        def record(module, inputs, output):
            shapes[name] = tuple(output.shape[1:])

        return record

    for i in range(4):
        name = "stem" if i == 0 else f"downsample {i}"
        hook = recorder(name)
        hooks.append(model.downsample_layers[i].register_forward_hook(hook))
        hook = recorder(f"stage {i + 1}")
        hooks.append(model.stages[i].register_forward_hook(hook))
    with torch.no_grad():
        model(x)
    for h in hooks:
        h.remove()
    return shapes


# %% [markdown]
# The trace, one column per stem:

# %%
STEMS = ["patchify", "cifar_s2", "cifar"]
image = torch.randn(1, 3, 32, 32)
traces = {s: trace_shapes(create_model("atto", stem=s), image) for s in STEMS}
print(f"{'layer':13}" + "".join(f"{s:>18}" for s in STEMS))
for layer in traces["patchify"]:
    row = "".join(f"{str(traces[s][layer]):>18}" for s in STEMS)
    print(f"{layer:13}{row}")

# %% [markdown]
# With the paper's stem, stage 4 (two blocks of 320 channels in atto) works on
# a single pixel. Its 7x7 depthwise convolution, padded by 3, then only ever
# multiplies the centre tap with real data; the other 48 taps see zero
# padding. The cell computes, for each stage's map size, the share of the 49
# taps that touch the image, averaged over output pixels:

# %%
import torch.nn.functional as F


def useful_taps(size: int, k: int = 7) -> float:
    """Fraction of a k x k conv's taps inside a size x size map (pad k//2)."""
    ones = torch.ones(1, 1, size, size)
    hits = F.conv2d(ones, torch.ones(1, 1, k, k), padding=k // 2)
    return hits.mean().item() / k**2


for s in STEMS:
    sizes = [traces[s][f"stage {i}"][-1] for i in range(1, 5)]
    taps = "".join(f"{f'{n}x{n}:':>8}{useful_taps(n):5.0%}" for n in sizes)
    print(f"{s:9} {taps}")

# %% [markdown]
# So the seed's stage 4, the widest and most expensive part of the network
# per pixel, is reduced to a per-pixel MLP, and stage 3 sees 2x2 maps. The
# CIFAR stems keep more resolution at the price of more compute, which the
# variant table below measures.
#
# ## The variants, atto to huge
#
# ConvNeXt V2 comes in eight sizes that differ only in blocks per stage
# (`depths`) and channels per stage (`dims`). We build each one on PyTorch's
# `meta` device, which records shapes but allocates no memory, so even the
# 660M-parameter huge costs nothing; `count_macs` counts its
# multiply-accumulates (MACs) on the meta device too.

# %%
from convnext_nb import VARIANTS, count_macs

PAPER = {  # ImageNet-1K (1000 classes, 224x224): params (M), GFLOPs
    "atto": (3.7, 0.55),
    "femto": (5.2, 0.78),
    "pico": (9.1, 1.37),
    "nano": (15.6, 2.45),
    "tiny": (28.6, 4.47),
    "base": (89, 15.4),
    "large": (198, 34.4),
    "huge": (660, 115),
}


def measure(name: str) -> dict:
    """Params and MACs of one variant; all models built on the meta device."""
    with torch.device("meta"):
        imagenet = create_model(name, num_classes=1000)
        cifar = {s: create_model(name, stem=s) for s in ("patchify", "cifar")}
    return {
        "params_1k": count_parameters(imagenet) / 1e6,
        "macs_224": count_macs(imagenet, (3, 224, 224)) / 1e9,
        "params_100": count_parameters(cifar["patchify"]) / 1e6,
        "macs_32": count_macs(cifar["patchify"], (3, 32, 32)) / 1e6,
        "macs_32_cifar": count_macs(cifar["cifar"], (3, 32, 32)) / 1e6,
    }


rows = {name.removeprefix("convnextv2_"): measure(name) for name in VARIANTS}

# %% [markdown]
# First the ImageNet setting, next to the paper's numbers (params in
# millions, GMACs at 224x224 with 1000 classes; the paper's "GFLOPs" are
# multiply-accumulates):

# %%
head = f"{'variant':8}{'depths':>15}{'dims':>24}"
print(head + f"{'params':>9}{'paper':>7}{'GMACs':>8}{'paper':>7}")
for name, r in rows.items():
    depths, dims = VARIANTS[f"convnextv2_{name}"]
    p_params, p_flops = PAPER[name]
    print(
        f"{name:8}{str(depths):>15}{str(dims):>24}"
        f"{r['params_1k']:9.1f}{p_params:7g}"
        f"{r['macs_224']:8.2f}{p_flops:7g}"
    )

# %% [markdown]
# And the CIFAR-100 setting (100 classes, 32x32 images): parameters, and
# MMACs per image with the paper's patchify stem (and that as a share of the
# 224x224 cost) and with the stride-1 CIFAR stem. The last column is the
# cost ratio of the two stems.

# %%
print(
    f"{'variant':8}{'params (M)':>11}{'MMACs patchify':>16}"
    f"{'of 224':>8}{'MMACs cifar':>13}{'ratio':>7}"
)
for name, r in rows.items():
    share = r["macs_224"] * 1e3 / r["macs_32"]  # 224x224 cost / 32x32 cost
    ratio = r["macs_32_cifar"] / r["macs_32"]
    print(
        f"{name:8}{r['params_100']:11.2f}{r['macs_32']:16.0f}"
        f"{'1/' + format(share, '.0f'):>8}"
        f"{r['macs_32_cifar']:13.0f}{ratio:6.1f}x"
    )

# %% [markdown]
# The parameter counts match the paper to its rounding; at 32x32 with the
# patchify stem every model costs 1/49 of its 224x224 price ((32 / 224)^2,
# up to the head), and the stride-1 stem multiplies that by about 16 (four
# times the pixels in each of the two image dimensions). As a plot, on log
# scales:

# %%
fig = Figure(figsize=(6.5, 3.6), layout="constrained")
ax = fig.add_subplot()
params = [r["params_100"] for r in rows.values()]
for key, label in [
    ("macs_32", "patchify stem (the report)"),
    ("macs_32_cifar", "stride-1 CIFAR stem"),
]:
    ax.loglog(params, [r[key] for r in rows.values()], "o-", label=label)
for name, r in rows.items():
    ax.annotate(
        name,
        (r["params_100"], r["macs_32"]),
        fontsize=8,
        textcoords="offset points",
        xytext=(4, -10),
    )
ax.set_xlabel("parameters (M), 100 classes")
ax.set_ylabel("MMACs per 32x32 image")
ax.legend()
save_fig(fig, "01_architecture_variants")
fig

# %% [markdown]
# ## Summary
#
# In this notebook we
#
# - followed the ResNet-50 -> ConvNeXt modernization steps and their
#   ImageNet accuracies, step by step;
# - drew the ResNet, Swin, ConvNeXt and ConvNeXt V2 blocks from code and
#   printed the package's ConvNeXt V2 `Block`;
# - recorded the order the block's layers run in (dwconv -> LN -> pwconv1
#   -> GELU -> GRN -> pwconv2 -> residual) and found the report's
#   descriptions that disagree with it;
# - traced a 32x32 image through three stems: with the paper's patchify
#   stem stage 4 sees a 1x1 map and its 7x7 convolution uses 1 of 49 taps;
# - computed parameters and MACs of all eight variants, matching the paper,
#   and the cost of keeping more resolution on CIFAR.
#
# ## What to try next
#
# - Feed a 64x64 or a 224x224 image through the three stems in the shapes
#   section: at which input size does the patchify stem's stage 4 get a
#   7x7 map, the size its 7x7 convolution was designed for?
# - Build `create_model("atto", stem="cifar")` and count its MACs with
#   `count_macs`: how much compute does keeping 32x32 in stage 1 cost?
# - Print `Block(96)` next to `torch.nn` building blocks and rewrite it in
#   fewer lines, then check your version gives the same output with the
#   same weights.
#
# Next, `02_normalization` looks inside the three normalization layers:
# LayerNorm, GRN and Dynamic Tanh.
