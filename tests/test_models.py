"""ConvNeXt V2 models: the paper's sizes, timm equivalence, every variant runs, clear errors."""

import warnings

import pytest
import timm
import torch

from convnext_nb import (
    DynamicTanh,
    LayerNorm,
    convert_timm_state_dict,
    count_flops,
    count_parameters,
    create_model,
    list_models,
)
from convnext_nb.models import count_macs

# The paper's table (millions of parameters, ImageNet-1K head) and GFLOPs (MACs) at 224x224.
PAPER = {
    "convnextv2_atto": (3.7, 0.55),
    "convnextv2_femto": (5.2, 0.78),
    "convnextv2_pico": (9.1, 1.37),
    "convnextv2_nano": (15.6, 2.45),
    "convnextv2_tiny": (28.6, 4.47),
    "convnextv2_base": (89, 15.4),
    "convnextv2_large": (198, 34.4),
    "convnextv2_huge": (660, 115),
}


def test_list_models_is_the_paper_table():
    assert list_models() == list(PAPER)


@pytest.mark.parametrize("name", list(PAPER))
def test_parameter_count_matches_paper_and_timm(name):
    with torch.device("meta"):  # no memory, no init cost, even for huge
        ours = create_model(name, num_classes=1000)
        reference = timm.create_model(name, num_classes=1000)
    n = count_parameters(ours)
    assert n == count_parameters(reference)
    paper_params, paper_gmacs = PAPER[name]
    digits = 0 if float(paper_params).is_integer() else 1  # the paper rounds as printed
    assert round(n / 1e6, digits) == pytest.approx(paper_params)
    gmacs = count_macs(ours, (3, 224, 224)) / 1e9
    assert gmacs == pytest.approx(paper_gmacs, rel=0.02)


def test_dyt_model_has_no_layernorm_anywhere():
    model = create_model("convnextv2_atto", norm="dyt")
    kinds = {type(m) for m in model.modules()}
    assert LayerNorm not in kinds and torch.nn.LayerNorm not in kinds
    # stem, 3 downsamples, 12 blocks, head
    assert sum(isinstance(m, DynamicTanh) for m in model.modules()) == 1 + 3 + 12 + 1
    # DyT adds one alpha per replaced LayerNorm
    assert count_parameters(model) == count_parameters(create_model("convnextv2_atto")) + 17


@pytest.mark.parametrize("name", ["convnextv2_atto", "convnextv2_tiny"])
def test_same_logits_as_timm(name):
    torch.manual_seed(0)
    reference = timm.create_model(name, num_classes=100).eval()
    with torch.no_grad():  # make GRN and the norms non-trivial before comparing
        for key, p in reference.named_parameters():
            if "grn" in key or "norm" in key:
                p.add_(0.1 * torch.randn_like(p))
    ours = create_model(name, num_classes=100).eval()
    ours.load_state_dict(convert_timm_state_dict(reference.state_dict()), strict=True)
    x = torch.randn(4, 3, 64, 64)
    with torch.no_grad():
        diff = (ours(x) - reference(x)).abs().max().item()
    assert diff <= 1e-5


def test_convert_passes_official_layout_through():
    model = create_model("convnextv2_atto")
    state = model.state_dict()
    converted = convert_timm_state_dict(state)
    assert converted.keys() == state.keys()
    assert all(converted[k] is state[k] for k in state)


# The five small variants run for real at 32x32; base, large and huge (89M-660M parameters)
# are checked on the meta device (shapes, no compute) and run for real at 1/8 width.
SMALL, BIG = list(PAPER)[:5], list(PAPER)[5:]
REFERENCE_100 = {"convnextv2_base": 87.80, "convnextv2_large": 196.57, "convnextv2_huge": 657.75}


def forward_backward(model: torch.nn.Module, batch: int) -> None:
    logits = model(torch.randn(batch, 3, 32, 32))
    assert logits.shape == (batch, 10)
    logits.logsumexp(dim=1).mean().backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    assert len(grads) == len(list(model.parameters()))
    assert all(torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize("stem", ["patchify", "cifar_s2", "cifar"])
@pytest.mark.parametrize("name", SMALL)
def test_forward_backward_small_variants(name, stem):
    torch.manual_seed(0)
    forward_backward(create_model(name, num_classes=10, stem=stem, drop_path_rate=0.1), batch=2)


@pytest.mark.parametrize("stem", ["patchify", "cifar"])
@pytest.mark.parametrize("name", BIG)
def test_big_variants_on_the_meta_device(name, stem):
    with torch.device("meta"):
        model = create_model(name, num_classes=100, stem=stem)
        logits = model(torch.empty(8, 3, 32, 32))
    assert logits.shape == (8, 100) and logits.device.type == "meta"
    assert count_parameters(model) / 1e6 == pytest.approx(REFERENCE_100[name], abs=0.01)


@pytest.mark.parametrize("name", BIG)
def test_big_variants_train_at_a_small_width(name):
    model = create_model(name, num_classes=10, width=0.125, seed=0, drop_path_rate=0.1)
    assert model.dims[0] == {"convnextv2_base": 16, "convnextv2_large": 24}.get(name, 44)
    assert len(model.stages[2]) == 27  # the full depth, only thinner
    forward_backward(model, batch=2)


def test_width_and_seed_give_todays_initial_weights_without_touching_the_global_rng():
    from convnext_nb.models import VARIANTS, ConvNeXtV2

    depths, dims = VARIANTS["convnextv2_atto"]
    torch.manual_seed(3)  # what experiments.build_model did: seed the global RNG, construct
    expected = ConvNeXtV2(num_classes=10, depths=depths, stem="cifar_s2", drop_path_rate=0.1,
                          dims=tuple(max(8, round(d * 0.25)) for d in dims))  # fmt: skip
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    model = create_model("atto", 10, width=0.25, seed=3, stem="cifar_s2", drop_path_rate=0.1)
    assert torch.equal(torch.get_rng_state(), before)  # the global RNG is untouched
    assert model.dims == (10, 20, 40, 80)
    got, want = model.state_dict(), expected.state_dict()
    assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in got)
    other = create_model("atto", 10, width=0.25, seed=4).state_dict()
    assert not torch.equal(other["head.weight"], got["head.weight"])
    create_model("atto", 10, width=0.25)  # seed=None draws from the global RNG, as before
    assert not torch.equal(torch.get_rng_state(), before)


@pytest.mark.parametrize("num_classes", [0, -5, 2.5, True, "100"])
def test_num_classes_must_be_a_positive_integer(num_classes):
    with pytest.raises(ValueError, match="num_classes must be a positive integer"):
        create_model("atto", num_classes=num_classes)


@pytest.mark.parametrize("width", [0, -1, float("nan"), "wide"])
def test_width_must_be_positive(width):
    with pytest.raises(ValueError, match="width must be a positive number"):
        create_model("atto", width=width)


def test_uint8_images_get_a_clear_error():
    model = create_model("atto", width=0.25)
    with pytest.raises(ValueError, match=r"x\.float\(\) / 255 and normalise"):
        model(torch.zeros(1, 3, 32, 32, dtype=torch.uint8))


def test_count_flops_is_a_deprecated_alias_of_count_macs():
    model = create_model("atto", width=0.25)
    with pytest.warns(DeprecationWarning, match="count_macs"):
        flops = count_flops(model)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert flops == count_macs(model) > 0


@pytest.mark.parametrize(
    "stem,maps",
    [("patchify", [8, 4, 2, 1]), ("cifar_s2", [16, 8, 4, 2]), ("cifar", [32, 16, 8, 4])],
)
def test_stage_resolutions(stem, maps):
    model = create_model("convnextv2_atto", stem=stem)
    sizes = []
    for stage in model.stages:
        stage.register_forward_hook(lambda m, i, o: sizes.append(o.shape[-1]))
    model(torch.randn(1, 3, 32, 32))
    assert sizes == maps
    assert model.total_stride == 32 // maps[-1]


def test_init_follows_official_code():
    model = create_model("convnextv2_tiny", head_init_scale=0.5)
    std = model.stages[2][0].pwconv1.weight.std().item()
    assert 0.019 < std < 0.021  # timm's trunc_normal_ cuts at +-2 (absolute): ~N(0, .02)
    assert model.stages[2][0].pwconv1.bias.abs().sum() == 0
    assert model.head.weight.std().item() == pytest.approx(0.02 * 0.5, rel=0.05)
    assert all(torch.equal(b.grn.gamma, torch.zeros_like(b.grn.gamma)) for b in model.stages[0])


def test_drop_path_rates_rise_linearly():
    model = create_model("convnextv2_atto", drop_path_rate=0.2)
    blocks = [b for stage in model.stages for b in stage]
    rates = [getattr(b.drop_path, "drop_prob", 0.0) for b in blocks]
    assert rates[0] == 0.0 and rates[-1] == pytest.approx(0.2)
    assert rates == sorted(rates)


def test_macs_at_32x32_with_each_stem():
    atto = {s: count_macs(create_model("atto", stem=s)) for s in ("patchify", "cifar_s2", "cifar")}
    assert atto["patchify"] == pytest.approx(11e6, rel=0.05)
    assert atto["cifar"] == pytest.approx(177e6, rel=0.05)
    assert 3.5 < atto["cifar_s2"] / atto["patchify"] < 4.5


def test_unknown_model_lists_valid_names():
    with pytest.raises(ValueError, match="convnextv2_atto.*convnextv2_huge"):
        create_model("convnextv2_gigantic")
    assert isinstance(create_model("atto"), torch.nn.Module)  # short names work


@pytest.mark.parametrize("kwargs,match", [({"norm": "bn"}, "'ln'"), ({"stem": "7x7"}, "stem")])
def test_bad_options(kwargs, match):
    with pytest.raises(ValueError, match=match):
        create_model("atto", **kwargs)


def test_bad_input_sizes_and_channels():
    model = create_model("atto")
    with pytest.raises(ValueError, match="multiple of the model's total stride 32"):
        model(torch.randn(1, 3, 28, 28))
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        model(torch.randn(1, 1, 32, 32))
    with pytest.raises(ValueError, match="batch axis"):
        model(torch.randn(3, 32, 32))
    create_model("atto", stem="cifar")(torch.randn(1, 3, 24, 24))  # stride 8: fine
