"""LayerNorm, GRN and DyT against their written-out formulas."""

import copy

import pytest
import torch

from convnext_nb import GRN, DynamicTanh, LayerNorm, make_norm
from convnext_nb.layers import spatial_l2_norm


def randomize_(module: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every parameter non-trivial values, so a formula check cannot pass by accident."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen))
    return module


def layernorm_formula(x, weight, bias, eps, dim):
    mean = x.mean(dim, keepdim=True)
    var = ((x - mean) ** 2).mean(dim, keepdim=True)  # biased variance
    shape = [1] * x.ndim
    shape[dim] = -1
    return (x - mean) / torch.sqrt(var + eps) * weight.view(shape) + bias.view(shape)


def test_layernorm_channels_last_matches_formula():
    ln = randomize_(LayerNorm(16, data_format="channels_last"))
    x = torch.randn(2, 5, 7, 16) * 3 + 1
    expected = layernorm_formula(x, ln.weight, ln.bias, 1e-6, dim=-1)
    torch.testing.assert_close(ln(x), expected, atol=1e-5, rtol=1e-5)


def test_layernorm_channels_first_matches_formula_and_official_code():
    ln = randomize_(LayerNorm(16, data_format="channels_first"))
    x = torch.randn(2, 16, 7, 5) * 3 + 1
    expected = layernorm_formula(x, ln.weight, ln.bias, 1e-6, dim=1)
    torch.testing.assert_close(ln(x), expected, atol=1e-5, rtol=1e-5)
    # The official ConvNeXt code, verbatim:
    u = x.mean(1, keepdim=True)
    s = (x - u).pow(2).mean(1, keepdim=True)
    official = (
        ln.weight[:, None, None] * ((x - u) / torch.sqrt(s + ln.eps)) + ln.bias[:, None, None]
    )
    torch.testing.assert_close(ln(x), official, atol=1e-5, rtol=1e-5)


def test_layernorm_init_and_bad_format():
    ln = LayerNorm(8)
    assert torch.equal(ln.weight, torch.ones(8)) and torch.equal(ln.bias, torch.zeros(8))
    assert ln.eps == 1e-6
    with pytest.raises(ValueError, match="channels_last"):
        LayerNorm(8, data_format="NCHW")


def test_grn_matches_formula():
    grn = randomize_(GRN(12))
    x = torch.randn(3, 6, 5, 12)
    gx = torch.sqrt((x**2).sum(dim=(1, 2), keepdim=True))
    nx = gx / (gx.mean(dim=-1, keepdim=True) + 1e-6)
    expected = grn.gamma * (x * nx) + grn.beta + x
    torch.testing.assert_close(grn(x), expected, atol=1e-5, rtol=1e-5)
    assert grn.gamma.shape == grn.beta.shape == (1, 1, 1, 12)


def test_grn_is_identity_at_init():
    x = torch.randn(2, 4, 4, 8)
    assert torch.equal(GRN(8)(x), x)


def test_dyt_matches_formula_both_layouts():
    dyt_last = randomize_(DynamicTanh(10, channels_last=True))
    x = torch.randn(2, 3, 3, 10) * 4
    expected = dyt_last.weight * torch.tanh(dyt_last.alpha * x) + dyt_last.bias
    torch.testing.assert_close(dyt_last(x), expected)

    dyt_first = DynamicTanh(10, channels_last=False)
    dyt_first.load_state_dict(dyt_last.state_dict())
    x_first = x.permute(0, 3, 1, 2)
    torch.testing.assert_close(dyt_first(x_first), expected.permute(0, 3, 1, 2))


def test_dyt_init():
    dyt = DynamicTanh(6)
    assert dyt.alpha.shape == (1,) and dyt.alpha.item() == 0.5
    assert torch.equal(dyt.weight, torch.ones(6)) and torch.equal(dyt.bias, torch.zeros(6))


def test_make_norm():
    assert isinstance(make_norm("ln", 4, "channels_first"), LayerNorm)
    assert isinstance(make_norm("dyt", 4), DynamicTanh)
    with pytest.raises(ValueError, match="'ln'.*'dyt'"):
        make_norm("batchnorm", 4)


def test_grn_gradient_is_finite_for_an_all_zero_channel():
    grn = randomize_(GRN(4))
    x = torch.randn(2, 3, 3, 4)
    x[:, :, :, 1] = 0.0  # e.g. a channel GELU switched off everywhere
    x.requires_grad_()
    grn(x).sum().backward()
    assert torch.isfinite(x.grad).all()


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_grn_low_precision_does_not_overflow(dtype):
    grn = randomize_(GRN(8)).to(dtype)
    x = torch.full((1, 16, 16, 8), 300.0)  # sum of squares 2.3e7: beyond fp16's 65504
    out = grn(x.to(dtype))
    assert out.dtype == dtype and torch.isfinite(out).all()
    torch.testing.assert_close(out.float(), randomize_(GRN(8))(x), rtol=2e-2, atol=2.0)


def test_the_gpu_norm_formula_matches_the_cpu_one_with_its_gradient():
    """GRN's spatial norm is one `vector_norm` on CUDA; the same numbers and gradients,
    including the all-zero channel, as the CPU's square-sum-sqrt (compared here on the CPU)."""
    x = torch.randn(2, 5, 5, 6, dtype=torch.float64)
    x[:, :, :, 2] = 0.0
    a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
    fused = torch.linalg.vector_norm(a, dim=(1, 2), keepdim=True, dtype=torch.float64)
    plain = spatial_l2_norm(b).double()
    torch.testing.assert_close(fused, plain)
    weights = torch.randn_like(fused)
    (fused * weights).sum().backward()
    (plain * weights).sum().backward()
    torch.testing.assert_close(a.grad, b.grad)
    assert torch.isfinite(a.grad).all()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_grn_on_cuda_matches_the_cpu():
    grn = randomize_(GRN(16))
    grn_gpu = copy.deepcopy(grn).cuda()
    x = torch.randn(4, 6, 6, 16, requires_grad=True)
    x_gpu = x.detach().cuda().requires_grad_()
    out, out_gpu = grn(x), grn_gpu(x_gpu)
    torch.testing.assert_close(out_gpu.cpu(), out, rtol=1e-4, atol=1e-4)
    out.square().sum().backward()
    out_gpu.square().sum().backward()
    torch.testing.assert_close(x_gpu.grad.cpu(), x.grad, rtol=1e-4, atol=1e-4)
