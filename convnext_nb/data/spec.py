"""What a dataset is (class names, normalisation) and how its loaders serve it (options).

Plain values and two small frozen dataclasses: nothing here reads files or touches tensors.
"""

from __future__ import annotations

from dataclasses import dataclass

CIFAR100_MEAN = (0.5071, 0.4865, 0.4409)
CIFAR100_STD = (0.2673, 0.2564, 0.2762)
FASHION_MNIST_MEAN = (0.2860, 0.2860, 0.2860)  # of the 28x28 images; padding adds zeros
FASHION_MNIST_STD = (0.3530, 0.3530, 0.3530)

# fmt: off
CIFAR100_CLASSES = [
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle",
    "bottle", "bowl", "boy", "bridge", "bus", "butterfly", "camel", "can", "castle",
    "caterpillar", "cattle", "chair", "chimpanzee", "clock", "cloud", "cockroach", "couch",
    "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish", "forest", "fox",
    "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom",
    "oak_tree", "orange", "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree",
    "plain", "plate", "poppy", "porcupine", "possum", "rabbit", "raccoon", "ray", "road",
    "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk", "skyscraper", "snail", "snake",
    "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank",
    "telephone", "television", "tiger", "tractor", "train", "trout", "tulip", "turtle",
    "wardrobe", "whale", "willow_tree", "wolf", "woman", "worm",
]
CIFAR100_SUPERCLASSES = [
    "aquatic_mammals", "fish", "flowers", "food_containers", "fruit_and_vegetables",
    "household_electrical_devices", "household_furniture", "insects", "large_carnivores",
    "large_man-made_outdoor_things", "large_natural_outdoor_scenes",
    "large_omnivores_and_herbivores", "medium_mammals", "non-insect_invertebrates", "people",
    "reptiles", "small_mammals", "trees", "vehicles_1", "vehicles_2",
]
# CIFAR100_SUPERCLASSES[CIFAR100_FINE_TO_COARSE[fine_label]] is a class's superclass.
CIFAR100_FINE_TO_COARSE = [
    4, 1, 14, 8, 0, 6, 7, 7, 18, 3, 3, 14, 9, 18, 7, 11, 3, 9, 7, 11, 6, 11, 5, 10, 7, 6, 13,
    15, 3, 15, 0, 11, 1, 10, 12, 14, 16, 9, 11, 5, 5, 19, 8, 8, 15, 13, 14, 17, 18, 10, 16, 4,
    17, 4, 2, 0, 17, 4, 18, 17, 10, 3, 2, 12, 12, 16, 12, 1, 9, 19, 2, 10, 0, 1, 16, 12, 9, 13,
    15, 13, 16, 19, 2, 4, 6, 19, 5, 5, 8, 19, 18, 1, 2, 15, 6, 0, 17, 8, 14, 13,
]
FASHION_MNIST_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]
# fmt: on

AUGMENTS = ("none", "basic", "strong")


@dataclass(frozen=True)
class DatasetInfo:
    """What the loaders report about their data: name, class names, normalisation (per channel)."""

    name: str
    classes: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]


@dataclass(frozen=True)
class LoaderOptions:
    """How a dataset's (train, val, test) loaders serve it; checked when made.

    batch_size: training batch; validation and test use `eval_batch_size` (larger: no
    gradients, same numbers). val_size: images split off the training set for validation.
    augment: "none", "basic" (random crop + flip) or "strong" (plain path only). seed: the
    split, each epoch's order and augmentation. fast: None picks the in-memory path unless
    augment is "strong". subset: keep only this many training images. num_workers: plain path.
    """

    batch_size: int = 64
    val_size: int = 1000
    augment: str = "none"
    seed: int = 0
    device: object = None  # str | torch.device | None
    fast: bool | None = None
    subset: int | None = None
    num_workers: int = 0

    def __post_init__(self):
        if self.augment not in AUGMENTS:
            raise ValueError(f"augment must be one of {AUGMENTS}, got {self.augment!r}.")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {self.batch_size}.")
        if self.fast and self.augment == "strong":
            raise ValueError("augment='strong' runs on the plain path: pass fast=False (or None).")

    @property
    def fast_path(self) -> bool:
        return self.fast if self.fast is not None else self.augment != "strong"

    @property
    def eval_batch_size(self) -> int:
        return max(4 * self.batch_size, 256)
