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
# # 03 · Data and training: the CIFAR-100 pipeline and the training loop
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/convnext-nb/convnext-nb/blob/main/notebooks/03_data_and_training.ipynb)
#
# Before the experiments, the pipeline they all share: the images, the
# train / validation / test split, normalisation, augmentation, and the
# `train` / `check_accuracy` pair the report used.

# %%
import sys

if "google.colab" in sys.modules:
    get_ipython().run_line_magic(  # noqa: F821 (Colab only; never reinstalls torch)
        "pip", 'install -q "convnext-nb @ git+https://github.com/convnext-nb/convnext-nb"'
    )

from convnext_nb.notebook import setup_notebook

setup_notebook()

# %% [markdown]
# ## The data
#
# CIFAR-100: 50,000 training and 10,000 test images of 32x32 pixels in 100
# classes. Like the report, we hold 1,000 training images out as a validation
# set to pick the best epoch. In quick mode (no download) we use Fashion-MNIST
# from Debian's package instead, padded to 32x32 and copied to 3 channels, so
# the same code runs.

# %%
from convnext_nb.experiments import make_loaders, quick_dataset
from convnext_nb.utils import quick_mode

dataset = quick_dataset() if quick_mode() else "cifar100"
train_loader, val_loader, test_loader = make_loaders(
    dataset, batch_size=64, subset=2000 if quick_mode() else None
)
print(f"dataset: {train_loader.dataset_name}, {train_loader.num_classes} classes")
for name, loader in [("train", train_loader), ("val", val_loader), ("test", test_loader)]:
    print(f"{name:5}: {loader.num_samples:6d} images, {len(loader):4d} batches")

# %% [markdown]
# A batch is a pair `(X, y)`: `X` of shape (N, 3, 32, 32), float, and `y` the
# N class indices.

# %%
X, y = next(iter(train_loader))
print("X:", tuple(X.shape), X.dtype, " y:", tuple(y.shape), y.dtype)

# %% [markdown]
# Sixteen training images with their class names. The loader has already
# normalised them, so for display we stretch each image back to [0, 1].

# %%
from matplotlib.figure import Figure

from convnext_nb import save_fig


def show_grid(images, titles, ncols=8):
    fig = Figure(
        figsize=(1.5 * ncols, 1.7 * ((len(images) + ncols - 1) // ncols)), layout="constrained"
    )
    for i, (img, title) in enumerate(zip(images, titles, strict=True)):
        ax = fig.add_subplot((len(images) + ncols - 1) // ncols, ncols, i + 1)
        img = img.float() - img.min()
        ax.imshow((img / img.max()).permute(1, 2, 0).numpy())
        ax.set_title(title, fontsize=8)
        ax.axis("off")
    return fig


fig = show_grid(X[:16], [train_loader.classes[i] for i in y[:16]])
save_fig(fig, f"03_samples_{dataset}")
fig

# %% [markdown]
# ## Normalisation
#
# Each channel is shifted by the dataset's mean and divided by its standard
# deviation, so inputs start near mean 0 and standard deviation 1. Measured
# on this batch:

# %%
print("per-channel mean:", [round(v, 2) for v in X.mean(dim=(0, 2, 3)).tolist()])
print("per-channel std: ", [round(v, 2) for v in X.std(dim=(0, 2, 3)).tolist()])

# %% [markdown]
# ## Augmentation
#
# The report used no augmentation: every epoch shows the same 49,000 images,
# and a big model memorises them (its training loss fell to 0.02 while
# validation accuracy stalled). The report's suggestion, "basic" here, is a
# random crop of the image padded by 4 pixels, plus a random horizontal flip.
# The loader keeps every training image in memory as raw uint8 pixels and
# augments whole batches with `random_crop_flip`; here is one image, seven
# times. The padding is black because the crop works on the raw pixels,
# before normalisation.

# %%
import torch

from convnext_nb.data import random_crop_flip

image = train_loader.images[:1].cpu()  # (1, 3, 32, 32) uint8
generator = torch.Generator().manual_seed(0)
augmented = [random_crop_flip(image, generator)[0] for _ in range(7)]
fig = show_grid([image[0]] + augmented, ["original"] + [f"augmented {i}" for i in range(1, 8)])
save_fig(fig, f"03_augmentation_{dataset}")
fig

# %% [markdown]
# `make_loaders(..., augment="basic")` calls exactly this on every training
# batch (never on validation or test images); `"strong"` adds more.
#
# ## The training loop
#
# `train(model, optimizer, train_loader, val_loader, epochs)` is the report's
# loop grown up: each epoch it runs forward, cross-entropy loss, backward and
# an optimizer step on every batch, then `check_accuracy` on the validation
# set, and prints the report's line: `Epoch 1, loss = ..., Got n / N correct`.
# It keeps a `History` and, with `checkpoint_dir=`, saves the best epoch.

# %%
from convnext_nb import create_model, make_optimizer, train

torch.manual_seed(0)
model = create_model("atto", num_classes=train_loader.num_classes)
optimizer = make_optimizer("adamw", model, lr=2e-3)
history = train(
    model,
    optimizer,
    train_loader,
    val_loader,
    epochs=2,
    max_steps_per_epoch=10 if quick_mode() else None,
    seed=0,
    progress=False,
)

# %% [markdown]
# The history holds one entry per epoch; `summary()` says it in words.

# %%
print(history.summary().splitlines()[0])
print("val acc per epoch:", [round(a, 3) for a in history.val_acc])

# %% [markdown]
# `check_accuracy` alone: the fraction of correct predictions, on any loader.
# We use it on the test split once, at the very end of a study.

# %%
from convnext_nb import check_accuracy

acc = check_accuracy(test_loader, model)

# %% [markdown]
# In this notebook we loaded the data and its train / validation / test
# split, looked at images with their class names, checked the normalisation,
# saw what crop + flip augmentation does to one image, and trained a small
# ConvNeXt V2 with the `train` / `check_accuracy` loop the experiments use.
