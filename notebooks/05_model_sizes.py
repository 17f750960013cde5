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
# epochs and drew Graph 2. Base has 25 times the parameters of atto; did it
# help on 32x32 images? First the sizes, then the runs.

# %%
import sys

if "google.colab" in sys.modules:
    get_ipython().run_line_magic(  # noqa: F821 (Colab only; never reinstalls torch)
        "pip", 'install -q "convnext-nb @ git+https://github.com/convnext-nb/convnext-nb"'
    )

from convnext_nb.notebook import setup_notebook

setup_notebook()

# %% [markdown]
# Parameters and multiply-accumulates (MACs) of one 32x32 image, counted on
# models built on PyTorch's `meta` device (no memory, no weights), for the
# paper's 4x4 stem and for the CIFAR stems of notebook 08.

# %%
import torch

from convnext_nb import EXPERIMENTS, count_flops, count_parameters, create_model

print(f"{'model':8} {'params':>8} {'MACs 4x4':>9} {'cifar_s2':>9} {'cifar':>9}")
for cfg in EXPERIMENTS["test3_model_sizes"].runs:
    macs = {}
    for stem in ["patchify", "cifar_s2", "cifar"]:
        with torch.device("meta"):
            model = create_model(cfg.model, num_classes=100, stem=stem)
        macs[stem] = count_flops(model) / 1e6
    name = cfg.model.removeprefix("convnextv2_")
    print(
        f"{name:8} {count_parameters(model) / 1e6:7.2f}M {macs['patchify']:8.0f}M "
        f"{macs['cifar_s2']:8.0f}M {macs['cifar']:8.0f}M"
    )

# %% [markdown]
# With the 4x4 stem a 32x32 image becomes an 8x8 map in stage 1 and a 1x1
# map in stage 4, where the 7x7 depthwise convolutions see a single pixel.
# More channels cannot give back the resolution that the stem threw away.
#
# ## Train
#
# The three runs of Test 3 (base is the same run as Test 1, so it is trained
# once and shared). Outside quick mode they are saved under `runs/` and
# loaded when the notebook runs again.

# %%
from convnext_nb import run_experiment
from convnext_nb.experiments import fresh_runs_dir

runs_dir = fresh_runs_dir("05_model_sizes")
runs = run_experiment("test3_model_sizes", runs_dir=runs_dir)

# %% [markdown]
# Our best validation accuracy beside the report's (only a full `cifar100`
# row compares with it), and the training time each model took here.

# %%
from convnext_nb.experiments import format_table, results_table

print(format_table(results_table(runs)))

# %%
for run in runs:
    print(f"{run.config.label}: {sum(run.history.epoch_time):.1f} s of training")

# %% [markdown]
# The report's Graph 2, redrawn from the saved runs and saved in `figures/`.

# %%
from convnext_nb import plot_graph

plot_graph("graph2", runs)

# %% [markdown]
# ## Try it yourself
#
# Pick a model size (and a stem: `cifar_s2` keeps 4x more pixels), press
# **Train**, and watch the curves; **Stop** keeps what was trained.

# %%
from convnext_nb import TrainingPanel

panel = TrainingPanel("test3_model_sizes", runs_dir=runs_dir)
panel

# %% [markdown]
# The next cell does what the Train button does and waits (how the notebook
# is tested without a browser). With unchanged settings it loads the atto run.

# %%
run = panel.train(wait=True)
panel.figure()

# %% [markdown]
# In this notebook we counted parameters and MACs of atto, nano and base for
# three stems, trained the report's Test 3 (sharing the base run with Test 1),
# put our numbers beside the report's, redrew Graph 2, and trained with the
# panel.
