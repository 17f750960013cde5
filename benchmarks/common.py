"""Timing helpers: run contenders round-robin so that machine drift hits all of them alike."""

from __future__ import annotations

import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()
    elif device.type == "mps":
        torch.mps.synchronize()


def interleaved(
    contenders: dict[str, Callable[[], None]],
    repeats: int,
    warmup: int = 1,
    device: torch.device | None = None,
) -> dict[str, float]:
    """Median seconds per call of each contender; one call of each per round, `repeats` rounds."""
    device = device or torch.device("cpu")
    for fn in contenders.values():
        for _ in range(warmup):
            fn()
    sync(device)
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, fn in contenders.items():
            start = time.perf_counter()
            fn()
            sync(device)
            times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def machine_description(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    cores = torch.get_num_threads()
    return f"{platform.processor() or platform.machine()} CPU, {cores} threads"


def write_results(rows: list[dict], meta: dict, out_dir: Path) -> tuple[Path, Path]:
    """Write rows as JSON and as a Markdown table; return both paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "benchmark.json"
    json_path.write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    md_path = out_dir / "benchmark.md"
    md_path.write_text(markdown_table(rows, meta))
    return json_path, md_path


def format_value(value: float) -> str:
    """1,234 / 56.8 / 0.0312: whole numbers from 100 up, three significant digits below."""
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def markdown_table(rows: list[dict], meta: dict) -> str:
    lines = [
        f"Command: `{meta['command']}`  ",
        f"Machine: {meta['machine']}; torch {meta['torch']}, timm {meta['timm']}",
        "",
        "| benchmark | contender | median | ratio vs baseline |",
        "|---|---|---|---|",
    ]
    for row in rows:
        ratio = f"{row['ratio']:.2f}x" if row.get("ratio") is not None else "baseline"
        value = f"{format_value(row['value'])} {row['unit']}"
        lines.append(f"| {row['benchmark']} | {row['contender']} | {value} | {ratio} |")
    return "\n".join(lines) + "\n"
