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
# with RAdam (lr 1e-3). Here we rerun both, draw the report's Graph 3, and
# look at what DyT's learnable `alpha` ends up doing.

# %%
import sys

if "google.colab" in sys.modules:
    get_ipython().run_line_magic(  # noqa: F821 (Colab only; never reinstalls torch)
        "pip", 'install -q "convnext-nb @ git+https://github.com/convnext-nb/convnext-nb"'
    )

from convnext_nb.notebook import setup_notebook

setup_notebook()

# %% [markdown]
# The two runs as the package stores them, with the report's numbers beside
# our settings.

# %%
from convnext_nb import EXPERIMENTS, plot_graph, run_experiment
from convnext_nb.experiments import format_table, fresh_runs_dir, results_table

for cfg in EXPERIMENTS["dyt_vs_ln"].runs:
    print(
        f"{cfg.name}: {cfg.model}, norm={cfg.norm}, {cfg.optimizer} lr {cfg.lr}, "
        f"{cfg.epochs} epochs -> report {cfg.report_acc} % at epoch {cfg.report_epoch}"
    )

# %% [markdown]
# Outside quick mode the runs are saved under `runs/` and loaded when you run
# this notebook again; in quick mode they go to a fresh folder.

# %%
runs_dir = fresh_runs_dir("06_dyt_vs_ln")
runs = run_experiment("dyt_vs_ln", runs_dir=runs_dir)

# %% [markdown]
# Our best validation accuracies beside the report's. The `data` column says
# what produced each number: only a full `cifar100` row can be compared with
# the report.

# %%
print(format_table(results_table(runs)))

# %% [markdown]
# The report's Graph 3, redrawn from the saved runs (also saved in `figures/`).

# %%
fig = plot_graph("graph3", runs)
fig

# %% [markdown]
# ## What DyT learned
#
# DyT has no statistics: `alpha` alone decides how hard `tanh` squashes its
# input. A small `alpha` keeps DyT nearly linear; a large one saturates. Here
# are the trained `alpha` of every DyT layer, in order from stem to head.

# %%
import torch

from convnext_nb import DynamicTanh

dyt_model = runs[1].load_model(best=False)
alphas = [m.alpha.item() for m in dyt_model.modules() if isinstance(m, DynamicTanh)]
print(f"{len(alphas)} DyT layers; alpha started at 0.5 in each")
print("first 4:", [round(a, 3) for a in alphas[:4]])
print("last 4: ", [round(a, 3) for a in alphas[-4:]])

# %% [markdown]
# DyT is cheaper than LayerNorm only when it is fused into one kernel; as plain
# PyTorch ops the two take similar time. Compare both on one batch here (the
# printed times depend on your machine).

# %%
import time

ln_model = runs[0].load_model(best=False)
X = torch.randn(64, 3, 32, 32)
for name, model in [("LayerNorm", ln_model), ("DyT", dyt_model)]:
    model.eval()
    with torch.inference_mode():
        model(X)
        t0 = time.perf_counter()
        for _ in range(3):
            model(X)
    print(f"{name}: {(time.perf_counter() - t0) / 3 * 1000:.1f} ms per batch of 64")

# %% [markdown]
# ## Try it yourself
#
# Pick the settings and press **Train**; the plot updates after every epoch
# and **Stop** keeps what was trained (press Train again to continue). The
# panel starts at Test 5's settings, so Train with them loads the saved run.

# %%
from convnext_nb import TrainingPanel

panel = TrainingPanel("test5_tiny_dyt", runs_dir=runs_dir)
panel

# %% [markdown]
# Without a browser (as when this notebook is tested) the next cell does what
# the Train button does, with the panel's current settings, and waits.

# %%
run = panel.train(wait=True)
panel.figure()

# %% [markdown]
# In this notebook we trained ConvNeXt V2 tiny with LayerNorm and with Dynamic
# Tanh from the same seed (the same convolution weights), put the best accuracies beside the
# report's Tests 4 and 5, redrew Graph 3, looked at the `alpha` each DyT layer
# learned, and trained interactively with the panel.
