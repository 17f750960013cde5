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
# # 02 · Normalization: LayerNorm, GRN and Dynamic Tanh
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/convnext-nb/convnext-nb/blob/main/notebooks/02_normalization.ipynb)
#
# A ConvNeXt V2 block holds two normalization layers: a LayerNorm after the
# depthwise convolution and a Global Response Normalization (GRN) after the
# GELU. The report also tried Dynamic Tanh (DyT), which replaces every
# LayerNorm with a learnable tanh. This notebook takes each one apart, then
# asks you to write GRN and DyT yourself.

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
    commit = "64c244fea9e767623868f05c813a15583ad3e4c4"
    url = f"git+https://github.com/convnext-nb/convnext-nb@{commit}"
    get_ipython().run_line_magic("pip", f'install -q "convnext-nb @ {url}"')

from convnext_nb import get_device
from convnext_nb.notebook import setup_notebook

USE_DRIVE = False  # True: on Colab, keep runs/ on your Google Drive (see above)
setup_notebook(runs_on_drive=USE_DRIVE)
device = get_device()

# %% [markdown]
# ## The three definitions
#
# For a feature vector $x \in \mathbb{R}^C$ at one pixel (LayerNorm, DyT) or
# a feature map $X \in \mathbb{R}^{H \times W \times C}$ (GRN):
#
# - **LayerNorm**:
#   $y = \frac{x - \mu}{\sqrt{\sigma^2 + \epsilon}} \cdot w + b$, with
#   $\mu$ and the biased variance $\sigma^2$ taken over the $C$ channels
#   of each pixel, $\epsilon = 10^{-6}$; $w$ starts at ones, $b$ at zeros.
# - **GRN**: $G_c = \lVert X_{:,:,c} \rVert_2$ (one L2 norm per channel, over
#   all pixels), $N_c = G_c / (\mathrm{mean}_c\, G_c + \epsilon)$, and
#   $y = \gamma \cdot (X \cdot N) + \beta + X$; $\gamma, \beta$ start at zero,
#   so a fresh GRN is the identity.
# - **DyT**: $y = w \cdot \tanh(\alpha x) + b$, with one learnable scalar
#   $\alpha$ (start 0.5) and per-channel $w$, $b$; no statistics, no
#   $\epsilon$.
#
# ## LayerNorm
#
# The package's code; `channels_first` is the layout of `nn.Conv2d`
# (N, C, H, W), used in the stem and the downsampling layers:

# %%
import inspect

from convnext_nb import GRN, DynamicTanh, LayerNorm

print(inspect.getsource(LayerNorm.forward))

# %% [markdown]
# A seeded feature map whose pixels have very different scales and offsets,
# like the output of a convolution. LayerNorm makes every pixel's channel
# vector mean 0 and standard deviation 1 (weight ones and bias zeros at init).

# %%
import torch

torch.manual_seed(0)
C = 16
scale = torch.tensor([0.1, 1.0, 5.0, 20.0]).view(1, 1, 2, 2)
offset = torch.tensor([-3.0, 0.0, 2.0, 10.0]).view(1, 1, 2, 2)
fmap = torch.randn(1, C, 2, 2) * scale + offset  # (N, C, H, W), 4 pixels
ln = LayerNorm(C, data_format="channels_first")
out = ln(fmap).detach()
for name, t in [("before LN", fmap), ("after LN", out)]:
    mean = t.mean(dim=1).flatten().tolist()
    std = t.std(dim=1, unbiased=False).flatten().tolist()
    mean = [round(m, 2) + 0.0 for m in mean]  # + 0.0 turns -0.0 into 0.0
    print(f"{name:10} per-pixel mean {mean}")
    print(f"{'':10} per-pixel std  {[round(s, 2) for s in std]}")

# %% [markdown]
# ## LayerNorm looks like a tanh
#
# The DyT paper starts from an observation: plot every element's LayerNorm
# output against its input, over many tokens, and the cloud looks like an
# S-shaped tanh. Each token is a straight line through the origin (LN is
# linear per token), but tokens with large activations get a flat slope
# (divided by a large std) and tokens with small ones a steep slope. We make
# tokens whose scales vary, normalize them, and draw $\tanh(\alpha x)$ for a
# few $\alpha$ next to the cloud.

# %%
from matplotlib.figure import Figure

from convnext_nb import save_fig

torch.manual_seed(0)
tokens = torch.randn(200, 64) * torch.rand(200, 1).pow(3).mul(8).add(0.3)
y_ln = LayerNorm(64)(tokens).detach()
grid = torch.linspace(-25, 25, 400)
fig = Figure(figsize=(6, 3.6), layout="constrained")
ax = fig.add_subplot()
ax.plot(
    tokens.flatten(),
    y_ln.flatten(),
    ".",
    ms=1,
    alpha=0.3,
    color="gray",
    label="LayerNorm: output vs input",
)
for alpha in [0.2, 0.5, 2.0]:
    ax.plot(grid, torch.tanh(alpha * grid), label=f"tanh({alpha} x)")
ax.set_xlabel("input x")
ax.set_ylabel("output")
ax.set_ylim(-3.5, 3.5)
ax.legend(fontsize=8)
save_fig(fig, "02_normalization_ln_vs_tanh")
fig

# %% [markdown]
# ## Dynamic Tanh and its alpha
#
# DyT replaces the statistics with the fixed S-curve. Its code:

# %%
print(inspect.getsource(DynamicTanh.forward))

# %% [markdown]
# $\alpha$ decides which inputs fall in the linear part and which get
# squashed. For inputs with standard deviation 1 and 10, the cell prints the
# output's standard deviation and the share of elements pushed into the flat
# tails ($|y| > 0.9$) for a few values of $\alpha$:

# %%
torch.manual_seed(0)
for std in [1.0, 10.0]:
    x = torch.randn(10_000) * std
    for alpha in [0.1, 0.5, 2.0]:
        dyt = DynamicTanh(1, alpha_init_value=alpha)
        y = dyt(x[:, None]).detach()
        tails = (y.abs() > 0.9).float().mean().item()
        print(
            f"input std {std:4.0f}  alpha {alpha:3}:  output std "
            f"{y.std().item():.2f}, in the tails {tails:4.0%}"
        )

# %% [markdown]
# Unlike LayerNorm, DyT does not look at the data: the output's scale depends
# on the input's. Small inputs stay small ($\tanh(\alpha x) \approx \alpha x$),
# large ones are clipped to $\pm 1$. Training learns $\alpha$ to fit the
# activations it sees.
#
# ## GRN: channels compete
#
# GRN measures each channel's energy over the whole feature map and rescales
# the channel by how it compares with the average channel. Its code (it
# works on channels-last maps (N, H, W, C), after the first `Linear`). First
# the energy $G_c$, one L2 norm per channel; the GPU and the CPU each get the
# formula that runs fastest on them:

# %%
from convnext_nb.layers import spatial_l2_norm

print(inspect.getsource(spatial_l2_norm))

# %% [markdown]
# The two formulas give the same numbers. Here, on a seeded map, the GPU's
# `vector_norm` against the CPU's square-sum-sqrt (both computed on the CPU):

# %%
torch.manual_seed(0)
x = torch.randn(2, 6, 6, 8)
fused = torch.linalg.vector_norm(x, dim=(1, 2), keepdim=True, dtype=torch.float32)
plain = x.float().square().sum(dim=(1, 2), keepdim=True).clamp_min(1e-30).sqrt()
agree = torch.allclose(fused, plain, rtol=1e-6, atol=0)
print(f"vector_norm and square-sum-sqrt agree to a relative 1e-6: {agree}")

# %% [markdown]
# Then GRN itself:

# %%
print(inspect.getsource(GRN.forward))

# %% [markdown]
# A seeded (1, 6, 6, 4) map whose four channels have spatial energy in the
# ratio 1 : 2 : 4 : 8. We set $\gamma = 1$, $\beta = 0$ (trained values are
# of this order) and print each channel's $G$, $N$ and the factor by which
# GRN scales it, $1 + \gamma N$:

# %%
torch.manual_seed(0)
energy = torch.tensor([1.0, 2.0, 4.0, 8.0])
x = torch.randn(1, 6, 6, 4)
x = x / x.norm(dim=(1, 2), keepdim=True) * energy  # set each channel's norm
grn = GRN(4)
with torch.no_grad():
    grn.gamma.fill_(1.0)
    y = grn(x)
g = x.norm(dim=(1, 2)).flatten()
n = g / (g.mean() + grn.eps)
gain = y.norm(dim=(1, 2)).flatten() / g
for c in range(4):
    stats = f"G = {g[c]:.2f}  N = {n[c]:.2f}"
    print(f"channel {c}: {stats}  output / input = {gain[c]:.2f}")

# %% [markdown]
# The strongest channel is amplified most and the weakest least: after GRN,
# the ratio between the strongest and the weakest channel grows, as the
# cell computes. This feature competition is what the ConvNeXt V2 paper
# adds against "feature collapse", where many channels end up dead or
# copies of each other.

# %%
print(f"strongest / weakest before GRN: {g[-1] / g[0]:.1f}")
after = y.norm(dim=(1, 2)).flatten()
print(f"strongest / weakest after GRN:  {after[-1] / after[0]:.1f}")

# %% [markdown]
# ## Where each layer sits
#
# In a block, LayerNorm follows the depthwise conv and GRN the GELU; the
# stem, the three downsampling layers and the head have one LayerNorm each.
# The DyT variant (`norm="dyt"`) swaps every LayerNorm for a DyT and keeps
# GRN. The cell counts them in `atto`:

# %%
from collections import Counter

from convnext_nb import count_parameters, create_model

models = {k: create_model("atto", norm=k) for k in ["ln", "dyt"]}
for kind, model in models.items():
    types = Counter(type(m).__name__ for m in model.modules())
    counts = {t: types[t] for t in ["LayerNorm", "DynamicTanh", "GRN"]}
    print(f"norm={kind!r}: {counts}, parameters {count_parameters(model):,}")

# %% [markdown]
# Each LayerNorm and each DyT has a weight and a bias per channel; DyT adds
# one $\alpha$. So the DyT model has exactly one parameter more per replaced
# LayerNorm, and GRN's $\gamma, \beta$ are the same in both:

# %%
n_ln = sum(isinstance(m, LayerNorm) for m in models["ln"].modules())
extra = count_parameters(models["dyt"]) - count_parameters(models["ln"])
print(f"DyT model - LN model = {extra} parameters")
print(f"LayerNorms replaced: {n_ln}")
for kind, cls in [("ln", LayerNorm), ("dyt", DynamicTanh), ("ln", GRN)]:
    layers = [m for m in models[kind].modules() if isinstance(m, cls)]
    total = sum(count_parameters(m) for m in layers)
    print(f"{cls.__name__:12} parameters in atto: {total:,}")

# %% [markdown]
# ## Speed: LayerNorm vs DyT
#
# DyT needs no mean or variance, so it might be faster. We time forward +
# backward of one layer on a block-sized channels-last activation on the
# current device. LN and DyT take turns, so a busy machine slows both alike;
# we compare medians, and only their ratio means anything.

# %%
import statistics
import time


def fwd_bwd_seconds(layer, x):
    """Seconds for one forward + backward pass of `layer` on x."""
    if x.device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    layer(x).sum().backward()
    if x.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


# %% [markdown]
# Twenty interleaved repeats, after one warm-up call each (the times vary
# from run to run and from machine to machine):

# %%
x = torch.randn(64, 16, 16, 160, device=device, requires_grad=True)
layers = {"LN": LayerNorm(160), "DyT": DynamicTanh(160)}
times = {name: [] for name in layers}
for repeat in range(21):
    for name, layer in layers.items():
        seconds = fwd_bwd_seconds(layer.to(device), x)
        if repeat > 0:  # repeat 0 is the warm-up
            times[name].append(seconds)
t_ln, t_dyt = (statistics.median(times[k]) for k in ["LN", "DyT"])
print(f"device: {device}")
print(f"median LN {t_ln * 1e3:.2f} ms, DyT {t_dyt * 1e3:.2f} ms")
word = "faster" if t_dyt < t_ln else "slower"
ratio = max(t_ln, t_dyt) / min(t_ln, t_dyt)
print(f"DyT is {ratio:.2f}x {word} than LN here")

# %% [markdown]
# Fewer statistics do not make DyT fast by themselves. `F.layer_norm` is one
# fused kernel forward and one backward, while our DyT runs several
# element-wise kernels (scale by alpha, tanh, multiply-add), each a full pass
# over the activation, and its backward adds a sum over every element for
# the gradient of the single alpha. A compiler such as `torch.compile` can
# fuse those steps into one kernel; the eager code timed here does not, and
# the ratio printed above is this device's answer for it.
#
# ## Why a DyT model starts slower
#
# At initialization the convolution weights are small (std 0.02), so the
# activations inside a block are small too. LayerNorm rescales them to
# standard deviation 1 before the first `Linear`; DyT with $\alpha = 0.5$
# just multiplies them by about 0.5. We push a seeded batch through both
# `atto` models and record, per stage, the standard deviation of the block
# norms' outputs (what `pwconv1` receives) and of the residual branches:


# %%
def activation_stds(model, x):
    """Mean over each stage's blocks of std(norm output), std(branch)."""
    stats = {}

    def hook(stage, what):
        def record(module, inputs, output):
            stats.setdefault((stage, what), []).append(output.std().item())

        return record

    handles = []
    for i, stage in enumerate(model.stages):
        for block in stage:
            handles.append(block.norm.register_forward_hook(hook(i, "norm")))
            branch = block.pwconv2  # the branch's last layer
            handles.append(branch.register_forward_hook(hook(i, "branch")))
    with torch.no_grad():
        model(x)
    for h in handles:
        h.remove()
    return {k: sum(v) / len(v) for k, v in stats.items()}


torch.manual_seed(0)
batch = torch.randn(8, 3, 32, 32)
stds = {k: activation_stds(m, batch) for k, m in models.items()}

# %% [markdown]
# The table, per stage:

# %%
head = f"{'stage':6}{'norm out LN':>13}{'norm out DyT':>14}"
print(head + f"{'branch LN':>11}{'branch DyT':>12}")
ln_s, dyt_s = stds["ln"], stds["dyt"]
for i in range(4):
    print(
        f"{i + 1:<6}{ln_s[i, 'norm']:13.3f}{dyt_s[i, 'norm']:14.2e}"
        f"{ln_s[i, 'branch']:11.4f}{dyt_s[i, 'branch']:12.2e}"
    )
ratio = ln_s[0, "branch"] / dyt_s[0, "branch"]
print(f"stage 1: LN's residual branches are {ratio:.0f} times larger")

# %% [markdown]
# With DyT every block starts close to the identity, and its gradients are
# scaled down by the same factor, so the first epochs move slowly until
# $\alpha$ and the weights grow. That fits the report's Tests 4 and 5, where
# the DyT model reached its best epoch much later than the LN one.
#
# ## Exercises: write your own GRN and DyT
#
# Fill in the classes below, then run the checker cells. Each checker
# builds your class with the package's signature, checks the parameter
# names, shapes and initial values, gives your module and the reference the
# same random parameters, and compares the outputs on several inputs. It
# prints "Correct!", or what your code returns and what it should return
# (until you write them, it says so). Stuck? In a new cell, run
# `from convnext_nb.checks import show_solution`, then `show_solution("grn")`
# (or `"dyt"`, `"layernorm"`).

# %%
import torch.nn as nn

from convnext_nb.checks import check_dyt, check_grn, check_layernorm

# %% [markdown]
# **Exercise 1: GRN.** Input (N, H, W, C). Parameters `gamma` and `beta` of
# shape (1, 1, 1, dim), zero-initialised. Hints: `torch.norm(x, p=2,
# dim=..., keepdim=True)`; mean over the channels; do not forget the eps
# (1e-6) and the residual `+ x`.


# %%
class MyGRN(nn.Module):
    def __init__(self, dim):
        super().__init__()
        # YOUR CODE HERE: self.gamma = ..., self.beta = ...

    def forward(self, x):
        # YOUR CODE HERE
        raise NotImplementedError("write MyGRN.forward")


# %% [markdown]
# **Exercise 2: DyT.** `DynamicTanh(normalized_shape, channels_last=True,
# alpha_init_value=0.5)`; parameters `alpha` (shape (1,)), `weight` and
# `bias` (shape (C,)). With `channels_last=False` the input is (N, C, H, W).


# %%
class MyDyT(nn.Module):
    def __init__(
        self,
        normalized_shape,
        channels_last=True,
        alpha_init_value=0.5,
    ):
        super().__init__()
        # YOUR CODE HERE

    def forward(self, x):
        # YOUR CODE HERE
        raise NotImplementedError("write MyDyT.forward")


# %% [markdown]
# **Exercise 3 (optional): LayerNorm.** `LayerNorm(normalized_shape,
# eps=1e-6, data_format="channels_last")`, parameters `weight`, `bias`.
# `channels_last` is one call to `F.layer_norm`; for `channels_first`
# (N, C, H, W) compute the mean and the biased variance over dim 1.

# %%
import torch.nn.functional as F


class MyLayerNorm(nn.Module):
    def __init__(
        self,
        normalized_shape,
        eps=1e-6,
        data_format="channels_last",
    ):
        super().__init__()
        # YOUR CODE HERE

    def forward(self, x):
        # YOUR CODE HERE
        raise NotImplementedError("write MyLayerNorm.forward")


# %% [markdown]
# Check your GRN:

# %%
check_grn(MyGRN)

# %% [markdown]
# Check your DyT:

# %%
check_dyt(MyDyT)

# %% [markdown]
# Check your LayerNorm (both layouts; pass
# `data_formats=("channels_first",)` to check only that one):

# %%
check_layernorm(MyLayerNorm)

# %% [markdown]
# ## What a failed check looks like
#
# Two classic mistakes: a GRN that takes the norm over the channels instead
# of over the pixels, and a channels-first LayerNorm written with
# `F.layer_norm`, which normalises the *last* axis (here W, not C). We
# build both from the package's layers, so this cell works whatever state
# your own classes are in. The checkers name both mistakes:


# %%
class WrongGRN(GRN):
    def forward(self, x):
        gx = torch.norm(x, p=2, dim=-1, keepdim=True)  # over C: wrong
        nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
        return self.gamma * (x * nx) + self.beta + x


class WrongLayerNorm(LayerNorm):
    def forward(self, x):  # ignores data_format
        args = (self.weight, self.bias, self.eps)
        return F.layer_norm(x, self.normalized_shape, *args)


check_grn(WrongGRN)
check_layernorm(WrongLayerNorm)

# %% [markdown]
# ## Summary
#
# In this notebook we
#
# - read the package's LayerNorm, GRN and DyT and watched LayerNorm give
#   every pixel mean 0 and standard deviation 1;
# - saw why LayerNorm's input-output cloud looks like $\tanh(\alpha x)$,
#   the observation behind DyT, and what $\alpha$ does to the tails;
# - watched GRN amplify the strongest channels relative to the weakest;
# - counted where each layer sits in `atto` (DyT adds one $\alpha$ per
#   replaced LayerNorm) and timed LN against DyT on this device;
# - found that a DyT model starts with much smaller residual branches, one
#   reason it trains more slowly at first;
# - wrote GRN, DyT and LayerNorm ourselves, and saw the checkers of
#   `convnext_nb.checks` name two classic mistakes.
#
# ## What to try next
#
# - Set `grn.gamma` to 5 or to -1 in the GRN cell above: when does GRN
#   suppress the strong channels instead of amplifying them?
# - Change `std` and `alpha` in the DyT cell: which $\alpha$ keeps inputs of
#   standard deviation 10 out of the tails?
# - Time LN against DyT with `torch.compile(layer)` in `fwd_bwd_seconds`.
# - Run `activation_stds` on `create_model("atto", norm="dyt")` after you
#   set every DyT's `alpha` to 5: do the branches grow to LN's size?
#
# Next, `03_data_and_training` builds the data pipeline and the training
# loop that the experiments share.
