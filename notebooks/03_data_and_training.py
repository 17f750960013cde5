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
# ## The data
#
# CIFAR-100: 50,000 training and 10,000 test images of 32x32 pixels in 100
# classes. Like the report, we hold 1,000 training images out as a
# validation set to pick the best epoch. In quick mode (no download) we use
# a small Fashion-MNIST subset shipped with the package instead, padded to
# 32x32 and copied to 3 channels, so the same code runs.

# %%
from convnext_nb import quick_mode
from convnext_nb.data import make_loaders, quick_dataset

dataset = quick_dataset() if quick_mode() else "cifar100"
sizes = {"subset": 512, "val_size": 256} if quick_mode() else {}
train_loader, val_loader, test_loader = make_loaders(dataset, batch_size=64, **sizes)
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
    """A figure with the images (C, H, W) in a grid, each with its title."""
    nrows = (len(images) + ncols - 1) // ncols
    fig = Figure(figsize=(1.5 * ncols, 1.7 * nrows), layout="constrained")
    for i, (img, title) in enumerate(zip(images, titles, strict=True)):
        ax = fig.add_subplot(nrows, ncols, i + 1)
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
# validation accuracy stalled). The report's suggestion, "basic" here, is
# torchvision's `RandomCrop(32, padding=4)` plus `RandomHorizontalFlip()`:
# pad the image with 4 black pixels on every side, cut a 32x32 window at a
# random offset (0 to 8 pixels down and right), and mirror it left-right
# with probability 1/2. The loader keeps every training image in memory as
# raw uint8 pixels and augments a whole batch at once with
# `random_crop_flip`. Its code:

# %%
import inspect

from convnext_nb.data import random_crop_flip

print(inspect.getsource(random_crop_flip))

# %% [markdown]
# One image, seven times. The padding is black because the crop works on the
# raw pixels, before normalisation.

# %%
import torch

image = train_loader.images[:1].cpu()  # (1, 3, 32, 32) uint8
generator = torch.Generator().manual_seed(0)
augmented = [random_crop_flip(image, generator)[0] for _ in range(7)]
titles = ["original"] + [f"augmented {i}" for i in range(1, 8)]
fig = show_grid([image[0]] + augmented, titles)
save_fig(fig, f"03_augmentation_{dataset}")
fig

# %% [markdown]
# `make_loaders(..., augment="basic")` calls exactly this on every training
# batch (never on validation or test images); `"strong"` adds more. Its
# loader draws the whole epoch's offsets and flips first and passes them in
# as `draws` (on a GPU it then augments 64 batches in one call): the
# images are those of drawing batch by batch, and the GPU never waits for
# the CPU's generator.
#
# ## Exercise: crop and flip, image by image
#
# The package's version does the whole batch with one `gather`, which is
# fast but hard to read. Write the plain version: for a uint8 batch `x` of
# shape (N, C, H, W), pad every image with 4 zero pixels on each side
# (`F.pad`), cut an H x W window at its own random offset, and mirror it
# along the width with probability 1/2. Draw every random number from
# `generator` (`torch.randint(..., generator=generator)`), so a seeded run
# repeats. The checker cannot compare random crops pixel by pixel; it finds
# the window each of your output images came from and checks the padding,
# the offsets, the flip axis and that each image gets its own draw.

# %%
import torch.nn.functional as F


def crop_flip(x, generator, padding=4):
    """RandomCrop(H, padding) + horizontal flip on x: (N, C, H, W) uint8."""
    # YOUR CODE HERE: pad with F.pad, draw an offset and a flip per image,
    # cut the windows, mirror the flipped ones along W
    raise NotImplementedError("write crop_flip")


# %% [markdown]
# Run the checker; it prints what is still wrong, or "Correct!". Stuck? In
# a new cell, run `from convnext_nb.checks import show_solution`, then
# `show_solution("crop_flip")`.

# %%
from convnext_nb.checks import check_crop_flip

check_crop_flip(crop_flip)

# %% [markdown]
# ## The training step
#
# Every batch of training runs the same five operations: put the model in
# training mode, clear the gradients of the previous batch (`backward` adds
# into `.grad`), compute the loss, backpropagate, and let the optimizer
# update the weights. Here they are as a function:


# %%
def train_step(model, optimizer, X, y):
    """One optimizer step on the batch (X, y); returns the loss."""
    model.train()  # check_accuracy left it in eval mode
    optimizer.zero_grad()
    loss = F.cross_entropy(model(X), y)
    loss.backward()
    optimizer.step()
    return loss.item()


# %% [markdown]
# The package's `train_one_epoch` runs the same step (plus mixed precision,
# gradient clipping and a NaN check you can switch on). `check_train_step`
# gives our function and `train_one_epoch` the same model, stale gradients
# and batch, and compares the weights after one step:

# %%
from convnext_nb.checks import check_train_step

check_train_step(train_step)

# %% [markdown]
# Try breaking it: delete `optimizer.zero_grad()` or move
# `optimizer.step()` above `loss.backward()`, rerun both cells, and read
# what the checker says.
#
# ## The training loop
#
# `train(model, optimizer, train_loader, val_loader, epochs)` is the report's
# loop grown up: each epoch it runs that step on every batch, then
# `check_accuracy` on the validation set, and prints the report's line:
# `Epoch 1, loss = ..., Got n / N correct`. It keeps a `History` and, with
# `checkpoint_dir=`, saves the best epoch.

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
# ## Summary
#
# In this notebook we
#
# - loaded the data with its train / validation / test split and looked at
#   images with their class names;
# - checked that normalisation gives each channel mean near 0 and standard
#   deviation near 1;
# - read the loader's batched crop + flip and saw what it does to one
#   image, then wrote a plain, image-by-image version and checked it;
# - wrote the five operations of a training step and checked them against
#   the package's `train_one_epoch`;
# - trained a small ConvNeXt V2 with the `train` / `check_accuracy` loop the
#   experiments use.
#
# ## What to try next
#
# - Change `padding` in the augmentation cell to 8 or 0: what do the seven
#   images look like, and what would a model learn from them?
# - Train with `make_loaders(dataset, augment="basic", ...)` for more epochs
#   and compare `history.val_acc` with the run above.
# - Add `torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)` to
#   `train_step` between `backward` and `step`: `check_train_step` now
#   finds other weights, since the package clips only when asked.
# - Pass `checkpoint_dir="runs/my_first"` to `train`, then restore the best
#   epoch with `history.load_best(model)`.
#
# Next, `04_optimizers` compares the report's three optimizers with this
# loop.
