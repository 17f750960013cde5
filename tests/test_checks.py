"""The exercise checkers: right answers pass, typical student mistakes fail with a clear message."""

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from convnext_nb import GRN, DynamicTanh, LayerNorm
from convnext_nb.checks import check_dyt, check_grn, check_layernorm

# ---------------------------------------------------------------------------------------------
# Student-style implementations, written from the formulas; keyword switches add one mistake.


def make_grn(gx_dims=(1, 2), mean_dim=-1, eps=1e-6, residual=True, init=0.0, plain=False):
    class StudentGRN(nn.Module):
        def __init__(self, dim):
            super().__init__()
            self.gamma = nn.Parameter(torch.full((1, 1, 1, dim), init))
            beta = torch.zeros(1, 1, 1, dim)
            self.beta = beta if plain else nn.Parameter(beta)

        def forward(self, x):
            gx = torch.norm(x, p=2, dim=gx_dims, keepdim=True)
            nx = gx / (gx.mean(dim=mean_dim, keepdim=True) + eps)
            y = self.gamma * (x * nx) + self.beta
            return y + x if residual else y

    return StudentGRN


def make_dyt(alpha_shape=(1,), use_init_arg=True, weight_init=1.0, reshape=True, use_alpha=True):
    class StudentDyT(nn.Module):
        def __init__(self, normalized_shape, channels_last=True, alpha_init_value=0.5):
            super().__init__()
            a0 = alpha_init_value if use_init_arg else 0.5
            self.alpha = nn.Parameter(torch.full(alpha_shape, a0))
            self.weight = nn.Parameter(torch.full((normalized_shape,), weight_init))
            self.bias = nn.Parameter(torch.zeros(normalized_shape))
            self.channels_last = channels_last

        def forward(self, x):
            x = torch.tanh(self.alpha * x if use_alpha else x)
            if self.channels_last or not reshape:
                return x * self.weight + self.bias
            return x * self.weight[:, None, None] + self.bias[:, None, None]

    return StudentDyT


def make_ln(unbiased=False, eps_scale=1.0, dims=None, weight_init=1.0, torch_ln=False):
    class StudentLN(nn.Module):
        def __init__(self, normalized_shape, eps=1e-6, data_format="channels_last"):
            super().__init__()
            self.weight = nn.Parameter(torch.full((normalized_shape,), weight_init))
            self.bias = nn.Parameter(torch.zeros(normalized_shape))
            self.eps = eps * eps_scale
            self.data_format = data_format
            self.normalized_shape = (normalized_shape,)

        def forward(self, x):
            if self.data_format == "channels_last" or torch_ln:
                return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
            d = dims or (1,)
            u = x.mean(d, keepdim=True)
            s = x.var(d, keepdim=True, unbiased=unbiased)
            x = (x - u) / torch.sqrt(s + self.eps)
            return self.weight[:, None, None] * x + self.bias[:, None, None]

    return StudentLN


def failure(check, cls, **kw) -> str:
    with pytest.raises(AssertionError) as info:
        check(cls, **kw)
    return str(info.value)


# ---------------------------------------------------------------------------------------------
# GRN


def test_grn_correct_implementations_pass():
    assert check_grn(make_grn()) is True
    assert check_grn(GRN) is True


@pytest.mark.parametrize(
    "mistake, words",
    [
        (dict(gx_dims=(-1,)), ["wrong dimensions", "dims (1, 2)"]),
        (dict(gx_dims=(1, 2, 3)), ["wrong dimensions", "do not compete"]),
        (dict(mean_dim=0), ["wrong dimensions", "batch"]),
        (dict(gx_dims=(2, 3), mean_dim=1), ["channels order", "(N, H, W, C)"]),
        (dict(eps=0.0), ["missing eps", "all-zero"]),
        (dict(residual=False), ["forgot the residual", "+ x"]),
        (dict(init=1.0), ["wrong init", "gamma", "identity"]),
        (dict(plain=True), ["beta", "plain tensor", "nn.Parameter"]),
    ],
)
def test_grn_mistakes_are_named(mistake, words):
    message = failure(check_grn, make_grn(**mistake))
    assert message.startswith("your GRN") or message.startswith("wrong init")
    for word in words:
        assert word in message, message


def test_grn_wrong_signature_and_shape():
    class TwoArgs(nn.Module):
        def __init__(self, dim, height):
            super().__init__()

    assert "could not build your GRN" in failure(check_grn, TwoArgs)

    class BadShape(make_grn()):
        def __init__(self, dim):
            super().__init__(dim)
            self.gamma = nn.Parameter(torch.zeros(dim, 1))

    message = failure(check_grn, BadShape)
    assert "shape (8, 1)" in message and "(1, 1, 1, dim)" in message


def test_grn_non_module_is_refused():
    class NotAModule:
        def __init__(self, dim):
            pass

    assert "not a torch.nn.Module" in failure(check_grn, NotAModule)


# ---------------------------------------------------------------------------------------------
# DyT


def test_dyt_correct_implementations_pass():
    assert check_dyt(make_dyt()) is True
    assert check_dyt(make_dyt(alpha_shape=())) is True  # a 0-d scalar is fine too
    assert check_dyt(DynamicTanh) is True


@pytest.mark.parametrize(
    "mistake, words",
    [
        (dict(alpha_shape=(6,)), ["alpha", "ONE learnable scalar"]),
        (dict(use_init_arg=False), ["wrong init", "alpha_init_value=0.8"]),
        (dict(weight_init=0.0), ["wrong init", "weight"]),
        (dict(reshape=False), ["channels order", "weight[:, None, None]"]),
        (dict(use_alpha=False), ["does not use alpha"]),
    ],
)
def test_dyt_mistakes_are_named(mistake, words):
    message = failure(check_dyt, make_dyt(**mistake))
    for word in words:
        assert word in message, message


def test_dyt_without_channels_last_argument():
    class OnlyLast(make_dyt()):
        def __init__(self, normalized_shape, alpha_init_value=0.5):
            super().__init__(normalized_shape, True, alpha_init_value)

    message = failure(check_dyt, OnlyLast)
    assert "could not build your DyT" in message and "channels_last=True" in message


# ---------------------------------------------------------------------------------------------
# LayerNorm


def test_layernorm_correct_implementations_pass():
    assert check_layernorm(make_ln()) is True
    assert check_layernorm(LayerNorm) is True


def test_layernorm_channels_first_only():
    class FirstOnly(make_ln()):
        def __init__(self, normalized_shape, eps=1e-6, data_format="channels_first"):
            if data_format != "channels_first":
                raise NotImplementedError("only channels_first")
            super().__init__(normalized_shape, eps, data_format)

    assert check_layernorm(FirstOnly, data_formats=("channels_first",)) is True
    assert "could not build your LayerNorm" in failure(check_layernorm, FirstOnly)


@pytest.mark.parametrize(
    "mistake, words",
    [
        (dict(torch_ln=True), ["channels order", "dim 1"]),
        (dict(unbiased=True), ["unbiased variance", "C - 1"]),
        (dict(eps_scale=0.0), ["missing eps", "variance is 0"]),
        (dict(eps_scale=10.0), ["ignores the eps", "1e-5"]),
        (dict(dims=(2, 3)), ["wrong dimensions", "InstanceNorm"]),
        (dict(dims=(1, 2, 3)), ["wrong dimensions", "GroupNorm"]),
        (dict(weight_init=0.0), ["wrong init", "weight", "ones"]),
    ],
)
def test_layernorm_mistakes_are_named(mistake, words):
    message = failure(check_layernorm, make_ln(**mistake))
    for word in words:
        assert word in message, message


def test_layernorm_eps_outside_sqrt():
    class EpsOutside(make_ln()):
        def forward(self, x):
            u = x.mean(1, keepdim=True)
            s = x.var(1, keepdim=True, unbiased=False)
            x = (x - u) / (s.sqrt() + self.eps)
            return self.weight[:, None, None] * x + self.bias[:, None, None]

    assert "eps outside the square root" in failure(check_layernorm, EpsOutside)


def test_checkers_do_not_touch_the_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    check_grn(GRN)
    check_dyt(DynamicTanh)
    check_layernorm(LayerNorm)
    assert torch.equal(torch.rand(3), expected)
