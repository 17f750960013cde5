"""Model benchmarks: training-step and evaluation throughput, ours vs timm and between options."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import nullcontext

import timm
import torch
import torch.nn.functional as F

from convnext_nb import create_model

from .common import interleaved

NUM_CLASSES = 100
# Our stems and the timm model with the same stage resolutions at 32x32.
TIMM_STEM_KWARGS = {"patchify": {}, "cifar": {"patch_size": 1}}  # timm's stride-1 stem is 1x1


def steps_per_call(device: torch.device) -> int:
    """Training steps per timed call. On a GPU, 20 back to back: the host queues the next
    step's kernels while the GPU runs this one, as in training (one step and a sync would
    time the launch latency instead)."""
    return 20 if device.type == "cuda" else 1


def train_step_fn(
    model: torch.nn.Module,
    batch_size: int,
    device: torch.device,
    channels_last: bool = False,
    amp: bool = False,
    compile_model: bool | str = False,
) -> Callable[[], None]:
    """`steps_per_call` forward + backward + AdamW steps on a fixed random batch, as a closure."""
    model = model.to(device)
    x = torch.randn(batch_size, 3, 32, 32, device=device)
    y = torch.randint(0, NUM_CLASSES, (batch_size,), device=device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    mode = compile_model if isinstance(compile_model, str) else None
    forward = torch.compile(model, mode=mode) if compile_model else model
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if amp else nullcontext()

    def steps() -> None:
        for _ in range(steps_per_call(device)):
            optimizer.zero_grad(set_to_none=True)
            with autocast:
                loss = F.cross_entropy(forward(x), y)
            loss.backward()
            optimizer.step()

    return steps


def eval_fn(model: torch.nn.Module, batch_size: int, device: torch.device, amp: bool):
    """`check_accuracy` over a fixed in-memory loader of 4 batches."""
    from convnext_nb import check_accuracy

    model = model.to(device).eval()
    loader = [
        (
            torch.randn(batch_size, 3, 32, 32, device=device),
            torch.randint(0, NUM_CLASSES, (batch_size,), device=device),
        )
        for _ in range(4)
    ]
    autocast = torch.autocast(device.type, dtype=torch.bfloat16) if amp else nullcontext()

    def run() -> None:
        with autocast:
            check_accuracy(loader, model, device=device, verbose=False)

    return run, 4 * batch_size


def _rows(benchmark: str, seconds: dict[str, float], images: int, baseline: str) -> list[dict]:
    rows = []
    for name, s in seconds.items():
        ratio = None if name == baseline else seconds[baseline] / s
        rows.append(
            {
                "benchmark": benchmark,
                "contender": name,
                "value": images / s,
                "unit": "img/s",
                "ratio": ratio,
            }
        )
    return rows


def bench_ours_vs_timm(variants, stems, batch_size, repeats, device, amp) -> list[dict]:
    rows = []
    for variant in variants:
        for stem in stems:
            torch.manual_seed(0)
            contenders = {
                "timm": train_step_fn(
                    timm.create_model(variant, num_classes=NUM_CLASSES, **TIMM_STEM_KWARGS[stem]),
                    batch_size,
                    device,
                    amp=amp,
                ),
                "ours": train_step_fn(
                    create_model(variant, NUM_CLASSES, stem=stem), batch_size, device, amp=amp
                ),
            }
            seconds = interleaved(contenders, repeats, device=device)
            images = batch_size * steps_per_call(device)
            rows += _rows(f"train step {variant} stem={stem}", seconds, images, "timm")
    return rows


def bench_norms(variants, batch_size, repeats, device, amp) -> list[dict]:
    rows = []
    for variant in variants:
        contenders = {
            norm: train_step_fn(
                create_model(variant, NUM_CLASSES, norm=norm), batch_size, device, amp=amp
            )
            for norm in ("ln", "dyt")
        }
        seconds = interleaved(contenders, repeats, device=device)
        images = batch_size * steps_per_call(device)
        rows += _rows(f"train step {variant} LN vs DyT", seconds, images, "ln")
    return rows


def bench_memory_format(variant, batch_size, repeats, device, amp, compile_model) -> list[dict]:
    contenders = {
        "contiguous (NCHW)": train_step_fn(
            create_model(variant, NUM_CLASSES), batch_size, device, amp=amp
        ),
        "channels_last": train_step_fn(
            create_model(variant, NUM_CLASSES), batch_size, device, channels_last=True, amp=amp
        ),
    }
    if compile_model:
        contenders["torch.compile"] = train_step_fn(
            create_model(variant, NUM_CLASSES), batch_size, device, amp=amp, compile_model=True
        )
    if compile_model and device.type == "cuda":
        contenders["torch.compile, CUDA graphs"] = train_step_fn(
            create_model(variant, NUM_CLASSES),
            batch_size,
            device,
            amp=amp,
            compile_model="reduce-overhead",
        )
    seconds = interleaved(contenders, repeats, warmup=2 if compile_model else 1, device=device)
    images = batch_size * steps_per_call(device)
    return _rows(f"train step {variant} memory format", seconds, images, "contiguous (NCHW)")


def bench_eval(variants, batch_size, repeats, device, amp) -> list[dict]:
    rows = []
    for variant in variants:
        contenders, images = {}, 0
        for name, model in (
            ("timm model", timm.create_model(variant, num_classes=NUM_CLASSES)),
            ("our model", create_model(variant, NUM_CLASSES)),
        ):
            contenders[name], images = eval_fn(model, batch_size, device, amp)
        seconds = interleaved(contenders, repeats, device=device)
        rows += _rows(f"eval (check_accuracy) {variant}", seconds, images, "timm model")
    return rows
