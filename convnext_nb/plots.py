"""The report's graphs, redrawn from saved runs, each labelled with the data that produced it.

    runs = run_experiment("test2_base_optimizers")
    fig = plot_graph("graph1", runs)    # also saved as figures/graph1_base_optimizers.png

Figures are plain `matplotlib.figure.Figure` objects (not pyplot), so they are safe to draw
from a training thread and show once in a notebook (`fig` as a cell's last line).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from pathlib import Path

from matplotlib.figure import Figure

from .experiments import EXPERIMENTS, Run, load_run
from .utils import save_fig


def _graphs() -> dict[str, tuple[str, str, str]]:
    """The report's graphs, from the experiments that carry one (Experiment.graph)."""
    graphs = {}
    for e in EXPERIMENTS.values():
        if e.graph:
            key = e.graph.lower().replace(" ", "")  # "Graph 1" -> "graph1"
            subject = e.title.split(": ", 1)[-1]  # "Test 2: base model, ..." -> "base model, ..."
            file_name = f"{key}_{re.sub(r'^test[0-9]+_', '', e.name)}"  # graph1_base_optimizers
            graphs[key] = (e.name, f"{e.graph}: {subject}", file_name)
    return graphs


GRAPHS = _graphs()  # key -> (experiment, title, file name), e.g. "graph3" -> ("dyt_vs_ln", ...)

DATASET_NAMES = {"cifar100": "CIFAR-100", "fashion_mnist": "Fashion-MNIST",
                 "fashion_mnist_small": "Fashion-MNIST (the package's small subset)",
                 "fake_cifar100": "fake CIFAR-100 (random pixels)"}  # fmt: skip


def data_label(runs: Sequence[Run]) -> str:
    """What produced the curves: dataset, mode, images, epochs and steps, model width."""
    parts = []
    for key in dict.fromkeys(_settings_key(r) for r in runs):
        dataset, quick, subset, steps, width, batch = key
        words = [DATASET_NAMES.get(dataset, dataset)]
        words.append("quick mode" if quick else "full run")
        words.append(f"{subset} train images" if subset else "full train split")
        if steps:
            words.append(f"{steps} steps/epoch")
        words.append(f"batch {batch}")
        if width != 1:
            words.append(f"models at {width:g}x width")
        parts.append(", ".join(words))
    return "data: " + " | ".join(parts)


def _settings_key(run: Run) -> tuple:
    s = run.settings
    return (s.dataset, s.quick, s.subset, s.max_steps_per_epoch, s.width, s.batch_size)


def _as_runs(runs: Sequence[Run | str | Path]) -> list[Run]:
    out = [r if isinstance(r, Run) else load_run(r) for r in runs]
    if not out:
        raise ValueError("no runs to plot; pass Run objects or run folders (runs/<name>).")
    return out


def plot_runs(
    runs: Sequence[Run | str | Path],
    title: str = "Training runs",
    name: str | None = None,
    folder: str | Path | None = None,
    show_report: bool | None = None,
    x: str = "epoch",
) -> Figure:
    """Training loss and validation accuracy per epoch, one line per run.

    show_report: mark the report's best (epoch, accuracy) as a star; by default only when
    every run is a full CIFAR-100 run (the only data the report's numbers can be compared to).
    x: "epoch", or "time" (History.epoch_time summed: seconds of training and validation) to
    compare runs at equal time rather than at equal epochs; no report stars then (the report
    gives epochs, not seconds).
    name: also save the figure as <folder or figures/>/<name>.png.
    """
    if x not in ("epoch", "time"):
        raise ValueError(f"x must be 'epoch' or 'time', got {x!r}.")
    runs = _as_runs(runs)
    if x == "time":
        show_report = False
    if show_report is None:
        show_report = all(r.dataset == "cifar100" and not r.settings.quick for r in runs)
    fig = Figure(figsize=(11, 4.2), layout="constrained")
    ax_loss, ax_acc = fig.subplots(1, 2)
    for i, run in enumerate(runs):
        h, color = run.history, f"C{i}"
        xs = list(itertools.accumulate(h.epoch_time)) if x == "time" else range(1, h.epochs + 1)
        best = f" (best {100 * h.best_val_acc:.1f} % @ {h.best_epoch})" if h.best_epoch else ""
        ax_loss.plot(xs, h.train_loss, "o-", ms=3, color=color, label=run.config.label)
        ax_acc.plot(xs, [100 * a for a in h.val_acc], "o-", ms=3, color=color,
                    label=run.config.label + best)  # fmt: skip
        if show_report and run.config.report_acc is not None and run.config.report_epoch:
            ax_acc.plot(run.config.report_epoch, run.config.report_acc, "*", ms=12, color=color,
                        mec="k", label=f"report: {run.config.report_acc} %")  # fmt: skip
    xlabel = "epoch" if x == "epoch" else "training time (s)"
    ax_loss.set(xlabel=xlabel, ylabel="training loss", title="training loss")
    ax_acc.set(xlabel=xlabel, ylabel="validation accuracy (%)", title="validation accuracy")
    for ax in (ax_loss, ax_acc):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
        if x == "epoch":
            ax.xaxis.get_major_locator().set_params(integer=True)
    fig.suptitle(f"{title}\n{data_label(runs)}", fontsize=10)
    if name is not None:
        save_fig(fig, name, folder)
    return fig


def plot_graph(
    which: str, runs: Sequence[Run | str | Path], folder: str | Path | None = None
) -> Figure:
    """The report's Graph 1/2/3 ("graph1", "graph2", "graph3") from these runs, saved."""
    key = which.lower().replace(" ", "")
    if key not in GRAPHS:
        raise ValueError(f"unknown graph {which!r}; choose one of: {', '.join(GRAPHS)}.")
    experiment, title, file_name = GRAPHS[key]
    runs = _as_runs(runs)
    expected = {r.name for r in EXPERIMENTS[experiment].runs}
    names = {r.config.name for r in runs}
    if not names & expected:
        raise ValueError(
            f"{which} draws the runs of {experiment!r} ({', '.join(sorted(expected))}), "
            f"got {', '.join(sorted(names))}. Use plot_runs for other runs."
        )
    quick = any(r.settings.quick for r in runs)
    return plot_runs(runs, title, file_name + ("_quick" if quick else ""), folder)
