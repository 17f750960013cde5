"""convnext-nb: ConvNeXt V2 (LayerNorm, GRN, Dynamic Tanh) on CIFAR-100, for the classroom."""

from .checks import check_dyt, check_grn, check_layernorm
from .data import (
    CIFAR100_CLASSES,
    CIFAR100_FINE_TO_COARSE,
    CIFAR100_MEAN,
    CIFAR100_STD,
    CIFAR100_SUPERCLASSES,
    FASHION_MNIST_CLASSES,
    DatasetNotFoundError,
    cifar100_loaders,
    fashion_mnist_loaders,
    write_fake_cifar100,
)
from .engine import (
    OPTIMIZERS,
    History,
    TrainConfig,
    check_accuracy,
    load_checkpoint,
    make_optimizer,
    train,
)
from .experiments import (
    EXPERIMENTS,
    Experiment,
    Run,
    RunConfig,
    RunSettings,
    load_run,
    run_experiment,
)
from .layers import GRN, DynamicTanh, LayerNorm, make_norm
from .models import (
    VARIANTS,
    Block,
    ConvNeXtV2,
    count_flops,
    count_macs,
    count_parameters,
    create_model,
    list_models,
)
from .plots import plot_graph, plot_runs
from .pretrained import convert_timm_state_dict, load_pretrained
from .utils import get_device, quick_mode, save_fig, seed_everything

__version__ = "0.1.0"


def __getattr__(name: str):
    """`TrainingPanel` imports ipywidgets and IPython, so only when it is first asked for: the
    command line and GPU jobs never load them."""
    if name == "TrainingPanel":
        from .widgets import TrainingPanel

        return TrainingPanel
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CIFAR100_CLASSES",
    "CIFAR100_FINE_TO_COARSE",
    "CIFAR100_MEAN",
    "CIFAR100_STD",
    "CIFAR100_SUPERCLASSES",
    "FASHION_MNIST_CLASSES",
    "DatasetNotFoundError",
    "cifar100_loaders",
    "fashion_mnist_loaders",
    "write_fake_cifar100",
    "EXPERIMENTS",
    "Experiment",
    "Run",
    "RunConfig",
    "RunSettings",
    "TrainingPanel",
    "load_run",
    "plot_graph",
    "plot_runs",
    "run_experiment",
    "GRN",
    "OPTIMIZERS",
    "VARIANTS",
    "Block",
    "ConvNeXtV2",
    "DynamicTanh",
    "History",
    "LayerNorm",
    "check_accuracy",
    "check_dyt",
    "check_grn",
    "check_layernorm",
    "convert_timm_state_dict",
    "count_flops",
    "count_macs",
    "TrainConfig",
    "count_parameters",
    "create_model",
    "get_device",
    "list_models",
    "load_checkpoint",
    "load_pretrained",
    "make_norm",
    "make_optimizer",
    "quick_mode",
    "save_fig",
    "seed_everything",
    "train",
]
