"""Look inside trained models: stage-by-stage feature maps, feature collapse, mistakes.

    model = load_inside_model("cifar_s2_grn")        # a small shipped checkpoint
    images, labels = evaluation_images()             # the 10,000 Fashion-MNIST test images
    maps = stage_outputs(model, images[:1])          # 4 tensors (1, C, H, W)
    collapse_by_block(model, images[:64])            # the ConvNeXt V2 paper's measure

Three small models answer notebook 09's three questions: the paper's 4x4 stem against the
stride-2 CIFAR stem (where does stage 4 go blind?), and the stride-2 model with and without
GRN (why did V2 add GRN?). All are atto at half width, trained on the 5,000 Fashion-MNIST
images of the reference runs by `python scripts/make_inside_checkpoints.py`, and shipped in
`checkpoints/` as fp16 state dicts of under 2 MB each.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from matplotlib.figure import Figure

from .data import FASHION_MNIST_CLASSES, fashion_mnist_loaders, fashion_mnist_small_loaders
from .models import Block, ConvNeXtV2, create_model

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoints"
COMMAND = "python scripts/make_inside_checkpoints.py"

# name -> how the model differs; everything else is in RECIPE.
INSIDE_MODELS: dict[str, dict[str, Any]] = {
    "patchify_grn": {"stem": "patchify", "grn": True},
    "cifar_s2_grn": {"stem": "cifar_s2", "grn": True},
    "cifar_s2_no_grn": {"stem": "cifar_s2", "grn": False},
}
RECIPE: dict[str, Any] = {
    "model": "convnextv2_atto",
    "width": 0.5,  # channels 20/40/80/160: small checkpoints, fast on a CPU
    "dataset": "fashion_mnist",
    "subset": 5000,  # the reference runs' 500 images per class
    "val_size": 1000,
    "epochs": 5,
    "batch_size": 64,
    "optimizer": "adamw",
    "lr": 2e-3,
    "weight_decay": 0.05,
    "lr_schedule": "cosine",
    "warmup_epochs": 0.5,
    "seed": 0,
}


def remove_grn(model: nn.Module) -> nn.Module:
    """Replace the GRN of every block by nn.Identity (a ConvNeXt V1-style MLP); in place.

    GRN starts as the identity (gamma = beta = 0), so with the same seed the model with and
    without GRN start as the same function.
    """
    for block in model.modules():
        if isinstance(block, Block):
            block.grn = nn.Identity()
    return model


def build_inside_model(name: str) -> ConvNeXtV2:
    """The untrained model `name` of INSIDE_MODELS (10 classes), seeded by RECIPE["seed"]."""
    if name not in INSIDE_MODELS:
        raise ValueError(f"unknown inside model {name!r}; choose one of {list(INSIDE_MODELS)}.")
    spec = INSIDE_MODELS[name]
    model = create_model(RECIPE["model"], num_classes=10, width=RECIPE["width"],
                         seed=RECIPE["seed"], stem=spec["stem"])  # fmt: skip
    return model if spec["grn"] else remove_grn(model)


def checkpoint_path(name: str, folder: str | Path = CHECKPOINT_DIR) -> Path:
    return Path(folder) / f"{name}.pt"


def recipe_loaders(device: str | torch.device | None = None, small: bool = False):
    """(train, val, test) loaders of RECIPE: the reference runs' 5,000 Fashion-MNIST images.

    small=True: the package's shipped subset instead (744 training, 256 validation and 500
    test images), for a quick try that needs no download.
    """
    if small:
        return fashion_mnist_small_loaders(
            batch_size=RECIPE["batch_size"], val_size=256, seed=RECIPE["seed"], device=device
        )
    return fashion_mnist_loaders(
        batch_size=RECIPE["batch_size"], val_size=RECIPE["val_size"], subset=RECIPE["subset"],
        seed=RECIPE["seed"], device=device,
    )  # fmt: skip


def train_inside_model(name: str, loaders, device: str | torch.device = "cpu", **recipe):
    """Train model `name` with RECIPE (keywords override it, e.g. epochs=10); return the
    trained model and a record of how (history, recipe, wall time)."""
    from .engine import make_optimizer, train  # the training loop is only needed here

    recipe = {**RECIPE, **recipe}
    model = build_inside_model(name).to(device)
    optimizer = make_optimizer(
        recipe["optimizer"], model, lr=recipe["lr"], weight_decay=recipe["weight_decay"],
        decay_params="weights",
    )  # fmt: skip
    start = time.perf_counter()
    history = train(
        model, optimizer, loaders[0], loaders[1], recipe["epochs"], device=device,
        lr_schedule=recipe["lr_schedule"], warmup_epochs=recipe["warmup_epochs"],
        seed=recipe["seed"], progress=False,
    )  # fmt: skip
    record = {
        "name": name, **INSIDE_MODELS[name], "recipe": recipe,
        "train_loss": history.train_loss, "val_acc_per_epoch": history.val_acc,
        "train_wall_s": round(time.perf_counter() - start, 1),
    }  # fmt: skip
    return model, record


def save_inside_model(model: nn.Module, record: dict, loaders, path: str | Path) -> dict:
    """Round `model` to fp16, measure the rounded weights on the val and test loaders, and
    save both as `path` (loadable with weights_only=True); return the completed record."""
    from .engine import check_accuracy

    state = {k: v.detach().to("cpu", torch.float16) for k, v in model.state_dict().items()}
    shipped = build_inside_model(record["name"])
    shipped.load_state_dict({k: v.float() for k, v in state.items()})
    record = {**record, "val_acc": check_accuracy(loaders[1], shipped, "cpu", verbose=False),
              "test_acc": check_accuracy(loaders[2], shipped, "cpu", verbose=False)}  # fmt: skip
    record = json.loads(json.dumps(record, default=str))  # plain types only: weights_only
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": state, "made_with": record}, path)
    return record


def load_inside_model(name: str, folder: str | Path = CHECKPOINT_DIR) -> ConvNeXtV2:
    """A trained model from its shipped checkpoint, in eval mode; `.made_with` holds how it
    was made (command, recipe, accuracies, machine, wall time)."""
    path = checkpoint_path(name, folder)
    if not path.exists():
        raise FileNotFoundError(f"no checkpoint {path}; make the three with `{COMMAND}`.")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    model = build_inside_model(name)
    model.load_state_dict({k: v.float() for k, v in saved["state_dict"].items()})
    model.made_with = saved["made_with"]
    return model.eval()


def evaluation_images(n: int | None = None, small: bool = False):
    """Fashion-MNIST test images, none of them trained on, normalised as in training:
    X (n, 3, 32, 32) float, y (n,) int64.

    small=False: the 10,000-image test set (downloaded when it is not on disk); small=True:
    the 500 test images shipped with the package (quick mode's, the same on every machine).
    n: keep only the first n.
    """
    make = fashion_mnist_small_loaders if small else fashion_mnist_loaders
    _, _, test = make(batch_size=256, device="cpu")
    n = len(test.labels) if n is None else n
    return (test.images[:n].float() - test.mean) / test.std, test.labels[:n]


def show_image(x: torch.Tensor) -> torch.Tensor:
    """A normalised image (3, H, W) back to a (H, W) grey picture in [0, 1] for imshow."""
    return (x[0] - x[0].min()) / (x[0].max() - x[0].min() + 1e-8)


# ----------------------------------------------------------------------------------------
# What the model computes


@torch.no_grad()
def stage_outputs(model: ConvNeXtV2, x: torch.Tensor) -> list[torch.Tensor]:
    """The output of each of the 4 stages: x (N, 3, H, W) -> [(N, C_i, H_i, W_i)] * 4."""
    model.check_input(x)
    outs = []
    for downsample, stage in zip(model.downsample_layers, model.stages, strict=True):
        x = stage(downsample(x))
        outs.append(x)
    return outs


@torch.no_grad()
def block_mlp_features(model: ConvNeXtV2, x: torch.Tensor) -> list[torch.Tensor]:
    """What each block's expansion MLP hands to pwconv2 (GRN's output; GELU's when GRN is
    removed): x (N, 3, H, W) -> one (N, 4C, H_i, W_i) tensor per block, in order."""
    feats = []

    def keep(module, args, out):
        feats.append(out.permute(0, 3, 1, 2))  # NHWC -> NCHW

    blocks = [m for m in model.modules() if isinstance(m, Block)]
    hooks = [b.grn.register_forward_hook(keep) for b in blocks]
    try:
        model(x)
    finally:
        for h in hooks:
            h.remove()
    return feats


def channel_cosine_distance(feats: torch.Tensor) -> float:
    """The ConvNeXt V2 paper's feature-collapse measure (Section 3), averaged over images.

    feats: (N, C, H, W). Per image, each channel's map is a vector of H*W values; the
    distance is the mean of (1 - cos(X_i, X_j)) / 2 over channel pairs i != j, in [0, 1]:
    0 when every channel carries the same map (collapse), 1/2 when they are orthogonal, 1
    when opposite. (The paper divides the sum over all i, j by C^2, which counts the zero
    i = j terms too: a factor (C - 1) / C, under 2 % here.) An all-zero channel counts as
    orthogonal to every other.
    """
    if feats.ndim != 4 or feats.shape[1] < 2:
        raise ValueError(
            f"expected activations (N, C, H, W) with C >= 2, got shape {tuple(feats.shape)}."
        )
    c = feats.shape[1]
    v = F.normalize(feats.flatten(2).float(), dim=2)  # (N, C, H*W), unit rows
    distance = (1 - v @ v.transpose(1, 2)) / 2  # (N, C, C)
    off_diagonal = 1 - torch.eye(c)
    return ((distance * off_diagonal).sum(dim=(1, 2)) / (c * (c - 1))).mean().item()


def collapse_by_block(model: ConvNeXtV2, x: torch.Tensor) -> list[float]:
    """`channel_cosine_distance` of every block's MLP features on images x (N, 3, H, W)."""
    return [channel_cosine_distance(f) for f in block_mlp_features(model, x)]


@torch.no_grad()
def predict(model: nn.Module, x: torch.Tensor, batch_size: int = 500) -> torch.Tensor:
    """Class probabilities (N, K) of model (in eval mode) on x (N, 3, H, W)."""
    model.eval()
    return torch.cat([model(b).softmax(dim=1) for b in x.split(batch_size)])


def confusion_matrix(y_true: torch.Tensor, y_pred: torch.Tensor, num_classes: int):
    """(K, K) int64 counts: row = true class, column = predicted class."""
    index = y_true * num_classes + y_pred
    return torch.bincount(index, minlength=num_classes**2).view(num_classes, num_classes)


def most_confident_mistakes(probs: torch.Tensor, y: torch.Tensor, k: int = 12) -> torch.Tensor:
    """Indices of the k wrong predictions made with the highest probability, highest first."""
    confidence, pred = probs.max(dim=1)
    wrong = (pred != y).nonzero().flatten()
    return wrong[confidence[wrong].argsort(descending=True)[:k]]


# ----------------------------------------------------------------------------------------
# Pictures


def plot_maps(rows: list[torch.Tensor], titles: list[str], n_channels: int = 8) -> Figure:
    """One row per (C, H, W) tensor: its first n_channels maps, each with its own colours."""
    fig = Figure(figsize=(1.3 * n_channels, 1.45 * len(rows)), layout="constrained")
    axes = fig.subplots(len(rows), n_channels, squeeze=False)
    for row, maps, title in zip(axes, rows, titles, strict=True):
        for c, ax in enumerate(row):
            ax.imshow(maps[c].float(), cmap="viridis", interpolation="nearest")
            ax.set_xticks([]), ax.set_yticks([])
        row[0].set_ylabel(title, fontsize=8)
    return fig


def plot_confusion(counts: torch.Tensor, classes: list[str] = FASHION_MNIST_CLASSES) -> Figure:
    """The confusion matrix as a heat map, each cell labelled with its count."""
    fig = Figure(figsize=(7, 6), layout="constrained")
    ax = fig.subplots()
    ax.imshow(counts, cmap="Blues")
    for i, j in torch.cartesian_prod(*map(torch.arange, counts.shape)).tolist():
        n = int(counts[i, j])
        ax.text(j, i, n, ha="center", va="center", fontsize=7,
                color="white" if n > counts.max() / 2 else "black")  # fmt: skip
    ticks = range(len(classes))
    ax.set_xticks(ticks, classes, rotation=45, ha="right"), ax.set_yticks(ticks, classes)
    ax.set_xlabel("predicted class"), ax.set_ylabel("true class")
    return fig


def plot_mistakes(x, y, probs, index, classes=FASHION_MNIST_CLASSES, cols: int = 6) -> Figure:
    """A grid of images x[index] titled 'true -> predicted (probability)'."""
    rows = math.ceil(len(index) / cols)
    fig = Figure(figsize=(1.9 * cols, 2.1 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).flatten()
    for ax in axes:
        ax.axis("off")
    for ax, i in zip(axes, index.tolist()):  # noqa: B905 (more axes than images)
        p, pred = probs[i].max(dim=0)
        ax.imshow(show_image(x[i]), cmap="gray")
        ax.set_title(f"{classes[y[i]]}\n-> {classes[pred]} ({p:.0%})", fontsize=8)
    return fig
