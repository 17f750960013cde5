"""Helpers shared by the tests/test_data_*.py files: fake CIFAR-100 md5s, IDX files, old code."""

import gzip
import subprocess
import types
from pathlib import Path

import pytest
import torch
from torchvision import datasets
from torchvision.datasets.utils import calculate_md5

REPO = Path(__file__).resolve().parents[1]
# The last commit with the single-file data.py, which trained the course's reference runs.
OLD_DATA_COMMIT = "a61cc56f9c51305340dea3a68af290d55d718fec"


def use_md5s_of(folder, monkeypatch):
    """Make torchvision's CIFAR100 expect the md5s of the files in `folder` (this test only)."""
    md5 = {name: calculate_md5(folder / name) for name in ("train", "test", "meta")}
    monkeypatch.setattr(datasets.CIFAR100, "train_list", [["train", md5["train"]]])
    monkeypatch.setattr(datasets.CIFAR100, "test_list", [["test", md5["test"]]])
    meta = {"filename": "meta", "key": "fine_label_names", "md5": md5["meta"]}
    monkeypatch.setattr(datasets.CIFAR100, "meta", meta)


def write_idx(path: Path, values: torch.Tensor, header_shape=None) -> Path:
    """Write a uint8 tensor as an IDX file (gzipped if the name ends in .gz)."""
    shape = header_shape or values.shape
    header = bytes([0, 0, 8, len(shape)]) + b"".join(n.to_bytes(4, "big") for n in shape)
    raw = header + values.to(torch.uint8).numpy().tobytes()
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return path


def old_data_module() -> types.ModuleType:
    """convnext_nb/data.py as it was at OLD_DATA_COMMIT, imported from git (skip if absent)."""
    try:
        source = subprocess.run(
            ["git", "-C", str(REPO), "show", f"{OLD_DATA_COMMIT}:convnext_nb/data.py"],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        pytest.skip(f"needs git and commit {OLD_DATA_COMMIT} (a clone with its history)")
    module = types.ModuleType("old_convnext_nb_data")
    source = source.replace("from .utils import", "from convnext_nb.utils import")
    exec(compile(source, f"{OLD_DATA_COMMIT}:convnext_nb/data.py", "exec"), module.__dict__)
    return module
