"""Command line for headless machines: train the report's experiments and plot saved runs.

    python -m convnext_nb list
    python -m convnext_nb run test4_tiny_ln --epochs 5
    python -m convnext_nb run improved --quick            # a few steps on offline data
    python -m convnext_nb plot runs/test4_tiny_ln-cifar100 runs/test5_tiny_dyt-cifar100

Every error (bad arguments, missing data, a damaged file, a run another process is training)
prints one line that says what to do and exits with status 2; Ctrl-C saves the current run
(run the same command again to resume) and exits with status 130. Figures go to runs/figures/
(ignored by git); figures/ holds only the notebooks' figures.

Several GPUs: `torchrun --nproc_per_node=N -m convnext_nb run ...` (DistributedDataParallel);
rank 0 prints, the other ranks print nothing but their own errors.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
from pathlib import Path

from .distributed import MainRankError, rank_from_env
from .engine import COMPILE_MIN_STEPS
from .experiments import DATASETS, EXPERIMENTS, get_experiment, load_run, run_experiment
from .plots import GRAPHS, plot_graph, plot_runs


def _experiment(name: str) -> str:
    try:
        get_experiment(name)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return name


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"expected a positive finite number, got {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="convnext-nb",
        description="Train the seed report's ConvNeXt V2 experiments and plot saved runs.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="{run,plot,reference,list}")
    _add_run(sub)
    _add_plot(sub)
    _add_reference(sub)
    sub.add_parser("list", help="list the experiments and their runs")
    return parser


def _add_run(sub) -> None:
    run = sub.add_parser("run", help="train an experiment (or load it when already saved)",
                         description="Train every run of an experiment; a finished run under "
                         "--runs-dir is loaded, an unfinished one resumed.")  # fmt: skip
    run.add_argument("experiment", type=_experiment,
                     help=f"one of: {', '.join(EXPERIMENTS)} (see `list`)")  # fmt: skip
    run.add_argument("--epochs", type=_positive_int, help="override the config's epochs")
    run.add_argument(
        "--quick",
        action="store_true",
        help="a few steps on a small offline subset (also CONVNEXT_NB_QUICK=1)",
    )
    run.add_argument(
        "--dataset",
        choices=DATASETS,
        help="default: cifar100 (quick mode: fashion_mnist if installed)",
    )
    run.add_argument("--runs-dir", default="runs", type=Path, help="where runs are saved")
    run.add_argument("--data-root", type=Path, help="dataset folder (default: data/)")
    run.add_argument("--device", help="cuda, mps or cpu (default: the best available)")
    run.add_argument("--subset", type=_positive_int, help="use only N training images")
    run.add_argument(
        "--budget-s",
        type=_positive_float,
        help="fit each run into about this many seconds of training",
    )
    run.add_argument("--test", action="store_true", help="also report test-split accuracy")
    run.add_argument("--force", action="store_true", help="retrain even if a run is saved")
    run.add_argument("--no-progress", action="store_true", help="no progress bars")
    run.add_argument("--compile", action=argparse.BooleanOptionalAction, default=None,
                     help="torch.compile the model, replayed as CUDA graphs on one GPU "
                     f"(default: on for CUDA runs of {COMPILE_MIN_STEPS:,} steps or more, "
                     "else off)")  # fmt: skip


def _add_plot(sub) -> None:
    plot = sub.add_parser("plot", help="plot saved runs into runs/figures/",
                          description="Plot training loss and validation accuracy of saved "
                          "runs. When they are the runs of one of the report's graphs, draw "
                          "that graph.")  # fmt: skip
    plot.add_argument("runs", nargs="+", help="run folders, or run names under --runs-dir")
    plot.add_argument("--runs-dir", default="runs", type=Path)
    plot.add_argument("--graph", choices=list(GRAPHS), help="draw this report graph")
    plot.add_argument("--name", default="runs", help="file name of the figure (without .png)")
    plot.add_argument("--folder", type=Path,
                      help="folder for the figure (default: <runs-dir>/figures/)")  # fmt: skip
    plot.add_argument("--title", default="Training runs")
    plot.add_argument(
        "--x",
        choices=["epoch", "time"],
        default="epoch",
        help="x axis: epochs, or seconds of training (equal-time comparisons)",
    )


def _add_reference(sub) -> None:
    ref = sub.add_parser("reference", help="make the shipped reference runs (resumable)",
                         description="Train every experiment's runs on Fashion-MNIST (5,000 "
                         "training images) and write reference_runs/<run>.json; runs already "
                         "there are skipped, interrupted ones resume.")  # fmt: skip
    ref.add_argument("--only", nargs="+", metavar="RUN", help="only these runs")
    ref.add_argument("--device", help="cuda, mps or cpu (default: the best available)")
    ref.add_argument("--amp", default="bf16", choices=["bf16", "fp16", "off"],
                     help="autocast dtype (default bf16)")  # fmt: skip
    ref.add_argument("--threads", type=_positive_int, help="CPU threads for this process")
    ref.add_argument(
        "--base-epochs",
        type=_positive_int,
        help="shorten only the base-model runs to N epochs (said in the files)",
    )
    ref.add_argument("--runs-dir", default="runs/reference", type=Path,
                     help="checkpoints, for resuming")  # fmt: skip
    ref.add_argument("--out", type=Path, help="folder for the JSON files (default: the package's)")
    ref.add_argument("--force", action="store_true", help="remake runs that exist")
    ref.add_argument("--table", action="store_true",
                     help="print a Markdown table of the runs made so far; train "
                     "nothing")  # fmt: skip


def cmd_reference(args: argparse.Namespace) -> int:
    from .reference import REFERENCE_DIR, make_reference_runs, reference_table

    if args.table:
        print(reference_table(args.out or REFERENCE_DIR))
        return 0

    make_reference_runs(
        args.only, device=args.device, amp=None if args.amp == "off" else args.amp,
        threads=args.threads, base_epochs=args.base_epochs, runs_dir=args.runs_dir,
        out=args.out or REFERENCE_DIR, force=args.force,
    )  # fmt: skip
    return 0


def cmd_list() -> int:
    for exp in EXPERIMENTS.values():
        print(f"{exp.name}: {exp.title}")
        for cfg in exp.runs:
            report = f"report {cfg.report_acc} %" if cfg.report_acc is not None else "ours"
            print(
                f"  {cfg.name}: {cfg.model}, {cfg.norm}, {cfg.stem} stem, {cfg.optimizer} "
                f"lr {cfg.lr:g}, {cfg.epochs} epochs, augment {cfg.augment} ({report})"
            )
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    runs = run_experiment(
        args.experiment, quick=True if args.quick else None, dataset=args.dataset,
        epochs=args.epochs, runs_dir=args.runs_dir, force=args.force, device=args.device,
        data_root=args.data_root, subset=args.subset, budget_s=args.budget_s,
        evaluate_test=args.test, progress=False if args.no_progress else None,
        compile=args.compile,
    )  # fmt: skip
    for run in runs:
        h = run.history
        test = f", test acc {100 * run.test_acc:.2f} %" if run.test_acc is not None else ""
        report = (f" (report: {run.config.report_acc} % on CIFAR-100)"
                  if run.config.report_acc is not None else "")  # fmt: skip
        print(f"{run.name}: best val acc {100 * h.best_val_acc:.2f} % at epoch "
              f"{h.best_epoch}{test}, {h.status}, {sum(h.epoch_time):.0f} s{report}")  # fmt: skip
    return 0


def _find_run(text: str, runs_dir: Path) -> Path:
    for path in (Path(text), runs_dir / text):
        if (path / "config.json").exists():
            return path
    raise ValueError(
        f"no saved run at {text!r} (nor {runs_dir / text}); pass a run folder such as "
        f"{runs_dir}/test4_tiny_ln-cifar100 (written by `convnext-nb run`)."
    )


def cmd_plot(args: argparse.Namespace) -> int:
    runs = [load_run(_find_run(text, args.runs_dir)) for text in args.runs]
    folder = args.folder or args.runs_dir / "figures"
    if args.graph:
        plot_graph(args.graph, runs, folder=folder)
        name = GRAPHS[args.graph][2] + ("_quick" if any(r.settings.quick for r in runs) else "")
    else:
        plot_runs(runs, args.title, name=args.name, folder=folder, x=args.x)
        name = args.name
    print(f"Saved {folder / name}.png")
    return 0


COMMANDS = {"list": lambda args: cmd_list(), "run": cmd_run, "reference": cmd_reference,
            "plot": cmd_plot}  # fmt: skip


def _command(args: argparse.Namespace) -> int:
    """Run args.command; under torchrun the ranks other than 0 print nothing (rank 0 speaks)."""
    if rank_from_env() == 0:
        return COMMANDS[args.command](args)
    with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull):
        return COMMANDS[args.command](args)


def main(argv: list[str] | None = None) -> int:
    """Run one command; every error is one line on stderr and exit status 2 (130: Ctrl-C).

    CONVNEXT_NB_DEBUG=1 shows the full traceback of an error instead.
    """
    parser = build_parser()
    args = parser.parse_args(argv)  # bad arguments: usage + error, exit 2 (argparse)
    try:
        return _command(args)
    except MainRankError:  # rank 0 failed and says why
        return 2
    except KeyboardInterrupt:
        print(f"\n{parser.prog}: interrupted. The current run is saved; run the same command "
              "again to resume it.", file=sys.stderr)  # fmt: skip
        return 130
    except Exception as err:  # noqa: BLE001 (one line for the user, not a traceback)
        if os.environ.get("CONVNEXT_NB_DEBUG"):
            raise
        plain = isinstance(err, (ValueError, OSError, RuntimeError))  # messages that say it all
        what = "" if plain else f"{type(err).__name__}: "
        message = " ".join(str(err).split())  # one line
        print(f"{parser.prog} {args.command}: error: {what}{message}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
