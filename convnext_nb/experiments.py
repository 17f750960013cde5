"""The seed report's experiments as data, and one function that runs (or reloads) them.

    runs = run_experiment("test2_base_optimizers")     # trains 3 runs, or loads saved ones
    runs[0].history.best_val_acc, runs[0].config.report_acc

Each `RunConfig` is one training run (model, norm, stem, optimizer, lr, epochs, augmentation,
seed, ...) with the report's own best validation accuracy beside it. An `Experiment` groups the
runs one of the report's tests compares. `run_experiment` trains each run with `engine.train`,
checkpointing under `runs/<run name>/`, and writes `config.json` and `history.json` there.
Asked again for the same run it loads a finished run, resumes an unfinished one, and retrains
only with `force=True`.

Quick mode (`quick=True` or CONVNEXT_NB_QUICK=1) trains every run for a few steps on a small
subset of offline data (Fashion-MNIST, or fake CIFAR-100 files), with every model at a quarter
of its width, so a notebook finishes in about a minute on a laptop CPU. Its numbers show that
the code runs, not what the report measured.
"""

from __future__ import annotations

import copy
import dataclasses
import itertools
import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn

from .engine import (
    DECAY_PARAMS,
    History,
    autocast_dtype,
    default_channels_last,
    default_weight_decay,
    load_checkpoint,
    make_optimizer,
    train,
    train_one_epoch,
)
from .models import VARIANTS, ConvNeXtV2, resolve_name
from .utils import get_device, quick_mode

DATASETS = ("cifar100", "fashion_mnist", "fake_cifar100")
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")  # Debian's dataset-fashion-mnist


@dataclass(frozen=True)
class QuickSettings:
    """What quick mode shrinks: data, steps and model width (one place, stated in the output)."""

    subset: int = 512  # training images
    val_size: int = 256
    batch_size: int = 32
    max_epochs: int = 3
    max_steps_per_epoch: int = 8
    width: float = 0.25  # every model at a quarter of its channels

    def describe(self, dataset: str) -> str:
        return (
            f"Quick mode: {self.subset} {dataset} training images, {self.val_size} validation "
            f"images, at most {self.max_epochs} epochs of {self.max_steps_per_epoch} steps "
            f"(batch {self.batch_size}), models at {self.width:g}x width. These numbers only "
            "show that the code runs; unset CONVNEXT_NB_QUICK for real CIFAR-100 training."
        )


QUICK = QuickSettings()


# ----------------------------------------------------------------------------------------
# Configs


@dataclass(frozen=True)
class RunConfig:
    """One training run, as the report describes it, plus the report's result for it.

    report_acc: the report's best validation accuracy in percent (N / 1000 correct on a
    1,000-image validation split of CIFAR-100), report_epoch the epoch it was reached at
    (None when the report does not say).
    """

    name: str
    label: str
    model: str = "convnextv2_base"
    norm: str = "ln"  # "ln" | "dyt"
    stem: str = "patchify"  # "patchify" | "cifar_s2" | "cifar"
    optimizer: str = "radam"
    lr: float = 1e-3
    weight_decay: float | None = None  # None -> PyTorch's default of the optimizer (filled in)
    decay_params: str = "all"  # "all" (torch's default, the report) | "weights" (no decay on norms)
    epochs: int = 50
    batch_size: int = 64
    augment: str = "none"  # "none" | "basic" (crop + flip) | "strong"
    lr_schedule: str = "constant"  # "constant" | "cosine"
    warmup_epochs: float = 0.0
    label_smoothing: float = 0.0
    grad_clip: float | None = None
    drop_path_rate: float = 0.0
    width: float = 1.0  # channel multiplier (quick mode uses QUICK.width)
    seed: int = 0
    report_acc: float | None = None
    report_epoch: int | None = None
    note: str = ""
    assumed: tuple[tuple[str, str], ...] = ()  # (setting, why) where the report is silent

    def __post_init__(self) -> None:
        resolve_name(self.model)  # ValueError listing the valid names
        if self.weight_decay is None:  # show the value training really uses, never None
            object.__setattr__(self, "weight_decay", default_weight_decay(self.optimizer))
        _check_choice("decay_params", self.decay_params, DECAY_PARAMS)
        object.__setattr__(self, "assumed", tuple(tuple(pair) for pair in self.assumed))
        _check_choice("norm", self.norm, ("ln", "dyt"))
        _check_choice("stem", self.stem, ("patchify", "cifar_s2", "cifar"))
        _check_choice("augment", self.augment, ("none", "basic", "strong"))
        _check_choice("lr_schedule", self.lr_schedule, ("constant", "cosine"))
        if not isinstance(self.epochs, int) or self.epochs < 1:
            raise ValueError(f"epochs must be a positive integer, got {self.epochs!r}.")
        if not self.lr > 0:
            raise ValueError(f"lr must be positive (e.g. 1e-3), got {self.lr!r}.")
        if not 0 < self.width <= 4:
            raise ValueError(f"width must be in (0, 4], got {self.width!r}.")

    def replace(self, label: str | None = None, **changes: Any) -> RunConfig:
        """A copy with some settings changed; its name records the changes (its own run folder).

        e.g. seed.replace(lr=5e-4) -> name "result_tiny_sgd_nesterov+lr=0.0005". The report's
        numbers belong to the original settings, so they are dropped.
        """
        bad = set(changes) - {f.name for f in dataclasses.fields(self)}
        if bad:
            raise ValueError(f"unknown RunConfig fields {sorted(bad)}.")
        suffix = "+".join(f"{k}={v}" for k, v in changes.items() if k not in ("name", "note"))
        changes.setdefault("name", f"{self.name}+{suffix}" if suffix else self.name)
        changes.setdefault("report_acc", None)
        changes.setdefault("report_epoch", None)
        if "optimizer" in changes and "weight_decay" not in changes:
            changes["weight_decay"] = None  # the new optimizer's own default
        return dataclasses.replace(self, label=label or suffix or self.label, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})

    def training_settings(self) -> dict[str, Any]:
        """The fields that change what training computes (not names, labels, report numbers)."""
        skip = {"name", "label", "report_acc", "report_epoch", "note", "assumed"}
        return {k: v for k, v in self.to_dict().items() if k not in skip}


def _check_choice(what: str, value: str, choices: Sequence[str]) -> None:
    if value not in choices:
        raise ValueError(f"unknown {what} {value!r}; choose one of: {', '.join(choices)}.")


@dataclass(frozen=True)
class Experiment:
    """A named group of runs compared in one test (or graph) of the report."""

    name: str
    title: str
    runs: tuple[RunConfig, ...]
    description: str = ""
    graph: str | None = None  # "Graph 1" ... when the report drew one

    def __post_init__(self) -> None:
        if not self.runs:
            raise ValueError(f"experiment {self.name!r} has no runs.")


_REPORT_NOTE = "CIFAR-100 val acc (N / 1000), no augmentation, 4x4 stem, constant lr 1e-3"
# Where the report is silent, what we assume and why (shown by print(config) and in 07's table).
_ASSUMED = (
    ("batch_size", "64: the report does not say; its train/check_accuracy come from CS231n's "
     "PyTorch notebook, which uses 64"),
    ("seed", "0: the report does not say; one seed gives every run the same initial weights "
     "and the same 1,000-image validation split"),
)  # fmt: skip

TEST1 = RunConfig(
    "test1_base_radam", "base, RAdam", model="convnextv2_base", optimizer="radam", epochs=50,
    report_acc=35.7, report_epoch=21, note=_REPORT_NOTE, assumed=_ASSUMED,
)  # fmt: skip
TEST2 = tuple(
    RunConfig(
        f"test2_base_{opt}", label, model="convnextv2_base", optimizer=opt, epochs=20,
        report_acc=acc, report_epoch=ep, assumed=_ASSUMED,
        note="report: one model trained with the three optimizers in sequence; "
        "here each starts from the same fresh initialisation (seed 0)",
    )
    for opt, label, acc, ep in [
        ("sgd_nesterov", "SGD Nesterov", 33.2, 10),
        ("radam", "RAdam", 30.0, 19),
        ("adamw", "AdamW", 29.3, 5),
    ]
)  # fmt: skip
TEST3 = (
    RunConfig("test3_atto_radam", "atto", model="convnextv2_atto", epochs=50,
              report_acc=32.1, report_epoch=8, note=_REPORT_NOTE, assumed=_ASSUMED),
    RunConfig("test3_nano_radam", "nano", model="convnextv2_nano", epochs=50,
              report_acc=32.6, report_epoch=37, note=_REPORT_NOTE, assumed=_ASSUMED),
    dataclasses.replace(TEST1, label="base"),  # the same run as Test 1
)  # fmt: skip
TEST4 = RunConfig(
    "test4_tiny_ln", "tiny, LayerNorm", model="convnextv2_tiny", norm="ln", epochs=20,
    report_acc=31.8, report_epoch=5, note=_REPORT_NOTE, assumed=_ASSUMED,
)  # fmt: skip
TEST5 = RunConfig(
    "test5_tiny_dyt", "tiny, Dynamic Tanh", model="convnextv2_tiny", norm="dyt", epochs=20,
    report_acc=31.1, report_epoch=16, note=_REPORT_NOTE, assumed=_ASSUMED,
)  # fmt: skip
RESULT = RunConfig(
    "result_tiny_sgd_nesterov", "tiny, SGD Nesterov (the report's pick)",
    model="convnextv2_tiny", optimizer="sgd_nesterov", epochs=20, report_acc=34.1,
    note=_REPORT_NOTE,
    assumed=(*_ASSUMED, ("epochs", "20: the report gives no epoch count for its Result; "
                         "Tests 2, 4 and 5 train tiny and base for 20")),
)  # fmt: skip
IMPROVED = RunConfig(
    "improved", "improved recipe", model="convnextv2_atto", stem="cifar_s2",
    optimizer="adamw", lr=2e-3, weight_decay=0.05, decay_params="weights", epochs=50,
    batch_size=128, augment="basic", lr_schedule="cosine", warmup_epochs=1.0,
    label_smoothing=0.1, drop_path_rate=0.1,
    note="ours: 3x3 stride-2 CIFAR stem (stages 16/8/4/2), crop + flip, AdamW with warmup "
    "and cosine decay, no decay on norms and biases, label smoothing 0.1, drop path 0.1",
)  # fmt: skip

# The improved recipe differs from the report's atto run (Test 3) in a handful of settings;
# each ablation adds one group of them to that run, so 08 can say what each is worth.
ABLATION_STEPS = {
    "stem": ("+ CIFAR stem (stride 2)", {"stem": "cifar_s2"}),
    "augment": ("+ crop + flip", {"augment": "basic"}),
    "optimizer": ("+ AdamW, warmup + cosine", {
        "optimizer": "adamw", "lr": 2e-3, "weight_decay": 0.05, "decay_params": "weights",
        "lr_schedule": "cosine", "warmup_epochs": 1.0}),
    "regularise": ("+ label smoothing, drop path", {"label_smoothing": 0.1,
                                                    "drop_path_rate": 0.1}),
}  # fmt: skip
ABLATIONS = tuple(
    dataclasses.replace(TEST3[0].replace(label=label, **changes), name=f"ablation_{key}")
    for key, (label, changes) in ABLATION_STEPS.items()
)

EXPERIMENTS: dict[str, Experiment] = {
    e.name: e
    for e in [
        Experiment("test1_base_radam", "Test 1: base model, RAdam", (TEST1,)),
        Experiment(
            "test2_base_optimizers", "Test 2: base model, three optimizers", TEST2,
            graph="Graph 1",
            description="Each optimizer trains its own copy of the same initial weights.",
        ),
        Experiment("test3_model_sizes", "Test 3: atto, nano, base with RAdam", TEST3,
                   graph="Graph 2"),
        Experiment("test4_tiny_ln", "Test 4: tiny, LayerNorm, RAdam", (TEST4,)),
        Experiment("test5_tiny_dyt", "Test 5: tiny, Dynamic Tanh, RAdam", (TEST5,)),
        Experiment("dyt_vs_ln", "Tests 4 and 5: Dynamic Tanh vs LayerNorm", (TEST4, TEST5),
                   graph="Graph 3"),
        Experiment("result_tiny_sgd_nesterov", "Result: tiny, SGD Nesterov", (RESULT,)),
        Experiment("improved", "Our recipe: CIFAR stem, augmentation, AdamW + cosine, "
                   "label smoothing", (IMPROVED,)),
        Experiment(
            "ablations", "One change at a time: the report's atto run (Test 3) -> improved",
            (TEST3[0], *ABLATIONS, IMPROVED),
            description="Each run adds one group of the improved recipe's settings to the "
            "report's atto run; the last is the whole recipe.",
        ),
    ]
}  # fmt: skip


def get_experiment(name_or_config: str | Experiment | RunConfig) -> Experiment:
    """An experiment by name (or wrap a single RunConfig); ValueError listing the names."""
    if isinstance(name_or_config, Experiment):
        return name_or_config
    if isinstance(name_or_config, RunConfig):
        return Experiment(name_or_config.name, name_or_config.label, (name_or_config,))
    if name_or_config in EXPERIMENTS:
        return EXPERIMENTS[name_or_config]
    runs = {r.name: r for e in EXPERIMENTS.values() for r in e.runs}
    if name_or_config in runs:
        return get_experiment(runs[name_or_config])
    raise ValueError(
        f"unknown experiment {name_or_config!r}; choose one of: {', '.join(EXPERIMENTS)} "
        f"(or a single run: {', '.join(runs)})."
    )


# ----------------------------------------------------------------------------------------
# Models and data for a run


def build_model(config: RunConfig, num_classes: int = 100) -> ConvNeXtV2:
    """The run's ConvNeXt V2, at `config.width` times the variant's channels."""
    depths, dims = VARIANTS[resolve_name(config.model)]
    dims = tuple(max(8, round(d * config.width)) for d in dims)
    torch.manual_seed(config.seed)  # the same seed gives the same initial weights
    return ConvNeXtV2(
        num_classes=num_classes, depths=depths, dims=dims, norm=config.norm, stem=config.stem,
        drop_path_rate=config.drop_path_rate,
    )  # fmt: skip


def quick_dataset() -> str:
    """Quick mode's data: real Fashion-MNIST when Debian's files are here, else fake CIFAR-100."""
    return (
        "fashion_mnist"
        if (FASHION_MNIST_DIR / "train-labels-idx1-ubyte.gz").exists()
        else ("fake_cifar100")
    )


def make_loaders(
    dataset: str,
    *,
    augment: str = "none",
    batch_size: int = 64,
    seed: int = 0,
    subset: int | None = None,
    val_size: int = 1000,
    data_root: str | Path | None = None,
    device: torch.device | None = None,
):
    """(train, val, test) loaders of "cifar100", "fashion_mnist" or "fake_cifar100".

    Fashion-MNIST has no "strong" augmentation; it gets "basic" (crop + flip) instead.
    """
    from . import data  # imported late: data.py is the heaviest import

    _check_choice("dataset", dataset, DATASETS)
    _check_choice("augment", augment, ("none", "basic", "strong"))
    kw = dict(batch_size=batch_size, val_size=val_size, seed=seed, device=device, subset=subset)
    if dataset == "fashion_mnist":
        augment = "basic" if augment == "strong" else augment
        return data.fashion_mnist_loaders(root=data_root, augment=augment, **kw)
    if dataset == "fake_cifar100":
        n_train = (subset or 500) + val_size  # enough for the split asked for
        default_root = Path(tempfile.gettempdir()) / f"convnext_nb_fake_cifar100_{n_train}"
        root = Path(data_root or default_root)
        if not (root / "cifar-100-python" / "train").exists():
            data.write_fake_cifar100(root, n_train=n_train, n_test=100)
        return data.cifar100_loaders(root=root, augment=augment, download=False, **kw)
    return data.cifar100_loaders(root=data_root or "data", augment=augment, **kw)


# ----------------------------------------------------------------------------------------
# Runs on disk


@dataclass
class Run:
    """One run on disk: runs/<name>/{config.json, history.json, last.pt, best.pt}."""

    name: str
    path: Path
    config: RunConfig
    settings: dict[str, Any]  # dataset, quick, epochs, subset, ... what produced the numbers
    history: History
    model: nn.Module | None = field(default=None, repr=False)  # set when trained in-process
    test_acc: float | None = None

    @property
    def dataset(self) -> str:
        return self.settings["dataset"]

    @property
    def finished(self) -> bool:
        return self.history.status in ("completed", "diverged")

    def describe(self) -> str:
        """One line: which data, mode, epochs and model produced these numbers."""
        s = self.settings
        mode = "quick mode" if s["quick"] else "full run"
        where = f"{s['subset']} training images" if s.get("subset") else "full training set"
        return (
            f"{self.config.label}: {s['dataset']}, {mode}, {where}, {s['epochs']} epochs, "
            f"{self.config.model} x{s['width']:g} width, {self.config.optimizer} lr "
            f"{self.config.lr:g}, {self.config.stem} stem, augment {self.config.augment}"
        )

    def load_model(self, best: bool = True) -> nn.Module:
        """A fresh model with this run's best (or last) saved weights."""
        cfg = dataclasses.replace(self.config, width=self.settings["width"])
        model = build_model(cfg, num_classes=self.settings["num_classes"])
        load_checkpoint(self.path / ("best.pt" if best else "last.pt"), model)
        return model


def load_run(path: str | Path) -> Run:
    """Read a run folder written by `run_experiment` (needs config.json and history.json)."""
    path = Path(path)
    cfg_file, hist_file = path / "config.json", path / "history.json"
    if not cfg_file.exists():
        raise FileNotFoundError(
            f"{path} is not a saved run (no config.json). Runs are written by "
            "run_experiment(...) or `python -m convnext_nb run ...`, under runs/ by default."
        )
    saved = json.loads(cfg_file.read_text())
    history = History.load(hist_file) if hist_file.exists() else History()
    return Run(path.name, path, RunConfig.from_dict(saved["config"]), saved["settings"], history,
               test_acc=saved.get("test_acc"))  # fmt: skip


def _write_config(run: Run) -> None:
    data = {"config": run.config.to_dict(), "settings": run.settings, "test_acc": run.test_acc}
    run.path.mkdir(parents=True, exist_ok=True)
    (run.path / "config.json").write_text(json.dumps(data, indent=1))


def default_run_name(config: RunConfig, dataset: str, quick: bool) -> str:
    return f"{config.name}-{dataset}" + ("-quick" if quick else "")


def fresh_runs_dir(name: str, root: str | Path = "runs") -> Path:
    """In quick mode, an emptied `runs/quick/<name>` (so a notebook never depends on older
    runs); outside quick mode, `runs/` itself, so saved runs are reused."""
    if not quick_mode():
        return Path(root)
    path = Path(root) / "quick" / name
    shutil.rmtree(path, ignore_errors=True)
    print(f"Quick mode: runs go to a fresh folder {path}/ (emptied first).")
    return path


# ----------------------------------------------------------------------------------------
# run_experiment


def run_experiment(
    name_or_config: str | Experiment | RunConfig,
    quick: bool | None = None,
    dataset: str | None = None,
    epochs: int | None = None,
    runs_dir: str | Path = "runs",
    force: bool = False,
    *,
    run_name: str | None = None,
    device: str | torch.device | None = None,
    data_root: str | Path | None = None,
    subset: int | None = None,
    budget_s: float | None = None,
    evaluate_test: bool = False,
    amp: bool | str | None = None,
    stop_event=None,
    callbacks: Sequence[Callable[[History], bool | None]] = (),
    progress: bool | None = None,
    log: Callable[[str], None] = print,
) -> list[Run]:
    """Train every run of an experiment (or load it when saved); return one `Run` per run.

    name_or_config: a name from EXPERIMENTS, a run name, an Experiment or a RunConfig.
    quick: None follows CONVNEXT_NB_QUICK; True trains a few steps on a small offline subset.
    dataset: "cifar100" (default; quick mode: "fashion_mnist", else "fake_cifar100").
    epochs: overrides the config's epochs (quick mode caps it at QUICK.max_epochs).
    runs_dir/run_name: the run lives in runs_dir/run_name (default `<run>-<dataset>[-quick]`).
        A finished run there is loaded, an unfinished one resumed; force=True retrains.
    budget_s: fit the training into about this many seconds (per run) by timing a few steps
        first and cutting each epoch to the steps that fit (the schedule follows the cut).
    evaluate_test: also measure accuracy on the test split (best weights), saved as test_acc.
    amp: mixed precision, passed to `engine.train` (None: bf16 autocast on CUDA only).
    stop_event, callbacks, progress: passed to `engine.train` (progress defaults to off in
    quick mode). log: where this function's own messages go (print by default).
    """
    experiment = get_experiment(name_or_config)
    quick = quick_mode() if quick is None else quick
    if run_name is not None and len(experiment.runs) > 1:
        raise ValueError("run_name names one run; this experiment has several. Use runs_dir.")
    if dataset is None:
        dataset = quick_dataset() if quick else "cifar100"
    _check_choice("dataset", dataset, DATASETS)
    if quick:
        log(QUICK.describe(dataset))
    return [
        _run_one(cfg, quick=quick, dataset=dataset, epochs=epochs, runs_dir=Path(runs_dir),
                 force=force, run_name=run_name, device=device, data_root=data_root,
                 subset=subset, budget_s=budget_s, evaluate_test=evaluate_test, amp=amp,
                 stop_event=stop_event, callbacks=callbacks, progress=progress, log=log)
        for cfg in experiment.runs
    ]  # fmt: skip


def _run_one(
    config: RunConfig, *, quick: bool, dataset: str, epochs: int | None, runs_dir: Path,
    force: bool, run_name: str | None, device, data_root, subset: int | None,
    budget_s: float | None, evaluate_test: bool, amp, stop_event, callbacks, progress, log,
) -> Run:  # fmt: skip
    epochs = epochs or config.epochs
    if not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}.")
    width, batch_size, val_size, max_steps = config.width, config.batch_size, 1000, None
    if quick:
        epochs, width = min(epochs, QUICK.max_epochs), QUICK.width
        subset, val_size = subset or QUICK.subset, QUICK.val_size
        batch_size, max_steps = QUICK.batch_size, QUICK.max_steps_per_epoch
    name = run_name or default_run_name(config, dataset, quick)
    path = runs_dir / name
    device = get_device(device)
    settings = {"dataset": dataset, "quick": quick, "epochs": epochs, "subset": subset,
                "val_size": val_size, "batch_size": batch_size, "width": width,
                "max_steps_per_epoch": max_steps, "budget_s": budget_s}  # fmt: skip
    if amp is not None:
        settings["amp"] = amp

    if force and path.exists():
        log(f"force=True: deleting the saved run at {path} and training again.")
        shutil.rmtree(path)
    if (path / "config.json").exists():
        saved = load_run(path)
        _check_same(saved, config, settings, path)
        if saved.finished:
            log(f"Found saved run at {path}, loading ({saved.history.status}, "
                f"{saved.history.epochs} epochs; force=True retrains).")  # fmt: skip
            return saved
        if (path / "last.pt").exists():
            log(f"Found unfinished run at {path} ({saved.history.epochs} of {epochs} epochs, "
                f"{saved.history.status}): resuming.")  # fmt: skip
        settings = saved.settings  # keeps budget-derived max_steps_per_epoch

    train_loader, val_loader, test_loader = make_loaders(
        dataset, augment=config.augment, batch_size=batch_size, seed=config.seed,
        subset=subset, val_size=val_size, data_root=data_root, device=device,
    )  # fmt: skip
    model = build_model(dataclasses.replace(config, width=width), train_loader.num_classes)
    optimizer = make_optimizer(config.optimizer, model, lr=config.lr,
                               weight_decay=config.weight_decay,
                               decay_params=config.decay_params)  # fmt: skip
    if budget_s is not None and settings.get("max_steps_per_epoch") is None:
        step_s = time_train_step(model, config, train_loader, device)
        steps = max(1, int(budget_s / epochs / step_s))
        settings["max_steps_per_epoch"] = min(steps, len(train_loader))
        log(f"Budget {budget_s:g} s: {step_s * 1000:.0f} ms per step -> "
            f"{settings['max_steps_per_epoch']} steps per epoch.")  # fmt: skip
    settings["num_classes"] = train_loader.num_classes
    run = Run(name, path, config, settings, History(), model=model)
    _write_config(run)
    log(f"Training {name}: {run.describe()} -> {path}")
    run.history = train(
        model, optimizer, train_loader, val_loader, epochs, device=device, amp=amp,
        lr_schedule=config.lr_schedule, warmup_epochs=config.warmup_epochs,
        label_smoothing=config.label_smoothing, grad_clip=config.grad_clip, seed=config.seed,
        callbacks=callbacks, stop_event=stop_event, checkpoint_dir=path,
        resume=True if (path / "last.pt").exists() else None,
        max_steps_per_epoch=settings["max_steps_per_epoch"],
        progress=(not quick) if progress is None else progress,
    )  # fmt: skip
    if evaluate_test and run.history.best_checkpoint:
        from .engine import check_accuracy

        best = run.load_model(best=True).to(device)
        run.test_acc = check_accuracy(test_loader, best, verbose=False)
        log(f"Test accuracy of the best epoch: {100 * run.test_acc:.2f} %")
        _write_config(run)
    return run


def _check_same(saved: Run, config: RunConfig, settings: dict[str, Any], path: Path) -> None:
    """A saved run with other settings is not this run: say how to get a fresh one."""
    ours = {**config.training_settings(), **{k: v for k, v in settings.items() if k != "budget_s"}}
    theirs = {**saved.config.training_settings(), **saved.settings}
    diff = [f"{k}: saved {theirs.get(k)!r}, asked {v!r}" for k, v in ours.items()
            if k != "max_steps_per_epoch" or v is not None
            if theirs.get(k) != v]  # fmt: skip
    if diff:
        raise ValueError(
            f"the saved run at {path} was trained with other settings ({'; '.join(diff)}). "
            "Pass force=True to retrain it, or another run_name/runs_dir to keep both."
        )


def time_train_step(
    model: nn.Module, config: RunConfig, loader: Iterable, device: torch.device, n: int = 3
) -> float:
    """Median seconds of one training step as `train` runs it, measured on a copy of the model.

    The same step function, memory format and autocast as `train`'s defaults, so a budget
    cut from this time lands near the budget.
    """
    model = copy.deepcopy(model).to(device)
    channels_last, amp_dtype = default_channels_last(device), autocast_dtype(None, device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(config.optimizer, model, lr=config.lr)
    times = []
    for batch in itertools.islice(loader, n + 1):
        t0 = time.perf_counter()
        train_one_epoch(model, optimizer, [batch], steps=1, device=device, amp_dtype=amp_dtype,
                        channels_last=channels_last)  # fmt: skip
        times.append(time.perf_counter() - t0)
    times = sorted(times[1:])  # the first step warms up
    if not times:
        raise ValueError("the train loader has too few batches to time a step (2 or more).")
    return times[len(times) // 2]


# ----------------------------------------------------------------------------------------
# Tables


def results_table(runs: Iterable[Run]) -> list[dict[str, Any]]:
    """One row per run: our best val acc beside the report's, with the data that produced it."""
    rows = []
    for run in runs:
        h, cfg = run.history, run.config
        rows.append({
            "run": cfg.label,
            "data": run.dataset + (" (quick)" if run.settings["quick"] else ""),
            "epochs": h.epochs,
            "best val acc %": round(100 * h.best_val_acc, 1) if h.best_epoch else None,
            "best epoch": h.best_epoch or None,
            "report val acc % (CIFAR-100)": cfg.report_acc,
            "report epoch": cfg.report_epoch,
            "status": h.status,
        })  # fmt: skip
    return rows


def format_table(rows: list[dict[str, Any]]) -> str:
    """A plain-text table (fixed width) of `results_table` rows."""
    if not rows:
        return "(no runs)"
    cols = list(rows[0])
    cells = [[("-" if r[c] is None else str(r[c])) for c in cols] for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(cols)]
    line = lambda vals: "  ".join(v.ljust(w) for v, w in zip(vals, widths, strict=True))
    return "\n".join([line(cols), line(["-" * w for w in widths]), *map(line, cells)]).rstrip()
