"""convnext-nb benchmark suite: `python -m benchmarks --help`.

Measures in one process, contenders interleaved round-robin (medians of `--repeats` rounds):
  1. training-step throughput, our models vs timm's, at 32x32, both stems;
  2. LayerNorm vs Dynamic Tanh models;
  3. memory format (NCHW vs channels_last), and torch.compile with --compile;
  4. the data path: in-memory batched augmentation vs per-sample DataLoader transforms;
  5. evaluation throughput of `check_accuracy`;
  6. time per epoch of the `improved` recipe, end to end (`run_experiment`).
bf16 autocast is used where CUDA is present. Results: a table on stdout, plus
benchmark.json and benchmark.md in --out.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from pathlib import Path

import timm
import torch

from convnext_nb import get_device

from . import models_bench
from .common import format_value, machine_description, markdown_table, write_results

SECTIONS = ("timm", "norm", "memory", "data", "eval", "epoch")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument(
        "--variants", nargs="+", default=["convnextv2_atto", "convnextv2_nano", "convnextv2_tiny"]
    )
    p.add_argument(
        "--stems", nargs="+", default=["patchify", "cifar"], choices=["patchify", "cifar"]
    )
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--data-images", type=int, default=50_000, help="images in the data benchmark")
    p.add_argument(
        "--epoch-images",
        type=int,
        default=None,
        help="training images in the epoch benchmark (default: 49,000 on CUDA, 2,048 elsewhere)",
    )
    p.add_argument("--sections", nargs="+", default=list(SECTIONS), choices=SECTIONS)
    p.add_argument("--compile", action="store_true", help="also time torch.compile (slow start)")
    p.add_argument(
        "--epoch-compile",
        nargs="+",
        default=["auto"],
        choices=["auto", "off", "default", "reduce-overhead", "max-autotune"],
        help="compile settings of the epoch benchmark, one run each (auto: train's default "
        "for the whole 50-epoch recipe)",
    )
    p.add_argument("--device", default=None, help="cuda, mps or cpu (default: best available)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    p.add_argument(
        "--tiny",
        action="store_true",
        help="smallest config (atto, batch 4, 1 repeat, 512 images): a smoke test",
    )
    args = p.parse_args(argv)
    if args.tiny:
        args.variants, args.stems, args.batch_size = ["convnextv2_atto"], ["patchify"], 4
        args.repeats, args.data_images, args.epoch_images = 1, 512, 128
    return args


def run(args: argparse.Namespace) -> list[dict]:
    device = get_device(args.device)
    amp = device.type == "cuda"
    rows: list[dict] = []
    sections = {
        "timm": lambda: models_bench.bench_ours_vs_timm(
            args.variants, args.stems, args.batch_size, args.repeats, device, amp
        ),
        "norm": lambda: models_bench.bench_norms(
            args.variants, args.batch_size, args.repeats, device, amp
        ),
        "memory": lambda: models_bench.bench_memory_format(
            args.variants[0], args.batch_size, args.repeats, device, amp, args.compile
        ),
        "data": lambda: data_rows(args, device),
        "eval": lambda: models_bench.bench_eval(
            args.variants, args.batch_size, args.repeats, device, amp
        ),
        "epoch": lambda: epoch_rows(args, device),
    }
    for name in args.sections:
        start = time.perf_counter()
        new_rows = sections[name]()
        print(f"[{name}] {time.perf_counter() - start:.0f} s", file=sys.stderr)
        for row in new_rows:
            print(
                f"  {row['benchmark']:<40} {row['contender']:<22} {format_value(row['value']):>10} "
                f"{row['unit']}" + (f"  {row['ratio']:.2f}x" if row["ratio"] else "")
            )
        rows += new_rows
    return rows


def data_rows(args: argparse.Namespace, device: torch.device) -> list[dict]:
    from .data_bench import compare_paths

    return compare_paths(n_images=args.data_images, batch_size=args.batch_size, device=device)


def epoch_rows(args: argparse.Namespace, device: torch.device) -> list[dict]:
    from convnext_nb.engine import compile_mode
    from convnext_nb.experiments import IMPROVED

    from .epoch_bench import bench_epoch

    n = args.epoch_images or (49_000 if device.type == "cuda" else 2_048)
    batch_size, val_size = (32, 128) if args.tiny else (128, 1000)  # the recipe: 128, 1,000
    rows = []
    for setting in args.epoch_compile:
        # auto: what train picks for the whole 50-epoch recipe, not for these 2 epochs
        steps = IMPROVED.epochs * (n // batch_size)
        compile = {"auto": compile_mode(None, device, steps), "off": False}.get(setting, setting)
        rows += bench_epoch(n, device, batch_size=batch_size, val_size=val_size, compile=compile)
    return rows


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    device = get_device(args.device)
    command = "python -m benchmarks " + shlex.join(sys.argv[1:] if argv is None else argv)
    meta = {
        "command": command.strip(),
        "machine": machine_description(device),
        "torch": torch.__version__,
        "timm": timm.__version__,
        "amp": device.type == "cuda",
    }
    rows = run(args)
    json_path, md_path = write_results(rows, meta, args.out)
    print()
    print(markdown_table(rows, meta))
    print(f"Wrote {json_path} and {md_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
