"""Checkpoint files: damaged, of another model, of another optimizer -> errors naming the file."""

from __future__ import annotations

import os

import pytest
import torch
import torch.nn as nn
from test_engine import QUIET, TinyNet, fresh, loaders

from convnext_nb import create_model, load_checkpoint, make_optimizer, train
from convnext_nb.checkpoint import CheckpointError


@pytest.fixture(scope="module")
def last_pt(tmp_path_factory):
    """A real last.pt of TinyNet trained one epoch with AdamW."""
    folder = tmp_path_factory.mktemp("run")
    model, opt = fresh()
    train(model, opt, *loaders(), epochs=1, checkpoint_dir=folder, **QUIET)
    return folder / "last.pt"


def damaged_files(folder, good: bytes) -> dict[str, bytes]:
    return {
        "empty.pt": b"",
        "random.pt": os.urandom(4096),
        "truncated.pt": good[: len(good) // 2],
        "text.pt": b"not a checkpoint\n",
    }


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")  # torch, reading the damage
def test_damaged_files_are_named_and_called_damaged(last_pt, tmp_path):
    for name, data in damaged_files(tmp_path, last_pt.read_bytes()).items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(CheckpointError, match="damaged") as info:
            load_checkpoint(path, TinyNet())
        assert str(path) in str(info.value), name
        # train(resume=...) says the same, before any training
        with pytest.raises(CheckpointError, match=name):
            train(*fresh(), *loaders(), resume=path, **QUIET)


def test_a_file_that_is_not_a_checkpoint(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save(TinyNet().state_dict(), path)  # a bare state_dict, not train's format
    with pytest.raises(CheckpointError, match="not a checkpoint written by train"):
        load_checkpoint(path, TinyNet())


def test_resume_with_another_optimizer_names_both(last_pt, tmp_path):
    model = TinyNet()
    with pytest.raises(CheckpointError, match="optimizer AdamW, and this run uses SGD"):
        load_checkpoint(last_pt, model, make_optimizer("sgd_nesterov", model))
    assert torch.load(last_pt, weights_only=True)["optimizer_class"] == "AdamW"
    # an older last.pt without the class name: told apart by the optimizer's settings
    ckpt = torch.load(last_pt, weights_only=True)
    del ckpt["optimizer_class"]
    torch.save(ckpt, tmp_path / "old.pt")
    with pytest.raises(CheckpointError, match="another kind"):
        load_checkpoint(tmp_path / "old.pt", model, make_optimizer("sgd", model))
    load_checkpoint(tmp_path / "old.pt", model, make_optimizer("adamw", model))  # same: fine


def test_checkpoint_of_another_model_names_both(tmp_path):
    atto100 = create_model("atto", num_classes=100, width=0.25)
    torch.save({"model": atto100.state_dict(), "model_info": "ConvNeXtV2(atto, 100)"},
               tmp_path / "best.pt")  # fmt: skip
    atto10 = create_model("atto", num_classes=10, width=0.25)
    with pytest.raises(CheckpointError) as info:
        load_checkpoint(tmp_path / "best.pt", atto10)
    message = str(info.value)
    assert "ConvNeXtV2(atto, 100)" in message and "num_classes=10" in message
    assert "head.weight (100, 80) in the file vs (10, 80) here" in message
    with pytest.raises(CheckpointError, match="missing in the file"):
        load_checkpoint(tmp_path / "best.pt", nn.Sequential(nn.Linear(2, 2)))


def test_checkpoints_record_the_model_and_load_back(last_pt):
    ckpt = torch.load(last_pt, weights_only=True)
    assert ckpt["model_info"] == "TinyNet()"
    model = TinyNet()
    load_checkpoint(last_pt, model)
    assert all(torch.equal(v, ckpt["model"][k]) for k, v in model.state_dict().items())
