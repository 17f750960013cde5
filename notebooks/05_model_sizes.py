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
# # 05 · Model sizes (the report's Test 3)
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/convnext-nb/convnext-nb/blob/main/notebooks/05_model_sizes.ipynb)
#
# Test 3 trained ConvNeXt V2 atto, nano and base with RAdam (lr 1e-3) for 50
# epochs and drew Graph 2. The report saw 32.1 % (atto, epoch 8), 32.6 %
# (nano, epoch 37) and 35.7 % (base, epoch 21) on CIFAR-100. Base has about
# 25 times atto's parameters: did it help on 32x32 images? First the sizes,
# then the runs, then the answer.

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
# ## How big is each model?
#
# Parameters and multiply-accumulates (MACs) of one 32x32 image, counted on
# models built on PyTorch's `meta` device (no memory, no weights), for the
# paper's 4x4 stem and for the two CIFAR stems of notebook 08.

# %%
import torch

from convnext_nb import EXPERIMENTS, count_parameters, create_model
from convnext_nb.models import count_macs

sizes = {}  # model -> (parameters, MACs with the 4x4 stem)
stems = ["patchify", "cifar_s2", "cifar"]
print(f"{'model':8} {'params':>8} {'MACs 4x4':>9} {'cifar_s2':>9} {'cifar':>9}")
for cfg in EXPERIMENTS["test3_model_sizes"].runs:
    with torch.device("meta"):
        models = {s: create_model(cfg.model, 10, stem=s) for s in stems}
    macs = {s: count_macs(m) / 1e6 for s, m in models.items()}
    sizes[cfg.model] = (count_parameters(models["patchify"]), macs["patchify"])
    name = cfg.model.removeprefix("convnextv2_")
    print(f"{name:8} {sizes[cfg.model][0] / 1e6:7.2f}M", end=" ")
    print(" ".join(f"{macs[s]:8.0f}M" for s in stems))

# %% [markdown]
# (Counted with 10 classes, as Fashion-MNIST has; CIFAR-100's 100 classes add
# a larger head.)

# %%
from IPython.display import Markdown, display

(atto_p, atto_m), _, (base_p, base_m) = sizes.values()
reading = (
    f"Base has {base_p / atto_p:.0f}x atto's parameters and costs {base_m / atto_m:.0f}x "
    "its MACs per image: every epoch of base is that much more work."
)
display(Markdown(reading))

# %% [markdown]
# ## Where the pixels go
#
# The 4x4 stem is a convolution with kernel 4 and stride 4: a 32x32 image
# becomes an 8x8 map before the first block, and each of the three
# downsampling layers halves it. The sizes, read from a model's own stages:


# %%
def stage_shapes(model, X):
    """The (C, H, W) shape after each of the four stages."""
    shapes = []
    for downsample, stage in zip(model.downsample_layers, model.stages, strict=True):
        X = stage(downsample(X))
        shapes.append(tuple(X.shape[1:]))
    return shapes


# %% [markdown]
# For atto with the paper's 4x4 stem and with the stride-2 CIFAR stem:

# %%
X = torch.zeros(1, 3, 32, 32)
with torch.no_grad():
    for stem in ["patchify", "cifar_s2"]:
        shapes = stage_shapes(create_model("atto", 10, stem=stem), X)
        print(f"{stem:9}", "  ".join(f"{h}x{w}" for _, h, w in shapes))

# %% [markdown]
# With the 4x4 stem stage 4 works on a 1x1 map: its 7x7 depthwise
# convolutions see a single pixel (only their centre weight ever touches
# data), and stage 3 works on 2x2. Base adds channels and depth (27 blocks in
# stage 3), but every one of them runs at these sizes: more channels cannot
# give back the resolution that the stem threw away. With training on
# unaugmented images, this is why the report's models all stall near 35 %,
# whatever their size.
#
# ## The reference runs
#
# Training the three models for 50 epochs takes many hours on a CPU, so each
# run was trained once and ships with the package: Fashion-MNIST with 5,000
# training images (500 per class, as CIFAR-100 has), the 1,000-image
# validation split and the 10,000-image test set. They are not CIFAR-100:
# compare shapes and orderings with the report, not accuracies. (When your
# own finished CIFAR-100 runs are under `runs/`, `course_runs` returns those.)

# %%
from convnext_nb.reference import course_runs

runs, source = course_runs("test3_model_sizes")
display(Markdown(f"The table and curves below are {source}."))

# %% [markdown]
# Base is the run of Test 1 (the report trained it once and used it twice).
# Where a run was shortened to fit the machine, the cell says so:

# %%
for r in runs:
    if r.settings.get("shortened"):
        print(f"{r.config.label}: {r.settings['shortened']}")

# %% [markdown]
# Best validation accuracy, the test accuracy of that best epoch, and the
# report's CIFAR-100 numbers beside them:

# %%
from convnext_nb.notebook import results_rows, show_table

show_table(results_rows(runs))

# %% [markdown]
# Atto against nano, both run to the end:

# %%
atto, nano, base = runs
gap = 100 * (nano.history.best_val_acc - atto.history.best_val_acc)
verb = "beats" if gap > 0 else "trails" if gap < 0 else "ties with"
time_ratio = sum(nano.history.epoch_time) / sum(atto.history.epoch_time)
reading = (
    f"Nano {verb} atto by {abs(gap):.1f} points of best validation accuracy "
    f"({100 * nano.history.best_val_acc:.1f} % at epoch {nano.history.best_epoch} vs "
    f"{100 * atto.history.best_val_acc:.1f} % at epoch {atto.history.best_epoch}), "
    f"and took {time_ratio:.1f}x atto's training time. The report saw nano 0.5 "
    "points ahead of atto (32.6 vs 32.1 %) on CIFAR-100."
)
display(Markdown(reading))

# %% [markdown]
# ## Graph 2, redrawn
#
# The report's Graph 2 from the same runs (saved in `figures/`). The title
# names the machine that made them and which runs were shortened.

# %%
from convnext_nb import plot_runs

short = [r for r in runs if r.settings.get("shortened")]
note = "".join(
    f"; {r.config.label} shortened to {r.history.epochs} of {r.config.epochs} epochs" for r in short
)
title = f"Graph 2: RAdam, several model sizes\n{source}{note}"
plot_runs(runs, title, name="graph2_model_sizes")

# %% [markdown]
# ## Did base help on 32x32?
#
# A run cut short can only be compared at the epochs it has. So we compare
# all three at the last epoch that every run reached, and say what the
# shortened run leaves open.

# %%
common = min(r.history.epochs for r in runs)
at_common = {r.config.label: 100 * r.history.val_acc[common - 1] for r in runs}
best_label = max(at_common, key=at_common.get)
print(f"validation accuracy at epoch {common}:")
for label, acc in at_common.items():
    print(f"  {label:5} {acc:5.1f} %")

# %% [markdown]
# The answer, from these numbers:

# %%
import statistics

base_short = base.history.epochs < base.config.epochs
small_best = max(atto.history.best_val_acc, nano.history.best_val_acc)
if base_short:
    cut = (
        f"Base was trained for only {base.history.epochs} of {base.config.epochs} "
        f"epochs here, so its best epoch is not comparable with the "
        f"{atto.history.epochs}-epoch runs: "
        f"the reference runs cannot say whether base ends above "
        f"{100 * small_best:.1f} %, the best the smaller models reached."
    )
else:
    more = "above" if base.history.best_val_acc > small_best else "not above"
    cut = f"Run to the end, base's best is {more} the smaller models' best."
epoch_ratio = statistics.median(base.history.epoch_time) / statistics.median(
    atto.history.epoch_time
)
reading = (
    f"From atto to nano, the extra width {'bought' if gap > 0 else 'did not buy'} "
    f"accuracy ({gap:+.1f} points). At epoch {common}, {best_label} leads "
    f"({at_common[best_label]:.1f} %). {cut} What they do show: base costs "
    f"{base_m / atto_m:.0f}x atto's MACs per image, and each of its epochs took "
    f"{epoch_ratio:.0f}x as long as atto's here. "
    "The report's base gained 3.6 points over atto (35.7 vs 32.1 %) for 25x the "
    "parameters, and all three stalled in the same low band: the stage sizes "
    "above, not the model's width, limit what it can see."
)
display(Markdown(reading))

# %% [markdown]
# To run base to the end, use a GPU: the same command that made these
# reference runs remakes it there:
#
# ```
# python -m convnext_nb reference --device cuda --only test1_base_radam --force
# ```

# %% [markdown]
# ## Exercise: the stage sizes of a stem
#
# The stem is a convolution whose kernel equals its stride $s$ (no padding),
# so it turns an $n \times n$ image into $\lfloor n / s \rfloor$ pixels a
# side. Stage 1 runs at that size; each of the three downsampling layers
# between the stages (a 2x2 convolution, stride 2) halves it, rounding down.
# Write `stage_sizes(image_size, stem_stride)` returning the four stages'
# sizes: 32 px with the paper's stride-4 stem gives 8, 4, 2, 1. The checker
# tries other sizes and strides (odd sizes too) and names the usual slips:
# forgetting the stem, halving four times, rounding up or not at all.


# %%
def stage_sizes(image_size, stem_stride):
    """Feature-map side of each of the 4 stages, as a list of 4 ints."""
    # YOUR CODE HERE
    raise NotImplementedError("compute the four stage sizes")


# %% [markdown]
# Run the checker:

# %%
from convnext_nb.checks import check_stage_sizes

check_stage_sizes(stage_sizes)

# %% [markdown]
# Stuck? In a new cell, run
# `from convnext_nb.checks import show_solution; show_solution("stage_sizes")`.
#
# Once it passes, try `stage_sizes(32, 2)`: the stride-2 stem keeps stage 4
# at 2x2 pixels, where a 7x7 depthwise convolution still sees some
# neighbours.

# %% [markdown]
# ## Your own run
#
# The three runs with `run_experiment`. In quick mode (as when this notebook
# is built) they train quarter-width models for a few steps on a small
# subset: their numbers only show that the code runs. Outside quick mode they
# train on CIFAR-100, are saved under `runs/` (base is shared with Test 1),
# and `course_runs` above shows them the next time.

# %%
from convnext_nb import run_experiment
from convnext_nb.notebook import fresh_runs_dir

runs_dir = fresh_runs_dir("05_model_sizes")  # runs/, or in quick mode an emptied folder
my_runs = run_experiment("test3_model_sizes", runs_dir=runs_dir)

# %% [markdown]
# The seconds each of your runs took, to compare with the MACs above:

# %%
for run in my_runs:
    print(f"{run.config.label}: {sum(run.history.epoch_time):.1f} s of training")

# %% [markdown]
# ## Try it yourself
#
# Pick a model size (and a stem: `cifar_s2` keeps 4x more pixels), press
# **Train**, and watch the curves; **Stop** keeps what was trained.

# %% tags=["nbval-ignore-output"]
from convnext_nb import TrainingPanel

TrainingPanel("test3_model_sizes", runs_dir=runs_dir)

# %% [markdown]
# ## Summary
#
# In this notebook we counted parameters and MACs of atto, nano and base for
# three stems, read the stage sizes (8/4/2/1 pixels with the 4x4 stem on
# 32x32) from a model, put the reference runs beside the report's Test 3,
# redrew Graph 2, answered whether base helped (with what a shortened run
# can and cannot say), and trained the three models ourselves.
#
# ## What to try next
#
# - Rerun the `stage_shapes` cell for `stem="cifar"` (stride 1): what size
#   does stage 4 get, and what happens to the MACs in the first table?
# - Train atto with the `cifar_s2` stem in the panel and compare its curve
#   with the atto reference run above.
# - On a GPU, make the full base run with the command above and rerun this
#   notebook: does base end above nano?
