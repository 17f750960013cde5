"""Reference runs: every experiment trained once on real data, shipped as small JSON files.

    runs = reference_runs("test2_base_optimizers")    # list[Run], loaded from the package
    python -m convnext_nb reference                    # (re)make them; resumes, skips done ones

A notebook cannot train the base model for 50 epochs in the time a student has, and its quick
mode only shows that the code runs. So each run of each experiment was trained once, at its
own epochs and batch size, on Fashion-MNIST with 5,000 training images (500 per class, as
CIFAR-100 has), the 1,000-image validation split and the 10,000-image test set. Each file in
`reference_runs/` holds the run's config, settings, per-epoch history, test accuracy of the
best epoch, and the machine, versions and wall time that produced it. No checkpoints: those
stay under `runs/reference/` on the machine that trained them.

This module trains and reads those files; it does not plot (plots.py) or define runs
(experiments.py).
"""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from .distributed import rank_from_env
from .engine import History
from .experiments import (
    EXPERIMENTS,
    Run,
    RunConfig,
    RunSettings,
    get_experiment,
    load_run,
    run_experiment,
)
from .utils import atomic_write, get_device

REFERENCE_DIR = Path(__file__).resolve().parent / "reference_runs"
REFERENCE_DATA = {"dataset": "fashion_mnist", "subset": 5000}  # 500 images per class
COMMAND = "python -m convnext_nb reference"


def reference_configs() -> list[RunConfig]:
    """Every run of every experiment, once each, cheapest model first."""
    unique = {cfg.name: cfg for exp in EXPERIMENTS.values() for cfg in exp.runs}
    cost = {"atto": 0, "nano": 1, "tiny": 2, "base": 3}
    return sorted(unique.values(), key=lambda c: cost.get(c.model.split("_")[-1], 4))


def reference_path(name: str, folder: str | Path = REFERENCE_DIR) -> Path:
    return Path(folder) / f"{name}.json"


def load_reference(name: str, folder: str | Path = REFERENCE_DIR) -> Run:
    """One reference run as a `Run` (settings["made_on"] says where and how it was made)."""
    path = reference_path(name, folder)
    if not path.exists():
        raise FileNotFoundError(
            f"no reference run {name!r} in {Path(folder)}; make it with `{COMMAND} --only {name}`."
        )
    try:
        data = json.loads(path.read_text())
        config = RunConfig.from_dict(data["config"])
        history = History.from_dict(data["history"])
    except (ValueError, KeyError, TypeError) as err:
        raise ValueError(
            f"{path} is damaged ({err}); remake it with `{COMMAND} --only {name} --force`."
        ) from None
    made_on = {"train_s": round(sum(history.epoch_time), 1), **data["made_on"]}
    extra = {"made_on": made_on, "reference": True, "shortened": data.get("shortened")}
    settings = RunSettings.from_dict({**data["settings"], **extra})
    return Run(name, path, config, settings, history, test_acc=data.get("test_acc"))


def reference_runs(experiment: str, folder: str | Path = REFERENCE_DIR) -> list[Run]:
    """The reference runs of an experiment, in the experiment's order."""
    return [load_reference(cfg.name, folder) for cfg in get_experiment(experiment).runs]


def course_runs(experiment: str, runs_dir: str | Path = "runs") -> tuple[list[Run], str]:
    """Real CIFAR-100 runs of an experiment when all are saved under runs_dir, else the
    reference runs; returns (runs, a sentence saying which)."""
    folders = [Path(runs_dir) / f"{cfg.name}-cifar100" for cfg in get_experiment(experiment).runs]
    if all((f / "history.json").exists() for f in folders):
        runs = [load_run(f) for f in folders]
        if all(r.finished for r in runs):
            return runs, f"your own CIFAR-100 runs from {Path(runs_dir)}/"
    runs = reference_runs(experiment)
    return runs, f"the shipped reference runs ({describe_machine(runs[0].settings['made_on'])})"


def describe_machine(made_on: dict[str, Any]) -> str:
    return f"{made_on['device_name']}, torch {made_on['torch']}, {made_on.get('amp') or 'fp32'}"


def machine_info(device: torch.device, amp: str | None, threads: int) -> dict[str, Any]:
    """Where a run is made: device, CPU, versions, date (stored beside its numbers)."""
    import timm

    if device.type == "cuda":
        name = torch.cuda.get_device_name(device)
    else:
        name = f"{_cpu_model()} ({threads} threads)"
    return {
        "device": device.type,
        "device_name": name,
        "amp": amp,
        "threads": threads,
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "timm": timm.__version__,
        "platform": platform.platform(),
        "date": time.strftime("%Y-%m-%d"),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "CPU"


def make_reference_runs(
    names: Iterable[str] | None = None,
    *,
    device: str | None = None,
    amp: str | None = "bf16",
    threads: int | None = None,
    base_epochs: int | None = None,
    runs_dir: str | Path = "runs/reference",
    out: str | Path = REFERENCE_DIR,
    force: bool = False,
) -> list[Path]:
    """Train the reference runs not yet in `out` (all, or `names`); return the files written.

    Checkpoints go to runs_dir, so an interrupted run resumes where it stopped. base_epochs
    shortens only the base-model runs (when a CPU cannot fit them), and the file says so.
    """
    configs = reference_configs()
    if names is not None:
        names = list(names)
        known = {c.name for c in configs}
        if unknown := [n for n in names if n not in known]:
            raise ValueError(f"unknown reference runs {unknown}; choose from: {sorted(known)}.")
        by_name = {c.name: c for c in configs}
        configs = [by_name[n] for n in names]  # in the order asked for
    if threads is not None:
        torch.set_num_threads(threads)
    dev = get_device(device)
    written = []
    for cfg in configs:
        path = reference_path(cfg.name, out)
        if path.exists() and not force:
            print(f"{path} exists: skipping (--force remakes it).")
            continue
        written.append(_make_one(cfg, path, dev, amp, base_epochs, Path(runs_dir), force))
    return written


def _make_one(
    cfg: RunConfig,
    path: Path,
    device: torch.device,
    amp: str | None,
    base_epochs: int | None,
    runs_dir: Path,
    force: bool,
) -> Path:
    epochs = cfg.epochs
    shortened = None
    if base_epochs is not None and cfg.model.endswith("base") and base_epochs < cfg.epochs:
        epochs = base_epochs
        shortened = (
            f"base-model run shortened to {base_epochs} of the report's {cfg.epochs} "
            "epochs: the full run did not fit the machine's time"
        )
    t0 = time.perf_counter()
    (run,) = run_experiment(
        cfg,
        quick=False,
        epochs=epochs,
        runs_dir=runs_dir,
        force=force,
        device=device,
        amp=amp,
        evaluate_test=True,
        progress=False,
        **REFERENCE_DATA,
    )
    if run.history.status not in ("completed", "diverged"):
        raise RuntimeError(f"{cfg.name} ended {run.history.status}: {run.history.message}")
    if rank_from_env() != 0:  # under torchrun, rank 0 writes the file
        return path
    threads = torch.get_num_threads()
    data = {
        "config": cfg.to_dict(),
        "settings": run.settings.to_dict(),
        "history": run.history.to_dict(),
        "test_acc": run.test_acc,
        "shortened": shortened,
        "made_on": {
            **machine_info(device, amp, threads),
            "train_s": round(sum(run.history.epoch_time), 1),  # every sitting
            "wall_s": round(time.perf_counter() - t0, 1),  # the last sitting only
            "load_avg": [round(x, 1) for x in os.getloadavg()],
            "command": f"{COMMAND} --only {cfg.name}",
        },
    }
    for key in ("best_checkpoint", "last_checkpoint"):  # machine-local paths
        data["history"][key] = None
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(data, indent=1)))
    print(f"Wrote {path}")
    return path


def reference_table(folder: str | Path = REFERENCE_DIR) -> str:
    """A Markdown table of the reference runs made so far: run, epochs, best val (epoch),
    test accuracy of the best epoch, training time, machine."""
    lines = [
        "| run | epochs | best val (epoch) | test | training | report (CIFAR-100 val) | made on |",
        "|---|---|---|---|---|---|---|",
    ]
    for cfg in reference_configs():
        if not reference_path(cfg.name, folder).exists():
            lines.append(f"| {cfg.name} | not made yet | | | | | `{COMMAND} --only {cfg.name}` |")
            continue
        run = load_reference(cfg.name, folder)
        h, made = run.history, run.settings["made_on"]
        epochs = f"{h.epochs} of {cfg.epochs}" if h.epochs != cfg.epochs else f"{h.epochs}"
        report = f"{cfg.report_acc} %" if cfg.report_acc is not None else "-"
        lines.append(
            f"| {cfg.name} | {epochs} | {100 * h.best_val_acc:.1f} % ({h.best_epoch}) | "
            f"{100 * run.test_acc:.2f} % | {made['train_s'] / 60:.0f} min | {report} | "
            f"{describe_machine(made)} |"
        )
    return "\n".join(lines)
