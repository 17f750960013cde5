"""Train notebook 09's three small models and ship them as fp16 checkpoints.

    nice -n 10 python scripts/make_inside_checkpoints.py            # all three, 1 CPU thread
    python scripts/make_inside_checkpoints.py --only cifar_s2_grn --device cuda

Each model (convnext_nb.inside.INSIDE_MODELS: atto at half width; the 4x4 stem or the stride-2
CIFAR stem; with or without GRN) trains with convnext_nb.inside.RECIPE on the 5,000
Fashion-MNIST training images of the reference runs, is rounded to fp16 and written to
convnext_nb/checkpoints/NAME.pt with how it was made: command, recipe, history, validation and
test accuracy of the fp16 weights as shipped, machine and wall time. Load one with
`convnext_nb.inside.load_inside_model(NAME)` (torch.load with weights_only=True).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # this checkout's convnext_nb, whatever copy is installed

from convnext_nb import get_device  # noqa: E402
from convnext_nb.inside import (  # noqa: E402
    CHECKPOINT_DIR,
    COMMAND,
    INSIDE_MODELS,
    checkpoint_path,
    recipe_loaders,
    save_inside_model,
    train_inside_model,
)
from convnext_nb.reference import machine_info  # noqa: E402


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(INSIDE_MODELS), default=None)
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda or mps")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads (default 1)")
    parser.add_argument("--out", default=str(CHECKPOINT_DIR), help="folder for NAME.pt")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    device = get_device(args.device)
    loaders = recipe_loaders(device)
    total = time.perf_counter()
    for name in args.only or INSIDE_MODELS:
        model, record = train_inside_model(name, loaders, device)
        record["machine"] = machine_info(device, None, torch.get_num_threads())
        record["command"] = COMMAND + (f" --only {name}" if args.only else "")
        path = checkpoint_path(name, args.out)
        record = save_inside_model(model, record, loaders, path)
        print(f"{path}: val {record['val_acc']:.1%}, test {record['test_acc']:.1%}, "
              f"trained in {record['train_wall_s']:.0f} s, {path.stat().st_size / 1e6:.2f} MB",
              flush=True)  # fmt: skip
    print(f"all done in {time.perf_counter() - total:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
