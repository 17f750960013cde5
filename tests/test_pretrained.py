"""load_pretrained from local weight files, and its offline error."""

import socket
import time

import pytest
import timm
import torch
from safetensors.torch import save_file

from convnext_nb import create_model, load_pretrained


@pytest.fixture(scope="module")
def timm_atto():
    torch.manual_seed(0)
    return timm.create_model("convnextv2_atto", num_classes=1000).eval()


@pytest.mark.parametrize("suffix", [".safetensors", ".pth"])
def test_load_pretrained_from_local_file_gets_new_head(timm_atto, tmp_path, suffix, capsys):
    path = tmp_path / f"atto{suffix}"
    state = timm_atto.state_dict()
    if suffix == ".safetensors":
        save_file(state, str(path))
    else:
        torch.save({"model": state}, path)  # training-checkpoint style wrapper
    model = load_pretrained("atto", num_classes=10, weights=path).eval()
    assert model.head.out_features == 10
    assert torch.equal(model.downsample_layers[0][0].weight, state["stem.0.weight"])
    # Everything but the head equals timm's: compare pre-logit features.
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        ours = model.forward_features(x)
        reference = timm_atto.forward_head(timm_atto.forward_features(x), pre_logits=True)
    torch.testing.assert_close(ours, reference, atol=1e-5, rtol=1e-5)
    assert "head.weight" in capsys.readouterr().out  # says what was freshly initialised


def test_cifar_stem_keeps_everything_but_stem_conv(timm_atto, tmp_path, capsys):
    path = tmp_path / "atto.safetensors"
    save_file(timm_atto.state_dict(), str(path))
    model = load_pretrained("atto", num_classes=100, weights=path, stem="cifar")
    out = capsys.readouterr().out
    assert "downsample_layers.0.0.weight" in out and "stages" not in out
    assert model(torch.randn(1, 3, 32, 32)).shape == (1, 100)


def test_wrong_variant_and_dyt_are_refused(timm_atto, tmp_path):
    path = tmp_path / "atto.safetensors"
    save_file(timm_atto.state_dict(), str(path))
    with pytest.raises(ValueError, match="norm='ln'"):
        load_pretrained("atto", weights=path, norm="dyt")
    tiny_state = create_model("tiny").state_dict()
    save_file(tiny_state, str(tmp_path / "tiny.safetensors"))
    with pytest.raises(ValueError, match="not a convnextv2_atto checkpoint"):
        load_pretrained("atto", weights=tmp_path / "tiny.safetensors")
    with pytest.raises(FileNotFoundError):
        load_pretrained("atto", weights=tmp_path / "missing.pth")


def test_offline_fails_fast_with_instructions(monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))  # empty cache
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hf" / "hub"))

    def no_network(*args, **kwargs):
        raise OSError("network is unreachable")

    monkeypatch.setattr(socket, "create_connection", no_network)
    start = time.perf_counter()
    with pytest.raises(RuntimeError) as err:
        load_pretrained("atto")
    assert time.perf_counter() - start < 10
    message = str(err.value)
    assert "convnextv2_atto.fcmae_ft_in1k" in message
    assert "weights=" in message and "model.safetensors" in message
