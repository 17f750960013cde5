"""Load timm's ImageNet weights into our ConvNeXt V2.

timm names the same tensors differently from the official code that `models.py` follows, and
stores atto..nano with 1x1 convolutions where we use `nn.Linear`:

    timm                                    ours (official)
    stem.{0,1}                              downsample_layers.0.{0,1}
    stages.i.downsample.{0,1}               downsample_layers.i.{0,1}
    stages.i.blocks.j.conv_dw               stages.i.j.dwconv
    stages.i.blocks.j.mlp.fc1 / fc2         stages.i.j.pwconv1 / pwconv2   (4d, d, 1, 1) -> (4d, d)
    stages.i.blocks.j.mlp.grn.weight/bias   stages.i.j.grn.gamma/beta      (4d,) -> (1, 1, 1, 4d)
    head.norm / head.fc                     norm / head
"""

from __future__ import annotations

import re
from pathlib import Path

import torch

from .data.download import host_reachable
from .models import ConvNeXtV2, create_model, resolve_name

DEFAULT_TAG = "fcmae_ft_in1k"

_RENAMES: list[tuple[str, str]] = [
    (r"^stem\.", "downsample_layers.0."),
    (r"^stages\.(\d+)\.downsample\.", r"downsample_layers.\1."),
    (r"^stages\.(\d+)\.blocks\.(\d+)\.", r"stages.\1.\2."),
    (r"\.conv_dw\.", ".dwconv."),
    (r"\.mlp\.fc1\.", ".pwconv1."),
    (r"\.mlp\.fc2\.", ".pwconv2."),
    (r"\.mlp\.grn\.weight$", ".grn.gamma"),
    (r"\.mlp\.grn\.bias$", ".grn.beta"),
    (r"^head\.norm\.", "norm."),
    (r"^head\.fc\.", "head."),
]


def convert_timm_state_dict(state_dict: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename and reshape a timm `convnextv2_*` state dict into this package's layout.

    Handles both timm layouts (1x1-conv MLP for atto..nano, Linear MLP for tiny and up).
    A state dict already in the official layout passes through unchanged.
    """
    converted = {}
    for key, value in state_dict.items():
        new_key = key
        for pattern, replacement in _RENAMES:
            new_key = re.sub(pattern, replacement, new_key)
        if new_key.endswith(("pwconv1.weight", "pwconv2.weight")) and value.ndim == 4:
            value = value.flatten(1)  # 1x1 conv weight (out, in, 1, 1) -> Linear weight (out, in)
        elif new_key.endswith(("grn.gamma", "grn.beta")) and value.ndim == 1:
            value = value.reshape(1, 1, 1, -1)
        converted[new_key] = value
    return converted


def _read_weights_file(path: str | Path) -> dict[str, torch.Tensor]:
    path = Path(path).expanduser()
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist.")
    if path.suffix == ".safetensors":
        from safetensors.torch import load_file

        state_dict = load_file(str(path))
    else:
        state_dict = torch.load(path, map_location="cpu", weights_only=True)
    for wrapper in ("model", "state_dict", "model_ema"):  # official and training checkpoints
        if isinstance(state_dict.get(wrapper), dict):
            state_dict = state_dict[wrapper]
            break
    return state_dict


def _download_timm_weights(name: str, tag: str) -> Path:
    """The cached or freshly downloaded `model.safetensors` of timm's `name.tag` weights."""
    from huggingface_hub import hf_hub_download

    repo_id = f"timm/{name}.{tag}"
    try:
        return Path(hf_hub_download(repo_id, "model.safetensors", local_files_only=True))
    except Exception:  # not in the local cache: go online below
        pass
    url = f"https://huggingface.co/{repo_id}/resolve/main/model.safetensors"
    how_to = (
        f"On a machine with internet, download {url} and pass its path: "
        f"load_pretrained({name!r}, weights='path/to/model.safetensors'). "
        "Any timm or official ConvNeXt V2 checkpoint (.safetensors, .pth) of that variant works."
    )
    if not host_reachable(url):
        raise RuntimeError(f"cannot reach huggingface.co to fetch {repo_id} (offline?). {how_to}")
    try:
        return Path(hf_hub_download(repo_id, "model.safetensors"))
    except Exception as err:
        raise RuntimeError(f"downloading {repo_id} failed ({err}). {how_to}") from err


def load_pretrained(
    name: str,
    num_classes: int = 100,
    weights: str | Path | None = None,
    tag: str = DEFAULT_TAG,
    stem: str = "patchify",
    verbose: bool = True,
    **model_kwargs,
) -> ConvNeXtV2:
    """Our ConvNeXt V2 with timm's ImageNet weights and a fresh head for `num_classes`.

    Args:
        name: a variant, e.g. "convnextv2_atto" or "atto".
        weights: a local weights file (timm or official layout); if None, timm's
            `<name>.<tag>` weights come from the Hugging Face cache, or are downloaded.
        tag: timm's pretrained tag, e.g. "fcmae_ft_in1k" (licence cc-by-nc-4.0) or "fcmae".
        stem: with a CIFAR stem, the pretrained 4x4 stem conv does not fit and stays freshly
            initialised; every other weight is loaded.
    """
    name = resolve_name(name)
    if model_kwargs.get("norm", "ln") != "ln":
        raise ValueError("pretrained ImageNet weights exist only for LayerNorm models (norm='ln').")
    path = Path(weights) if weights is not None else _download_timm_weights(name, tag)
    state_dict = convert_timm_state_dict(_read_weights_file(path))

    model = create_model(name, num_classes=num_classes, stem=stem, **model_kwargs)
    own = model.state_dict()
    unknown = sorted(set(state_dict) - set(own))
    if unknown:
        raise ValueError(f"{path} is not a {name} checkpoint: unexpected keys {unknown[:5]}...")
    fitting = {k: v for k, v in state_dict.items() if v.shape == own[k].shape}
    fresh = sorted(set(own) - set(fitting))
    model.load_state_dict(fitting, strict=False)
    if verbose:
        print(f"Loaded pretrained {name} weights from {path}.")
        if fresh:
            print(f"Freshly initialised (shape differs or missing): {', '.join(fresh)}")
    return model
