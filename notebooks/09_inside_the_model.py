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
# # 09 · Inside a trained model
#
# [![Open In Colab](https://colab.research.google.com/assets/colab-badge.svg)](https://colab.research.google.com/github/convnext-nb/convnext-nb/blob/main/notebooks/09_inside_the_model.ipynb)
#
# Notebooks 04-08 read accuracy curves. This one opens trained models and
# asks three questions the curves cannot answer:
#
# 1. **Where does the seed's stage 4 go blind?** The feature maps of one
#    image, stage by stage, for the paper's 4x4 stem and a stride-2 stem.
# 2. **Why did ConvNeXt V2 add GRN?** The V2 paper's feature-collapse
#    measure, for the same model trained with and without GRN.
# 3. **What does the model get wrong?** A confusion matrix, the accuracy of
#    each class and the mistakes it makes with the most confidence.

# %% [markdown]
# **On Colab** the next cell installs `convnext_nb` from GitHub at one git
# commit, the `commit` in the cell: the package as it was when this notebook
# was built and its outputs below were made. So a later change to the package
# cannot break the notebook; `setup_notebook()` then prints that commit. The
# cell leaves Colab's own torch alone, and elsewhere it installs nothing
# (install the package once with `pip install -e .` in a clone). On Colab
# choose Runtime > Change runtime type > GPU first.

# %%
import sys

from IPython import get_ipython

if "google.colab" in sys.modules:  # on Colab: the package as built (see above)
    commit = "ca2ca6711ca639388c40654ed67e6e0d7e07100b"
    url = f"git+https://github.com/convnext-nb/convnext-nb@{commit}"
    get_ipython().run_line_magic("pip", f'install -q "convnext-nb @ {url}"')

from convnext_nb import get_device
from convnext_nb.notebook import setup_notebook

setup_notebook()
device = get_device()

# %% [markdown]
# ## Three small trained models
#
# Training even a small ConvNeXt takes minutes on a CPU, so the package ships
# three trained ones as small fp16 checkpoints. All are ConvNeXt V2
# atto at half width (channels 20/40/80/160), trained with the same recipe and
# seed on the 5,000 Fashion-MNIST training images of the reference runs; they
# differ in one thing each. Found in the package, loading:

# %%
from convnext_nb.inside import INSIDE_MODELS, RECIPE, checkpoint_path, load_inside_model

models = {name: load_inside_model(name) for name in INSIDE_MODELS}
for name, spec in INSIDE_MODELS.items():
    size = checkpoint_path(name).stat().st_size / 1e6
    print(f"{name:16} stem={spec['stem']:9} GRN={spec['grn']!s:5}  {size:.1f} MB")
print(RECIPE)

# %% [markdown]
# Each checkpoint records how it was made. The command below remakes all three
# (add `--device cuda` on a GPU); `load_inside_model(name, folder=...)` then
# loads your own.

# %%
made = {name: model.made_with for name, model in models.items()}
for name, m in made.items():
    print(f"{name:16} {m['command']}")
    print(f"{'':16} on {m['machine']['device_name']}, torch {m['machine']['torch']}")
    print(
        f"{'':16} {m['train_wall_s']:.0f} s of training, val {m['val_acc']:.1%}, "
        f"test {m['test_acc']:.1%} (10,000 test images)"
    )

# %% [markdown]
# We look at them on Fashion-MNIST test images, which none of them was
# trained on: all 10,000 in a full run; in quick mode the 500 that ship with
# the package.
# Fashion-MNIST is not CIFAR-100: compare what happens inside (shapes,
# orderings) with the papers and the report, not the accuracies.

# %%
from convnext_nb import FASHION_MNIST_CLASSES, quick_mode
from convnext_nb.inside import evaluation_images

X, y = evaluation_images(small=quick_mode())
print(f"{len(y)} Fashion-MNIST test images, {tuple(X.shape[1:])} each")

# %% [markdown]
# ## 1. Where the seed's stage 4 goes blind
#
# A stem with stride $s$ turns a 32x32 image into a $32/s$ map, and each of
# the three downsampling layers halves it. The paper's 4x4 stem ($s = 4$) was
# made for 224x224 ImageNet images (stage 4: 7x7); on 32x32 images it leaves
# 8/4/2/1 pixels. The stride-2 stem keeps 16/8/4/2. Here is one test image
# going through both trained models, stage by stage:

# %%
from convnext_nb.inside import stage_outputs

image = X[:1]
stems = ["patchify_grn", "cifar_s2_grn"]
stages = {name: stage_outputs(models[name], image) for name in stems}
print(f"image 0: {FASHION_MNIST_CLASSES[y[0]]}")
for name, outs in stages.items():
    shapes = ["x".join(map(str, o.shape[1:])) for o in outs]
    print(f"{name:13}", "  ".join(shapes))

# %% [markdown]
# The 8 most active channels of each stage (largest mean absolute value),
# each drawn with its own colour scale; rows 1-4 come from the 4x4 stem,
# rows 5-8 from the stride-2 stem.

# %%
from convnext_nb import save_fig
from convnext_nb.inside import plot_maps


def top_channels(maps, k=8):
    """maps (C, H, W) -> its k most active channels (k, H, W)."""
    return maps[maps.abs().mean(dim=(1, 2)).argsort(descending=True)[:k]]


# %%
stem_label = {"patchify_grn": "4x4 stem", "cifar_s2_grn": "stride-2 stem"}
rows, titles = [], []
for name, outs in stages.items():
    for i, out in enumerate(outs, start=1):
        rows.append(top_channels(out[0]))
        titles.append(f"{stem_label[name]}\nstage {i}: {out.shape[-1]}x{out.shape[-1]}")
fig = plot_maps(rows, titles)
save_fig(fig, "09_stage_maps")
fig

# %% [markdown]
# Stage 4's 7x7 depthwise convolution slides over zero padding wherever the
# map is smaller than the kernel. The share of its 49 taps that land on the
# map, averaged over positions, counted with a convolution of ones:

# %%
import torch
import torch.nn.functional as F


def taps_on_map(size, kernel=7):
    """Mean share of a kernel x kernel conv's taps that fall on a size x size map."""
    ones, weight = torch.ones(1, 1, size, size), torch.ones(1, 1, kernel, kernel)
    taps = F.conv2d(ones, weight, padding=kernel // 2)  # taps on the map, per pixel
    return taps.mean().item() / kernel**2


# %%
from IPython.display import Markdown, display

sizes = {name: [o.shape[-1] for o in outs] for name, outs in stages.items()}
for name, ss in sizes.items():
    print(f"{name:13}", "  ".join(f"{s}x{s}: {taps_on_map(s):4.0%}" for s in ss))

# %% [markdown]
# What that means for the two models, and what they score:

# %%
from convnext_nb import count_macs
from convnext_nb.inside import predict

acc = {}
for name, model in models.items():
    acc[name] = (predict(model, X).argmax(1) == y).float().mean().item()
cost = count_macs(models["cifar_s2_grn"]) / count_macs(models["patchify_grn"])
p4, s2 = taps_on_map(sizes["patchify_grn"][-1]), taps_on_map(sizes["cifar_s2_grn"][-1])
verdict = "beats" if acc["cifar_s2_grn"] > acc["patchify_grn"] else "does not beat"
display(
    Markdown(
        f"With the 4x4 stem each stage-4 channel is one number: its 7x7 kernel has "
        f"{p4:.0%} of its taps on the map (the centre), so the two stage-4 blocks act "
        f"as per-pixel MLPs and {1 - p4:.0%} of their depthwise weights never see the "
        f"image. The stride-2 stem leaves a 2x2 map ({s2:.0%} of taps used). On these "
        f"{len(y)} test images the stride-2 model {verdict} the 4x4-stem one: "
        f"{acc['cifar_s2_grn']:.1%} vs {acc['patchify_grn']:.1%}, for {cost:.1f} times "
        "the multiply-accumulates per image."
    )
)

# %% [markdown]
# ## 2. Why ConvNeXt V2 added GRN
#
# The V2 paper (Section 3) looked at the channels of ConvNeXt V1's MLP (the
# 4x-wide layer after GELU) and found *feature collapse*: many channels dead
# or saturated, or repeating each other. GRN (notebook 02) makes channels
# compete: each is rescaled by its L2 norm over the image divided by the mean
# norm of all channels. The paper measures collapse by the mean pairwise
# cosine distance between channels: flatten each channel's H x W map to a
# vector $X_i$, and average $(1 - \cos(X_i, X_j)) / 2$ over channel pairs
# and images. 0 means every channel carries the same map; orthogonal
# channels give 0.5.
#
# Our two stride-2 models differ only in GRN: `cifar_s2_no_grn` had every
# block's GRN replaced by `nn.Identity()` before training. GRN starts as the
# identity, so both started as the same function. The measure in four lines,
# checked against the package's `channel_cosine_distance`:

# %%
from convnext_nb.inside import block_mlp_features, channel_cosine_distance


def cosine_distance(feats):
    """feats (N, C, H, W) -> mean (1 - cos) / 2 over channel pairs i != j."""
    v = F.normalize(feats.flatten(2), dim=2)  # (N, C, H*W), unit vectors
    d = (1 - v @ v.transpose(1, 2)) / 2  # (N, C, C)
    c = feats.shape[1]
    return (d.sum(dim=(1, 2)) / (c * (c - 1))).mean().item()


# %%
pair = ["cifar_s2_grn", "cifar_s2_no_grn"]
feats = {name: block_mlp_features(models[name], X[:64]) for name in pair}
f = feats["cifar_s2_grn"][0]
print(f"block 1 features: {tuple(f.shape)}")
print(f"{cosine_distance(f):.4f} here, {channel_cosine_distance(f):.4f} in the package")

# %% [markdown]
# First the picture: the first 32 channels of the last stage-1 block's MLP
# for our test image, with GRN (top two rows) and without (bottom two), each
# channel on its own colour scale, like the paper's activation figure:

# %%
block = 1  # index 1 = the second block of stage 1, 16x16 maps
rows, titles = [], []
for name in ["cifar_s2_grn", "cifar_s2_no_grn"]:
    maps = feats[name][block][0]  # (4C, H, W) of image 0
    rows += [maps[:16], maps[16:32]]
    label = "without GRN" if name.endswith("no_grn") else "with GRN"
    titles += [f"{label}\nch 0-15", f"{label}\nch 16-31"]
fig = plot_maps(rows, titles, n_channels=16)
save_fig(fig, "09_grn_channel_maps")
fig

# %% [markdown]
# How many of that block's channels are dead on our image (no value above
# 1 % of the block's largest), and the block's distance:

# %%
for name in feats:
    maps = feats[name][block][0]
    dead = (maps.abs().amax(dim=(1, 2)) < 0.01 * maps.abs().max()).sum().item()
    print(
        f"{name:16} dead channels: {dead:3d} of {maps.shape[0]}, "
        f"distance {channel_cosine_distance(maps[None]):.3f}"
    )

# %% [markdown]
# Now the measure for every block, averaged over test images, as in the
# paper's cosine-distance plot (dotted lines: stage boundaries):

# %%
from matplotlib.figure import Figure

from convnext_nb.inside import collapse_by_block

n_images = 32 if quick_mode() else 256
distance = {name: collapse_by_block(models[name], X[:n_images]) for name in feats}
depths = models["cifar_s2_grn"].depths

# %%
fig = Figure(figsize=(7, 3.5), layout="constrained")
ax = fig.subplots()
for name, ds in distance.items():
    ax.plot(range(1, len(ds) + 1), ds, marker="o", label=name)
for edge in torch.tensor(depths).cumsum(0)[:-1].tolist():
    ax.axvline(edge + 0.5, color="grey", linestyle=":")
ax.set(
    xlabel="block",
    ylabel="mean cosine distance between channels",
    title=f"Feature collapse per block ({n_images} test images)",
)
ax.legend()
save_fig(fig, "09_feature_collapse")
fig

# %% [markdown]
# The reading, per stage:


# %%
def stage_means(ds):
    """Per-block distances -> the mean of each stage's blocks."""
    return [sum(part) / len(part) for part in torch.tensor(ds).split(list(depths))]


grn, no_grn = stage_means(distance[pair[0]]), stage_means(distance[pair[1]])
lines = []
for s, (g, n) in enumerate(zip(grn, no_grn, strict=True), start=1):
    word = "more diverse" if g > n else "less diverse"
    lines.append(f"- stage {s}: {g:.3f} with GRN, {n:.3f} without: {word} with GRN")
display(Markdown("\n".join(lines)))

# %%
mean = {k: sum(v) / len(v) for k, v in distance.items()}
gap = mean["cifar_s2_grn"] - mean["cifar_s2_no_grn"]
which = "with GRN" if gap > 0 else "without GRN"
display(
    Markdown(
        f"Averaged over all blocks the distance is {mean['cifar_s2_grn']:.3f} with GRN "
        f"and {mean['cifar_s2_no_grn']:.3f} without: the channels are more diverse "
        f"{which}, by {abs(gap):.3f}. Test accuracy: {acc['cifar_s2_grn']:.1%} with "
        f"GRN, {acc['cifar_s2_no_grn']:.1%} without. The paper saw the collapse "
        "most clearly in ConvNeXt V1 pre-trained with its masked autoencoder on "
        "ImageNet; ours are small models after "
        f"{RECIPE['epochs']} supervised epochs on {RECIPE['subset']:,} images, so "
        "this is a small-scale look at the measure, not a test of the paper's claim."
    )
)


# %% [markdown]
# ## 3. What the model gets wrong
#
# The most accurate of the three on our test images, its predictions and the
# confusion matrix: row = true class, column = predicted class, so every
# number off the diagonal is a mistake.

# %%
from convnext_nb.inside import confusion_matrix, plot_confusion

best = max(acc, key=acc.get)
probs = predict(models[best], X)
pred = probs.argmax(dim=1)
counts = confusion_matrix(y, pred, num_classes=len(FASHION_MNIST_CLASSES))
print(f"{best}: {(pred == y).sum().item()} / {len(y)} correct ({acc[best]:.1%})")

# %%
fig = plot_confusion(counts)
fig.suptitle(f"{best}, {len(y)} Fashion-MNIST test images")
save_fig(fig, "09_confusion")
fig

# %% [markdown]
# The accuracy of each class, worst first:

# %%
per_class = counts.diag() / counts.sum(dim=1).clamp(min=1)
for c in per_class.argsort().tolist():
    name = FASHION_MNIST_CLASSES[c]
    print(f"{name:12} {counts[c, c]:5d} / {counts[c].sum():5d}  {per_class[c]:6.1%}")

# %%
off = counts.clone().fill_diagonal_(0)
t, p = divmod(off.argmax().item(), off.shape[1])
worst, top = per_class.argmin().item(), per_class.argmax().item()
display(
    Markdown(
        f"The weakest class is {FASHION_MNIST_CLASSES[worst]} ({per_class[worst]:.1%}), "
        f"the strongest {FASHION_MNIST_CLASSES[top]} ({per_class[top]:.1%}). The most "
        f"common mistake: {FASHION_MNIST_CLASSES[t]} taken for "
        f"{FASHION_MNIST_CLASSES[p]}, {off[t, p]:d} times, "
        f"{off[t, p] / off.sum():.0%} of all {off.sum():d} mistakes."
    )
)

# %% [markdown]
# The mistakes it made with the most confidence, titled *true -> predicted
# (probability)*:

# %%
from convnext_nb.inside import most_confident_mistakes, plot_mistakes

wrong = most_confident_mistakes(probs, y, k=12)
fig = plot_mistakes(X, y, probs, wrong)
fig.suptitle(f"{best}: most confident of its mistakes on {len(y)} test images")
save_fig(fig, "09_confident_mistakes")
fig

# %%
confidence = probs.max(dim=1).values
sure = (confidence[pred != y] > 0.9).sum().item()
display(
    Markdown(
        f"It is {confidence[pred == y].mean():.0%} sure on average when right and "
        f"{confidence[pred != y].mean():.0%} when wrong; {sure} of its "
        f"{(pred != y).sum():d} mistakes come with more than 90 % confidence. "
        "Look at those images before blaming the model: at 28x28 in grey some are "
        "hard for a person too."
    )
)

# %% [markdown]
# ## Train one yourself
#
# `train_inside_model` is the function the command above runs. Here it trains
# the model without GRN again; in quick mode for one epoch on the small subset
# that ships with the package (that only shows the code runs), otherwise with
# the full recipe (the shipped model's training time is printed above).

# %% tags=["nbval-ignore-output"]
from convnext_nb.inside import recipe_loaders, train_inside_model

loaders = recipe_loaders(device, small=quick_mode())
epochs = 1 if quick_mode() else RECIPE["epochs"]
mine, record = train_inside_model("cifar_s2_no_grn", loaders, device, epochs=epochs)
print(f"{record['train_wall_s']:.0f} s for {epochs} epoch(s)")

# %% [markdown]
# Your model's collapse measure per stage, beside the shipped one's:

# %% tags=["nbval-ignore-output"]
yours = stage_means(collapse_by_block(mine.cpu().eval(), X[:n_images]))
shipped = stage_means(distance["cifar_s2_no_grn"])
for s, (a, b) in enumerate(zip(yours, shipped, strict=True), start=1):
    print(f"stage {s}: yours {a:.3f}, shipped {b:.3f}")

# %% [markdown]
# ## Summary
#
# In this notebook we loaded three small ConvNeXt V2 models trained on
# Fashion-MNIST and looked inside them. We followed one image through the
# four stages and counted how much of stage 4's 7x7 kernel still sees the
# image with the paper's 4x4 stem and with a stride-2 stem. We wrote the V2
# paper's feature-collapse measure and compared, block by block, a model with
# GRN against the same model without it. And we read the best model's
# confusion matrix, its accuracy per class and its most confident mistakes.
# Finally we retrained one model ourselves with the function that made the
# shipped checkpoints.
#
# ## What to try next
#
# - Pick another image (`image = X[7:8]`) or another class and rerun
#   section 1: do the stage-1 maps still outline the object?
# - Compute the collapse measure on the output of each stage
#   (`stage_outputs`) instead of the MLP features: does the picture change?
# - Train both stride-2 models for more epochs
#   (`train_inside_model(name, loaders, device, epochs=20)`, for
#   `"cifar_s2_grn"` and `"cifar_s2_no_grn"`): does the GRN gap grow?
# - Add `stem="cifar"` (stride 1, maps 32/16/8/4) to `INSIDE_MODELS` and see
#   stage 4 with a full 4x4 map.
