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
# # 06 · Dynamic Tanh vs LayerNorm (the report's Tests 4 and 5)
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/convnext-nb/convnext-nb/blob/main/notebooks/06_dyt_vs_ln.ipynb)
#
# The report swapped every LayerNorm of a ConvNeXt V2 tiny for Dynamic Tanh,
# `DyT(x) = weight * tanh(alpha * x) + bias`, and trained both for 20 epochs
# with RAdam (lr 1e-3). It saw 31.8 % (LayerNorm, epoch 5) and 31.1 % (DyT,
# epoch 16) on CIFAR-100. Here we read the two layers' code, redraw the
# report's Graph 3 from reference runs, find out why DyT starts at chance,
# and measure which of the two is faster.

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
# ## The two layers
#
# DyT keeps no statistics: every element is squashed on its own by a tanh
# whose steepness `alpha` is one learnable number (0.5 at the start).

# %%
import inspect

from convnext_nb import DynamicTanh, LayerNorm

print(inspect.getsource(DynamicTanh.forward))

# %% [markdown]
# LayerNorm instead computes a mean and a variance over the channels of
# every pixel and rescales by them (`F.layer_norm`, one fused kernel):

# %%
print(inspect.getsource(LayerNorm.forward))

# %% [markdown]
# ## The report's settings
#
# Tests 4 and 5 are the same run but for `norm`. The configs below are what
# the reference runs and your own runs train; `cfg.replace(...)` makes a
# changed copy if you want to try other settings.

# %%
from convnext_nb import EXPERIMENTS

for cfg in EXPERIMENTS["dyt_vs_ln"].runs:
    print(
        f"{cfg.name}: {cfg.model}, norm={cfg.norm}, {cfg.optimizer} lr {cfg.lr:g}, "
        f"batch {cfg.batch_size}, {cfg.epochs} epochs, seed {cfg.seed}"
    )

# %% [markdown]
# ## The reference runs
#
# Training tiny twice for 20 epochs takes hours on a CPU, so both runs were
# trained once and ship with the package: Fashion-MNIST with 5,000 training
# images (500 per class, as CIFAR-100 has), the 1,000-image validation split
# and the 10,000-image test set, at the report's epochs and batch size. They
# are not CIFAR-100: compare shapes and orderings with the report, not
# accuracies. (When your own finished CIFAR-100 runs are under `runs/`,
# `course_runs` returns those instead.)

# %%
from IPython.display import Markdown, display

from convnext_nb.reference import course_runs

runs, source = course_runs("dyt_vs_ln")
ln_run, dyt_run = runs
display(Markdown(f"The curves and tables below are {source}."))

# %% [markdown]
# Best validation accuracy, the test accuracy of that best epoch, and the
# report's CIFAR-100 numbers beside them:

# %%
from convnext_nb.notebook import results_rows, show_table

show_table(results_rows(runs))

# %% [markdown]
# Which one wins, and when each peaks:

# %%
ln_h, dyt_h = ln_run.history, dyt_run.history
gap = 100 * (ln_h.best_val_acc - dyt_h.best_val_acc)
verb = "leads" if gap > 0 else "trails" if gap < 0 else "ties with"
order = (dyt_h.best_epoch > ln_h.best_epoch) - (dyt_h.best_epoch < ln_h.best_epoch)
when = {1: "later than", -1: "earlier than", 0: "at the same epoch as"}[order]
p, n_val = ln_h.best_val_acc, ln_run.settings["val_size"]
se = 100 * (p * (1 - p) / n_val) ** 0.5  # standard error of one accuracy
same = "the same order as" if gap > 0 else "not the order of"
reading = (
    f"LayerNorm {verb} DyT by {abs(gap):.1f} points of best validation accuracy "
    f"({100 * ln_h.best_val_acc:.1f} % at epoch {ln_h.best_epoch} vs "
    f"{100 * dyt_h.best_val_acc:.1f} % at epoch {dyt_h.best_epoch}); DyT peaks "
    f"{when} LayerNorm. The report saw 31.8 % (epoch 5) vs 31.1 % (epoch 16) "
    f"on CIFAR-100, LayerNorm ahead and DyT peaking later: {same} the report's "
    f"best accuracies. With one seed and {n_val:,} validation images, one "
    f"accuracy has a standard error of about {se:.1f} points."
)
display(Markdown(reading))

# %% [markdown]
# ## Graph 3, redrawn
#
# The report's Graph 3 from the same runs (saved in `figures/`). The title
# names the data and the machine that made them.

# %%
from convnext_nb import plot_runs

title = f"Graph 3: Dynamic Tanh vs LayerNorm (tiny, RAdam)\n{source}"
plot_runs(runs, title, name="graph3_dyt_vs_ln")

# %% [markdown]
# What the curves show, epoch by epoch:

# %%
import math

chance = 1 / ln_run.settings["num_classes"]
first_ln = ln_h.val_acc[0]
catch = next((i + 1 for i, a in enumerate(dyt_h.val_acc) if a >= first_ln), None)
catch_text = f"epoch {catch}" if catch else "no epoch of the run"
reading = (
    f"Mean training loss over epoch 1: LayerNorm {ln_h.train_loss[0]:.3f}, DyT "
    f"{dyt_h.train_loss[0]:.3f} (a model that scores every class alike has "
    f"ln {1 / chance:.0f} = {math.log(1 / chance):.4f}). After epoch 1 LayerNorm "
    f"is at {100 * first_ln:.1f} % and DyT at {100 * dyt_h.val_acc[0]:.1f} %; "
    f"DyT first reaches LayerNorm's epoch-1 accuracy at {catch_text}. After "
    f"{dyt_h.epochs} epochs: DyT {100 * dyt_h.val_acc[-1]:.1f} %, LayerNorm "
    f"{100 * ln_h.val_acc[-1]:.1f} %."
)
display(Markdown(reading))

# %% [markdown]
# ## Why DyT sits at chance at first
#
# In quick mode (your own run, below) the DyT model sits at a training loss
# of 2.3026 = ln 10 for all its steps: the loss of a model that gives every
# class the same score. Is DyT's tanh saturating? We push one seeded batch
# through fresh LN and DyT tiny models and measure the standard deviation of
# the activations after each stage, of the logits, and of the gradient that
# reaches the stem's weights.


# %%
import torch
import torch.nn.functional as F

from convnext_nb import create_model


def init_stats(norm, X, y):
    """Std after each stage, of the logits, and the stem's gradient norm."""
    model = create_model("convnextv2_tiny", num_classes=10, norm=norm, seed=0)
    stds, x = [], X
    for downsample, stage in zip(model.downsample_layers, model.stages, strict=True):
        x = stage(downsample(x))
        stds.append(x.std().item())
    logits = model.head(model.norm(x.mean(dim=(-2, -1))))
    loss = F.cross_entropy(logits, y)
    loss.backward()
    stem_grad = model.downsample_layers[0][0].weight.grad.norm().item()
    return stds, logits.std().item(), loss.item(), stem_grad


# %% [markdown]
# The same batch (8 normalised random images) through both models:

# %%
torch.manual_seed(0)
X, y = torch.randn(8, 3, 32, 32), torch.arange(8)
stats = {norm: init_stats(norm, X, y) for norm in ["ln", "dyt"]}
print(
    f"{'':6}{'stage 1':>9}{'stage 2':>9}{'stage 3':>9}{'stage 4':>9}"
    f"{'logits':>9}{'loss':>8}{'stem grad':>11}"
)
for norm, (stds, logit_std, loss, grad) in stats.items():
    row = "".join(f"{s:9.1e}" for s in stds)
    print(f"{norm:6}{row}{logit_std:9.1e}{loss:8.4f}{grad:11.1e}")

# %% [markdown]
# What the table says:

# %%
ln_stds, ln_logit, _, ln_grad = stats["ln"]
dyt_stds, dyt_logit, dyt_loss, dyt_grad = stats["dyt"]
reading = (
    f"With DyT the activations shrink at every stage (std {dyt_stds[0]:.1e} after "
    f"stage 1, {dyt_stds[-1]:.1e} after stage 4, against LayerNorm's "
    f"{ln_stds[0]:.1e} and {ln_stds[-1]:.1e}), so the logits have std "
    f"{dyt_logit:.1e} and the loss is {dyt_loss:.4f}: chance. The tanh is not "
    f"saturated, the opposite: its inputs are tiny, so it works as a plain "
    f"scale by alpha = 0.5. The stem's gradient is {ln_grad / dyt_grad:.0f} "
    "times smaller than with LayerNorm."
)
display(Markdown(reading))

# %% [markdown]
# The reason is the one [notebook 02](02_normalization.ipynb#Why-a-DyT-model-starts-slower)
# shows for atto (its [section on alpha](02_normalization.ipynb#Dynamic-Tanh-and-its-alpha)
# shows what alpha does to small and large inputs). Weights start small
# (std 0.02): a convolution of such weights shrinks what it receives.
# LayerNorm rescales every activation back to
# standard deviation 1 (stem, each downsample, each block, the head); DyT at
# alpha = 0.5 only halves it. So each stage gets smaller, the head sees
# almost nothing, and every gradient is scaled down by the same factors.
#
# The model still learns because RAdam (like Adam) divides each step by a
# running size of its gradient: tiny gradients give normal-sized steps once
# its rectification lets the adaptive step in (its first few steps are plain
# momentum steps, tiny here). The weights and `alpha` grow until the signal
# reaches the head; how long that took in the reference run is what the
# reading under Graph 3 measured. Quick mode's few steps are too few for
# that, so a quick DyT run stays at 2.3026 (ln 10).
#
# ## Which one is faster?
#
# DyT needs no mean or variance, but that does not make it faster
# everywhere. DyT's training speed as a multiple of LayerNorm's, as measured
# for this course's issue 9 (one training step, batch 128, 32x32, with
# `python -m benchmarks --sections norm`):
#
# | machine | atto | nano | tiny |
# |---|---|---|---|
# | 2-core CPU | 0.49x (DyT slower) | - | 0.60x |
# | H200, bf16 autocast | 1.12x (DyT faster) | 1.31x | 1.47x |
#
# On a CPU, `tanh` is an expensive element-wise function (many cycles per
# element) and DyT runs as several separate passes over the activation
# (scale, tanh, multiply-add, and in the backward a sum over every element
# for alpha's gradient), while `F.layer_norm` is one well-optimised fused
# kernel. On a GPU both are limited by memory traffic, not arithmetic, and
# DyT skips LayerNorm's two reductions per pixel, so it wins there.
#
# Time it here: one training step (forward, backward, RAdam step) of atto,
# LN and DyT taking turns so that a busy machine slows both alike.

# %%
import statistics
import time

from convnext_nb import get_device


def step_seconds(model, X, y, optimizer):
    """Seconds for one training step of model on (X, y)."""
    start = time.perf_counter()
    optimizer.zero_grad()
    F.cross_entropy(model(X), y).backward()
    optimizer.step()
    if X.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


# %% tags=["nbval-ignore-output"]
device = get_device()
X = torch.randn(32, 3, 32, 32, device=device)
y = torch.randint(0, 10, (32,), device=device)
models = {n: create_model("atto", 10, norm=n).to(device) for n in ["ln", "dyt"]}
opts = {n: torch.optim.RAdam(m.parameters(), lr=1e-3) for n, m in models.items()}
times = {n: [] for n in models}
for repeat in range(6):  # repeat 0 warms up
    for n, m in models.items():
        seconds = step_seconds(m, X, y, opts[n])
        if repeat:
            times[n].append(seconds)
speed = statistics.median(times["ln"]) / statistics.median(times["dyt"])
print(f"{device}: DyT trains at {speed:.2f}x LayerNorm's speed (atto, batch 32)")

# %% [markdown]
# Compared with the measured numbers:

# %% tags=["nbval-ignore-output"]
cpu_like = abs(speed - 0.49) < abs(speed - 1.12)
reading = (
    f"Here DyT runs at {speed:.2f}x LayerNorm's speed: "
    f"{'slower' if speed < 1 else 'faster'}, closer to the "
    f"{'2-core CPU (0.49x)' if cpu_like else 'H200 (1.12x)'} measurement for atto."
)
display(Markdown(reading))

# %% [markdown]
# The reference runs are a second measurement on one machine: the seconds
# each epoch took (training and validation, bf16 autocast, one CPU thread).
# They ran beside other jobs, so only a large gap means much.

# %%
ln_epoch = statistics.median(ln_h.epoch_time)
dyt_epoch = statistics.median(dyt_h.epoch_time)
reading = (
    f"Median epoch: LayerNorm {ln_epoch:.0f} s, DyT {dyt_epoch:.0f} s, so DyT "
    f"trained at {ln_epoch / dyt_epoch:.2f}x LayerNorm's speed on the machine that "
    "made the reference runs."
)
display(Markdown(reading))

# %% [markdown]
# ## Exercise: DyT on a convolution's output
#
# Inside a block DyT sees channels-last input (N, H, W, C), but in the stem
# and the downsampling layers it gets a convolution's output, (N, C, H, W).
# Write DyT for that layout as a plain function: `x` is (N, C, H, W),
# `alpha` one scalar (shape (1,)), `weight` and `bias` one value per channel
# (shape (C,)), and the result is $w \cdot \tanh(\alpha x) + b$ with $w$ and
# $b$ applied per channel. The checker compares it with the package's
# `DynamicTanh(C, channels_last=False)` and names the usual slips: weight and
# bias along the wrong axis, alpha outside the tanh or missing, the affine
# part inside the tanh.
#
# Before you run the checker, predict: with $\alpha = 0.5$, what range can a
# fresh DyT's output take, whatever its input? (Answer below the checker.)

# %%
import torch


def dyt(x, alpha, weight, bias):
    """DyT on x: (N, C, H, W); alpha (1,), weight and bias (C,)."""
    # YOUR CODE HERE
    raise NotImplementedError("write dyt")


# %% [markdown]
# Run the checker:

# %%
from convnext_nb.checks import check_dyt_channels_first

check_dyt_channels_first(dyt)

# %% [markdown]
# Stuck? In a new cell, run
# `from convnext_nb.checks import show_solution; show_solution("dyt_channels_first")`.
#
# The prediction: a fresh DyT has weight 1 and bias 0, so its output is
# $\tanh(0.5 x)$, never outside $[-1, 1]$, whatever the input's range. The
# cell measures it on inputs of growing size:

# %%
from convnext_nb import DynamicTanh

fresh = DynamicTanh(3, channels_last=False)
for scale in [1, 10, 100]:
    gen = torch.Generator().manual_seed(0)
    x = scale * torch.randn(2, 3, 8, 8, generator=gen)
    y = fresh(x).detach()
    x_range = f"[{x.min():7.1f}, {x.max():6.1f}]"
    print(f"input in {x_range} -> output in [{y.min():.3f}, {y.max():.3f}]")

# %% [markdown]
# ## Your own run
#
# The same two runs with `run_experiment`. In quick mode (as when this
# notebook is built) they train quarter-width models for a few steps on a
# small subset: their numbers only show that the code runs. Outside quick
# mode they train on CIFAR-100 and are saved under `runs/`; the next time
# this notebook runs, `course_runs` above shows them instead of the
# reference runs.

# %%
from convnext_nb import run_experiment
from convnext_nb.notebook import fresh_runs_dir

runs_dir = fresh_runs_dir("06_dyt_vs_ln")  # runs/, or in quick mode an emptied folder
my_runs = run_experiment("dyt_vs_ln", runs_dir=runs_dir)

# %% [markdown]
# The `alpha` your DyT run learned in each layer, stem to head (every one
# started at 0.5):

# %%
dyt_model = my_runs[1].load_model(best=False)
alphas = [m.alpha.item() for m in dyt_model.modules() if isinstance(m, DynamicTanh)]
print(f"{len(alphas)} DyT layers; alpha from {min(alphas):.3f} to {max(alphas):.3f}")

# %% [markdown]
# ## Try it yourself
#
# Pick the settings and press **Train**; the plot updates after every epoch
# and **Stop** keeps what was trained (press Train again to continue).

# %% tags=["nbval-ignore-output"]
from convnext_nb import TrainingPanel

TrainingPanel("test5_tiny_dyt", runs_dir=runs_dir)

# %% [markdown]
# ## Summary
#
# In this notebook we read DyT's and LayerNorm's code side by side, redrew
# the report's Graph 3 from reference runs on Fashion-MNIST, measured why a
# fresh DyT model sits at chance (its activations and logits shrink stage by
# stage, the tanh is nearly linear, and only the optimizer's adaptive steps
# get it going), compared the two layers' speed with the measured CPU and GPU
# numbers and on this machine, and trained both ourselves.
#
# ## What to try next
#
# - Start DyT with a larger `alpha` (`DynamicTanh(dim, alpha_init_value=2.0)`)
#   and rerun the `init_stats` cell: how much larger are the logits?
# - Time the step on a GPU (Colab: Runtime > Change runtime type > GPU), with
#   `torch.autocast("cuda", dtype=torch.bfloat16)` around the forward pass.
# - Train both runs on CIFAR-100 (unset `CONVNEXT_NB_QUICK`) and see whether
#   DyT's slow start shows there too.
