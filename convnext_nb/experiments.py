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
import math
import numbers
import shutil
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_args

import torch
import torch.nn as nn

from . import distributed
from .data import AUGMENTS, DATASETS, make_loaders, quick_dataset
from .distributed import Dist
from .engine import (
    DECAY_PARAMS,
    SCHEDULES,
    History,
    TrainConfig,
    default_weight_decay,
    load_checkpoint,
    make_optimizer,
    train,
    train_one_epoch,
)
from .layers import NormKind
from .models import STEM_STRIDES, ConvNeXtV2, create_model, resolve_name
from .rundir import aside_path, run_lock, set_aside, settle
from .utils import atomic_write, get_device, quick_mode


@dataclass(frozen=True)
class QuickSettings:
    """What quick mode shrinks: data, steps and model width (one place, stated in the output)."""

    subset: int = 512  # training images
    val_size: int = 128
    batch_size: int = 32
    max_epochs: int = 3
    max_steps_per_epoch: int = 4
    width: float = 0.25  # every model at a quarter of its channels

    def describe(self, dataset: str) -> str:
        return (
            f"Quick mode: {self.subset} {dataset} training images, {self.val_size} validation "
            f"images, at most {self.max_epochs} epochs of {self.max_steps_per_epoch} steps "
            f"(batch {self.batch_size}), models at {self.width:g}x width. These numbers only "
            "show that the code runs; unset CONVNEXT_NB_QUICK for real CIFAR-100 training."
        )


QUICK = QuickSettings()

# The choices a RunConfig accepts, from the modules that implement them (one source of truth).
NORMS: tuple[str, ...] = get_args(NormKind)
STEMS: tuple[str, ...] = tuple(STEM_STRIDES)


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
        _check_choice("norm", self.norm, NORMS)
        _check_choice("stem", self.stem, STEMS)
        _check_choice("augment", self.augment, AUGMENTS)
        _check_choice("lr_schedule", self.lr_schedule, SCHEDULES)
        _check_count("epochs", self.epochs)
        _check_count("batch_size", self.batch_size)
        _check_number("lr", self.lr, "a positive number (e.g. 1e-3)", lambda v: v > 0)
        _check_number("weight_decay", self.weight_decay, ">= 0 (e.g. 0.05)", lambda v: v >= 0)
        _check_number("warmup_epochs", self.warmup_epochs, ">= 0", lambda v: v >= 0)
        _check_number("label_smoothing", self.label_smoothing, "in [0, 1)", lambda v: 0 <= v < 1)
        _check_number("drop_path_rate", self.drop_path_rate, "in [0, 1)", lambda v: 0 <= v < 1)
        _check_number("width", self.width, "in (0, 4]", lambda v: 0 < v <= 4)
        if self.grad_clip is not None:
            _check_number("grad_clip", self.grad_clip, "a positive number or None", lambda v: v > 0)
        for name in ("lr", "weight_decay", "warmup_epochs", "label_smoothing", "drop_path_rate",
                     "width", "grad_clip", "epochs", "batch_size", "seed"):  # fmt: skip
            value = getattr(self, name)  # NumPy scalars -> Python numbers (JSON, equality)
            if value is not None:
                object.__setattr__(self, name, (int if name in _INTS else float)(value))

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


_INTS = ("epochs", "batch_size", "seed")


def _check_count(what: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ValueError(f"{what} must be a positive integer, got {value!r}.")


def _check_number(what: str, value: Any, rule: str, ok: Callable[[float], bool]) -> None:
    """A finite real number (NumPy scalars too) for which ok(value) holds."""
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not (real and math.isfinite(value) and ok(value)):
        raise ValueError(f"{what} must be {rule}, got {value!r}.")


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
    ("batch_size", "the report does not say; its train/check_accuracy come from CS231n's "
     "PyTorch notebook, which uses 64"),
    ("seed", "the report does not say; one seed gives every run the same initial weights "
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
    assumed=(*_ASSUMED, ("epochs", "the report gives no epoch count for its Result; "
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
# each ablation adds one group of them to that run, so 08 can say what each is worth. The whole
# recipe (the experiment's last run) has them all, plus label smoothing, drop path and batch
# 128, which no single run tries.
ABLATION_STEPS = {
    "optimizer": ("+ AdamW, warmup + cosine", {
        "optimizer": "adamw", "lr": 2e-3, "weight_decay": 0.05, "decay_params": "weights",
        "lr_schedule": "cosine", "warmup_epochs": 1.0}),
    "stem": ("+ CIFAR stem (stride 2)", {"stem": "cifar_s2"}),
    "augment": ("+ crop + flip", {"augment": "basic"}),
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
    """The run's ConvNeXt V2: `create_model` with the config's model, width, seed (the same
    seed gives the same initial weights), norm, stem and drop path."""
    return create_model(
        config.model, num_classes, width=config.width, seed=config.seed, norm=config.norm,
        stem=config.stem, drop_path_rate=config.drop_path_rate,
    )  # fmt: skip


# ----------------------------------------------------------------------------------------
# Runs on disk

_LEFT_OPEN = ("max_steps_per_epoch", "num_classes", "amp")  # None when asked: whatever was saved
AMP_CHOICES = (None, False, True, "bf16", "fp16")


@dataclass(frozen=True)
class RunSettings:
    """What produced a run's numbers besides its RunConfig: data, mode, length, size, budget.

    `RunSettings.for_run(config, quick=..., dataset=..., epochs=...)` applies quick mode's
    shrinking; a run saves its settings in config.json beside its config. `extra` keeps other
    saved keys (the reference runs' made_on, reference, shortened); `settings["quick"]` and
    `settings.get("shortened")` read fields and extras alike.
    """

    dataset: str = "cifar100"
    quick: bool = False
    epochs: int = 1
    subset: int | None = None  # training images (None: the whole training split)
    val_size: int = 1000
    batch_size: int = 64
    width: float = 1.0  # channel multiplier of the model
    max_steps_per_epoch: int | None = None  # quick mode's cap, or what budget_s fitted
    budget_s: float | None = None  # seconds of training asked for (per run)
    amp: bool | str | None = None  # engine.train's amp (None: bf16 autocast on CUDA only)
    num_classes: int | None = None  # filled in from the data
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        _check_choice("dataset", self.dataset, DATASETS)
        for name in ("epochs", "val_size", "batch_size", "subset", "max_steps_per_epoch",
                     "num_classes"):  # fmt: skip
            value = getattr(self, name)
            if value is not None or name in ("epochs", "val_size", "batch_size"):
                _check_count(name, value)
                object.__setattr__(self, name, int(value))  # NumPy ints -> JSON-able ints
        _check_number("width", self.width, "in (0, 4]", lambda v: 0 < v <= 4)
        if self.budget_s is not None:
            _check_number("budget_s", self.budget_s, "a positive number of seconds (e.g. 60)",
                          lambda v: v > 0)  # fmt: skip
        if self.amp not in AMP_CHOICES:
            raise ValueError(f"amp must be one of {AMP_CHOICES}, got {self.amp!r}.")

    @classmethod
    def for_run(
        cls, config: RunConfig, *, quick: bool | None = None, dataset: str | None = None,
        epochs: int | None = None, subset: int | None = None, budget_s: float | None = None,
        amp: bool | str | None = None,
    ) -> RunSettings:  # fmt: skip
        """The settings of `config` run as asked (quick None follows CONVNEXT_NB_QUICK)."""
        quick = quick_mode() if quick is None else quick
        dataset = dataset or (quick_dataset() if quick else "cifar100")
        epochs = config.epochs if epochs is None else epochs
        _check_count("epochs", epochs)
        if not quick:
            return cls(dataset, False, epochs, subset, 1000, config.batch_size, config.width,
                       budget_s=budget_s, amp=amp)  # fmt: skip
        q = QUICK
        return cls(dataset, True, min(epochs, q.max_epochs), subset or q.subset, q.val_size,
                   q.batch_size, q.width, q.max_steps_per_epoch, budget_s, amp)  # fmt: skip

    def __getitem__(self, key: str) -> Any:
        if key in _SETTINGS_FIELDS:
            return getattr(self, key)
        return self.extra[key]

    def get(self, key: str, default: Any = None) -> Any:
        try:
            return self[key]
        except KeyError:
            return default

    def to_dict(self) -> dict[str, Any]:
        """A flat dict, as config.json stores it (extras beside the fields)."""
        data = {name: getattr(self, name) for name in _SETTINGS_FIELDS}
        return {**data, **copy.deepcopy(self.extra)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSettings:
        """Read a saved dict; unknown keys go to `extra`."""
        known = {k: v for k, v in data.items() if k in _SETTINGS_FIELDS}
        extra = {k: v for k, v in data.items() if k not in _SETTINGS_FIELDS and k != "extra"}
        return cls(**known, extra={**data.get("extra", {}), **extra})

    def identity(self) -> dict[str, Any]:
        """The fields that tell runs apart (checked against a saved run before reusing it)."""
        return {k: v for k, v in self.to_dict().items()
                if k in _SETTINGS_FIELDS and k != "budget_s"  # its cut is max_steps_per_epoch
                and not (v is None and k in _LEFT_OPEN)}  # fmt: skip


_SETTINGS_FIELDS = tuple(f.name for f in dataclasses.fields(RunSettings) if f.name != "extra")


@dataclass
class Run:
    """One run on disk: runs/<name>/{config.json, history.json, last.pt, best.pt}."""

    name: str
    path: Path | None
    config: RunConfig
    settings: RunSettings  # what produced the numbers (a saved dict is read into one)
    history: History
    model: nn.Module | None = field(default=None, repr=False)  # set when trained in-process
    test_acc: float | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.settings, RunSettings):
            self.settings = RunSettings.from_dict(self.settings)

    @property
    def dataset(self) -> str:
        return self.settings.dataset

    @property
    def finished(self) -> bool:
        return self.history.status in ("completed", "diverged")

    def describe(self) -> str:
        """One line: which data, mode, epochs and model produced these numbers."""
        s, cfg = self.settings, self.config
        mode = "quick mode" if s.quick else "full run"
        where = f"{s.subset} training images" if s.subset else "full training set"
        return (
            f"{cfg.label}: {s.dataset}, {mode}, {where}, {s.epochs} epochs, {cfg.model} "
            f"x{s.width:g} width, {cfg.optimizer} lr {cfg.lr:g}, {cfg.stem} stem, "
            f"augment {cfg.augment}"
        )

    def load_model(self, best: bool = True) -> nn.Module:
        """A fresh model with this run's best (or last) saved weights."""
        cfg = dataclasses.replace(self.config, width=self.settings.width)
        model = build_model(cfg, num_classes=self.settings.num_classes or 100)
        load_checkpoint(self.path / ("best.pt" if best else "last.pt"), model)
        return model


def _read_json(file: Path, run_path: Path) -> Any:
    try:
        return json.loads(file.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(
            f"{file} is damaged ({err}); delete {run_path} or retrain the run with force=True "
            "(--force on the command line)."
        ) from None


def load_run(path: str | Path) -> Run:
    """Read a run folder written by `run_experiment` (needs config.json; history.json when it
    has finished an epoch). A damaged file is named in a ValueError."""
    path = Path(path)
    cfg_file, hist_file = path / "config.json", path / "history.json"
    if not cfg_file.exists():
        raise FileNotFoundError(
            f"{path} is not a saved run (no config.json). Runs are written by "
            "run_experiment(...) or `python -m convnext_nb run ...`, under runs/ by default."
        )
    saved = _read_json(cfg_file, path)
    try:
        config = RunConfig.from_dict(saved["config"])
        settings = RunSettings.from_dict(saved["settings"])
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{cfg_file} is damaged ({err!r}); delete {path} or retrain the run "
                         "with force=True (--force on the command line).") from None  # fmt: skip
    history = History()
    if hist_file.exists():
        data = _read_json(hist_file, path)
        if not isinstance(data, dict):
            raise ValueError(f"{hist_file} is damaged (not a JSON object); delete {path} or "
                             "retrain the run with force=True (--force).")  # fmt: skip
        history = History.from_dict(data)
    return Run(path.name, path, config, settings, history, test_acc=saved.get("test_acc"))


def _write_config(run: Run) -> None:
    data = {"config": run.config.to_dict(), "settings": run.settings.to_dict(),
            "test_acc": run.test_acc}  # fmt: skip
    atomic_write(run.path / "config.json", lambda tmp: tmp.write_text(json.dumps(data, indent=1)))


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


MAX_WARMUP_FRACTION = 0.5


def fit_warmup(config: RunConfig, epochs: int, log: Callable[[str], None] = print) -> RunConfig:
    """`config` with its warmup cut to at most half of an `epochs`-long run (said when cut)."""
    limit = MAX_WARMUP_FRACTION * epochs
    if config.warmup_epochs <= limit:
        return config
    log(f"{config.name}: {config.warmup_epochs:g} warmup epochs do not fit a {epochs}-epoch "
        f"run; warming up for {limit:g} epochs (half the run) instead.")  # fmt: skip
    return dataclasses.replace(config, warmup_epochs=limit)


# ----------------------------------------------------------------------------------------
# run_experiment

TRAIN_OPTIONS = ("stop_event", "callbacks", "progress", "compile")  # passed on to engine.train


@dataclass(frozen=True)
class _Job:
    """One run to load, resume or train, every setting checked: what, where and how."""

    config: RunConfig  # its warmup fitted to settings.epochs
    settings: RunSettings
    path: Path
    force: bool
    device: torch.device
    data_root: str | Path | None
    evaluate_test: bool
    train_options: dict[str, Any]
    log: Callable[[str], None]  # says nothing on ranks other than 0
    dist: Dist | None = None  # under torchrun: this process's rank

    @property
    def is_main(self) -> bool:
        return self.dist is None or self.dist.is_main


def run_experiment(  # noqa: PLR0913 (notebook-facing keywords, gathered into RunSettings at once)
    name_or_config: str | Experiment | RunConfig,
    quick: bool | None = None,
    dataset: str | None = None,
    epochs: int | None = None,
    runs_dir: str | Path = "runs",
    force: bool = False,
    *,
    settings: RunSettings | None = None,
    run_name: str | None = None,
    device: str | torch.device | None = None,
    data_root: str | Path | None = None,
    subset: int | None = None,
    budget_s: float | None = None,
    amp: bool | str | None = None,
    evaluate_test: bool = False,
    log: Callable[[str], None] = print,
    **train_options: Any,
) -> list[Run]:
    """Train every run of an experiment (or load it when saved); return one `Run` per run.

    name_or_config: a name from EXPERIMENTS, a run name, an Experiment or a RunConfig.
    quick: None follows CONVNEXT_NB_QUICK; True trains a few steps on a small offline subset.
    dataset: "cifar100" (default; quick mode: "fashion_mnist", else "fake_cifar100").
    epochs: overrides the config's epochs (quick mode caps it at QUICK.max_epochs); a warmup
        longer than half the run is cut to half of it (and said).
    subset, amp: training images to use, and mixed precision (see RunSettings).
    budget_s: fit the training into about this many seconds (per run) by timing a few steps
        first and cutting each epoch to the steps that fit (the schedule follows the cut).
    settings: a ready RunSettings instead of quick/dataset/epochs/subset/budget_s/amp.
    runs_dir/run_name: the run lives in runs_dir/run_name (default `<run>-<dataset>[-quick]`).
        A finished run there is loaded, an unfinished one resumed. force=True retrains; the
        saved run is kept until the new one has finished an epoch. One process at a time
        trains a run folder (a second one gets rundir.RunLockedError).
    evaluate_test: also measure accuracy on the test split (best weights), saved as test_acc.
    train_options: stop_event, callbacks, progress, compile, passed to `engine.train`
        (progress defaults to off in quick mode). log: where this function's messages go.

    Every run's settings are checked before anything is written. Ctrl-C (a notebook's
    interrupt) saves the current run, resumable, and raises KeyboardInterrupt: the
    experiment's later runs are not started.

    Under `torchrun --nproc_per_node=N` every process calls this and trains with DDP, each on
    its own GPU; rank 0 alone takes the lock, writes the run folder and logs, and decides for
    all (load, resume or train; the budget's cut; the test accuracy).
    """
    experiment = get_experiment(name_or_config)
    if run_name is not None and len(experiment.runs) > 1:
        raise ValueError("run_name names one run; this experiment has several. Use runs_dir.")
    asked = dict(quick=quick, dataset=dataset, epochs=epochs, subset=subset, budget_s=budget_s,
                 amp=amp)  # fmt: skip
    if settings is not None and any(v is not None for v in asked.values()):
        raise ValueError("pass settings=RunSettings(...) or quick/dataset/epochs/subset/"
                         "budget_s/amp, not both.")  # fmt: skip
    if unknown := sorted(set(train_options) - set(TRAIN_OPTIONS)):
        raise TypeError(f"run_experiment() got unexpected options {unknown}; it passes only "
                        f"{', '.join(TRAIN_OPTIONS)} on to engine.train.")  # fmt: skip
    if distributed.rank_from_env() != 0:
        log = lambda line: None  # rank 0 speaks for all
    with distributed.group(get_device(device)) as (dist, device):
        how = dict(force=force, device=device, data_root=data_root, evaluate_test=evaluate_test,
                   train_options=train_options, log=log, dist=dist)  # fmt: skip
        jobs = []
        for cfg in experiment.runs:  # every run checked before any touches the disk
            run_settings = settings or RunSettings.for_run(cfg, **asked)
            cfg = fit_warmup(cfg, run_settings.epochs, log)
            name = run_name or default_run_name(cfg, run_settings.dataset, run_settings.quick)
            jobs.append(_Job(cfg, run_settings, Path(runs_dir) / name, **how))
        return _run_all(jobs)


def _run_all(jobs: list[_Job]) -> list[Run]:
    """Run the jobs in order; stop (KeyboardInterrupt) after an interrupted one."""
    if jobs[0].settings.quick:
        jobs[0].log(QUICK.describe(jobs[0].settings.dataset))
    runs = []
    for job in jobs:
        runs.append(_run_one(job))
        if runs[-1].history.status == "interrupted":
            raise KeyboardInterrupt(
                f"interrupted while training {job.path}; it is saved and resumes when run "
                "again. The experiment's later runs were not started."
            )
    return runs


def _run_one(job: _Job) -> Run:
    """Load the job's saved run, or resume or train it, holding the run folder's lock (under
    torchrun rank 0 holds it, reads the saved run and hands it to every rank)."""
    with ExitStack() as held:

        def claim() -> Run | None:
            held.enter_context(run_lock(job.path, job.log))
            return None if job.force else _saved_run(job)

        saved = distributed.from_main(job.dist, claim)
        if saved is not None and saved.finished:
            job.log(f"Found saved run at {job.path}, loading ({saved.history.status}, "
                    f"{saved.history.epochs} epochs; force=True retrains).")  # fmt: skip
            return saved
        return _train_run(job, saved)


def _saved_run(job: _Job) -> Run | None:
    """The run saved at job.path (None if none); ValueError if it has other settings."""
    if not (job.path / "config.json").exists():
        return None
    saved = load_run(job.path)
    _check_same(saved, job.config, job.settings, job.path)
    if not saved.finished and (job.path / "last.pt").exists():
        job.log(f"Found unfinished run at {job.path} ({saved.history.epochs} of "
                f"{saved.settings.epochs} epochs, {saved.history.status}): resuming.")  # fmt: skip
    return saved


def _train_run(job: _Job, saved: Run | None) -> Run:
    """Load the data, build the model, then train into job.path (a resumed run keeps its
    saved settings, budget cut included)."""
    config, settings = job.config, (saved.settings if saved is not None else job.settings)
    with distributed.main_first(job.dist):  # rank 0 may write fake CIFAR-100 files first
        train_loader, val_loader, test_loader = make_loaders(
            settings.dataset, augment=config.augment, batch_size=settings.batch_size,
            seed=config.seed, subset=settings.subset, val_size=settings.val_size,
            data_root=job.data_root, device=job.device,
        )  # fmt: skip
    model = build_model(dataclasses.replace(config, width=settings.width), train_loader.num_classes)
    optimizer = make_optimizer(config.optimizer, model, lr=config.lr,
                               weight_decay=config.weight_decay,
                               decay_params=config.decay_params)  # fmt: skip
    fit = lambda: _fit_budget(settings, model, job, train_loader)
    settings = distributed.from_main(job.dist, fit)  # one cut for every rank
    settings = dataclasses.replace(settings, num_classes=train_loader.num_classes)
    run = Run(job.path.name, job.path, config, settings, History(), model=model)
    try:
        resume = distributed.from_main(job.dist, lambda: _prepare_folder(run, job))
        options = {k: v for k, v in job.train_options.items() if v is not None}
        run.history = train(
            model, optimizer, train_loader, val_loader, settings.epochs, device=job.device,
            amp=settings.amp, lr_schedule=config.lr_schedule, warmup_epochs=config.warmup_epochs,
            label_smoothing=config.label_smoothing, grad_clip=config.grad_clip, seed=config.seed,
            checkpoint_dir=job.path, resume=resume or None,
            max_steps_per_epoch=settings.max_steps_per_epoch,
            **{"progress": not settings.quick, **options},
        )  # fmt: skip
    finally:  # a force=True retrain's old run: dropped, or put back (rank 0's files)
        restored = job.is_main and settle(job.path, aside_path(job.path), job.log)
    if distributed.share(job.dist, restored) and run.history.status != "interrupted":
        return load_run(job.path)  # the old run is back; Ctrl-C must still stop the experiment
    if job.evaluate_test and run.history.best_checkpoint:
        test = lambda: _evaluate_test(run, test_loader, job)
        run.test_acc = distributed.from_main(job.dist, test)
    return run


def _prepare_folder(run: Run, job: _Job) -> bool:
    """Set a force=True run's saved one aside, write config.json (everything is checked by
    now); True when there is a last.pt to resume from. Rank 0 alone writes the folder."""
    if job.force:
        set_aside(job.path, job.log)
    _write_config(run)
    job.log(f"Training {run.name}: {run.describe()} -> {job.path}")
    return (job.path / "last.pt").exists()


def _fit_budget(settings: RunSettings, model: nn.Module, job: _Job, loader) -> RunSettings:
    """Cut each epoch to the steps that fit settings.budget_s (once: a resumed run keeps it)."""
    if settings.budget_s is None or settings.max_steps_per_epoch is not None:
        return settings
    step_s = time_train_step(model, job.config, loader, job.device)
    steps = min(max(1, int(settings.budget_s / settings.epochs / step_s)), len(loader))
    job.log(f"Budget {settings.budget_s:g} s: {step_s * 1000:.0f} ms per step -> {steps} steps "
            "per epoch.")  # fmt: skip
    return dataclasses.replace(settings, max_steps_per_epoch=steps)


def _evaluate_test(run: Run, test_loader, job: _Job) -> float:
    """Test accuracy of the run's best weights, saved in config.json (rank 0 alone)."""
    from .engine import check_accuracy

    best = run.load_model(best=True).to(job.device)
    run.test_acc = check_accuracy(test_loader, best, verbose=False)
    job.log(f"Test accuracy of the best epoch: {100 * run.test_acc:.2f} %")
    _write_config(run)
    return run.test_acc


def _check_same(saved: Run, config: RunConfig, settings: RunSettings, path: Path) -> None:
    """A saved run with other settings is not this run: say how to get a fresh one."""
    ours = {**config.training_settings(), **settings.identity()}
    theirs = {**saved.config.training_settings(), **saved.settings.to_dict()}
    diff = [f"{k}: saved {theirs.get(k)!r}, asked {v!r}" for k, v in ours.items()
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
    step_config = TrainConfig(device=device).resolved()  # train's memory format and autocast
    if step_config.channels_last:
        model.to(memory_format=torch.channels_last)
    optimizer = make_optimizer(config.optimizer, model, lr=config.lr)
    times = []
    for batch in itertools.islice(loader, n + 1):
        t0 = time.perf_counter()
        train_one_epoch(model, optimizer, [batch], step_config, steps=1)
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
