"""Time per epoch of the `improved` recipe, end to end, through `run_experiment`.

One real run of the recipe (atto, stride-2 CIFAR stem, crop + flip, AdamW + warmup + cosine,
label smoothing, drop path, batch 128) on fake CIFAR-100 files of `n_images` training images:
the package's own loader, `train` with its defaults for the device (bf16 autocast, fused
AdamW and, as `python -m benchmarks` asks by default, the torch.compile mode that the whole
50-epoch recipe gets: CUDA graphs on one GPU), validation after every epoch included. Two
epochs: the first pays the warm-up (compilation, caches), the second is the steady epoch.

The work done is reported as achieved TFLOP/s: images/s x the FLOPs of one training image
(`count_macs` of the model on a 32x32 image x 2 FLOPs per MAC x 3 for forward + backward),
and, on GPUs whose dense bf16 peak is in `BF16_PEAK_TFLOPS`, as a fraction of that peak.
"""

from __future__ import annotations

import dataclasses
import tempfile

import torch

from convnext_nb.experiments import IMPROVED, RunSettings, run_experiment
from convnext_nb.models import count_macs, create_model

# Dense bf16 tensor-core peaks from the vendors' data sheets (no sparsity), in TFLOP/s.
BF16_PEAK_TFLOPS = {"H100 SXM": 989, "H100 NVL": 835, "H100 PCIe": 756, "H200": 989,
                    "A100": 312, "L4": 121, "T4": 65, "A10G": 70}  # fmt: skip


def bf16_peak_tflops(device: torch.device) -> float | None:
    """The dense bf16 peak of this GPU, when its name is in BF16_PEAK_TFLOPS (else None)."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    if "H100" in name and not any(k in name for k in ("NVL", "PCIe")):
        return BF16_PEAK_TFLOPS["H100 SXM"]  # "NVIDIA H100 80GB HBM3" is the SXM part
    return next((v for k, v in BF16_PEAK_TFLOPS.items() if k in name), None)


def train_flops_per_image(config=IMPROVED) -> float:
    """FLOPs of one training image (forward + backward, about 3x the forward's)."""
    with torch.device("meta"):
        model = create_model(config.model, 100, stem=config.stem, norm=config.norm)
    return 3 * 2 * count_macs(model, (3, 32, 32))


def bench_epoch(
    n_images: int,
    device: torch.device,
    batch_size: int = 128,
    val_size: int = 1000,
    compile: bool | str | None = None,
) -> list[dict]:
    """Rows for the first and the steady epoch; `compile` as `TrainConfig.compile` (None:
    `train`'s choice for this 2-epoch run)."""
    config = dataclasses.replace(IMPROVED, batch_size=batch_size)
    settings = RunSettings.for_run(config, quick=False, dataset="fake_cifar100",
                                   subset=n_images, epochs=2)  # fmt: skip
    settings = dataclasses.replace(settings, val_size=val_size)
    with tempfile.TemporaryDirectory() as runs_dir:
        (run,) = run_experiment(config, settings=settings, runs_dir=runs_dir, device=device,
                                log=lambda line: None, compile=compile)  # fmt: skip
    first, steady = run.history.epoch_time[:2]
    name = (f"epoch of the improved recipe ({n_images:,} images, batch {batch_size}, "
            f"{val_size:,} validated)")  # fmt: skip
    name += f", compile={compile}" if compile is not None else ""
    tflops = n_images / steady * train_flops_per_image(config) / 1e12  # validation: not counted
    peak = bf16_peak_tflops(device)
    rows = [
        {"benchmark": f"{name}, first", "contender": "ours", "value": first, "unit": "s",
         "ratio": None},
        {"benchmark": f"{name}, steady", "contender": "ours", "value": steady, "unit": "s",
         "ratio": None},
        {"benchmark": f"{name}, steady throughput", "contender": "ours",
         "value": n_images / steady, "unit": "img/s", "ratio": None},
        {"benchmark": f"{name}, training work done", "contender": "ours",
         "value": tflops, "unit": "TFLOP/s", "ratio": None},
    ]  # fmt: skip
    if peak is not None:
        rows.append({"benchmark": f"{name}, share of the GPU's dense bf16 peak ({peak} TFLOP/s)",
                     "contender": "ours", "value": 100 * tflops / peak, "unit": "%",
                     "ratio": None})  # fmt: skip
    return rows
