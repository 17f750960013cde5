"""The exercise checkers: right answers pass, typical student mistakes fail with a clear message."""

import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from convnext_nb import GRN, DynamicTanh, LayerNorm, create_model
from convnext_nb.checks import (
    check_best_epoch,
    check_crop_flip,
    check_dyt,
    check_dyt_channels_first,
    check_grn,
    check_layernorm,
    check_report_optimizers,
    check_stage_sizes,
    check_train_step,
    check_warmup_cosine,
    show_solution,
)
from convnext_nb.checks.solutions import SOLUTIONS
from convnext_nb.models import STEM_STRIDES

CHECKERS = {
    "crop_flip": check_crop_flip,
    "train_step": check_train_step,
    "report_optimizers": check_report_optimizers,
    "stage_sizes": check_stage_sizes,
    "dyt_channels_first": check_dyt_channels_first,
    "best_epoch": check_best_epoch,
    "warmup_cosine": check_warmup_cosine,
    "grn": check_grn,
    "dyt": check_dyt,
    "layernorm": check_layernorm,
}

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
        check(cls, strict=True, **kw)
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


# ---------------------------------------------------------------------------------------------
# The function checkers of notebooks 03-08: every solution passes, every typical mistake is named


@pytest.mark.parametrize("name", list(CHECKERS))
def test_each_solution_passes_its_checker(name, capsys):
    assert CHECKERS[name](SOLUTIONS[name]) is True
    assert capsys.readouterr().out.startswith("Correct!")


def test_a_failed_check_prints_instead_of_raising(capsys):
    def unfinished(history):
        raise NotImplementedError("write best_epoch")

    assert check_best_epoch(unfinished) is False
    out = capsys.readouterr().out
    assert out.startswith("Not yet: your best_epoch is not written yet")
    assert 'show_solution("best_epoch")' in out


def test_show_solution_prints_the_solution_code(capsys):
    show_solution("warmup_cosine")
    out = capsys.readouterr().out
    assert out.startswith("def warmup_cosine(t, lr, warmup_steps, total_steps):")
    assert "math.cos" in out
    with pytest.raises(ValueError, match="no exercise named 'nope'; choose one of: crop_flip"):
        show_solution("nope")


def make_crop_flip(pad_value=0, flip_dim=-1, per_image=True, high=9, flip=True, source="padded"):
    def crop_flip(x, generator):
        n, c, h, w = x.shape
        padded = F.pad(x, (4, 4, 4, 4), value=pad_value)
        k = n if per_image else 1
        dy, dx = torch.randint(0, high, (2, k), generator=generator).expand(2, n)
        mirror = torch.rand(k, generator=generator).expand(n) < 0.5
        src = padded if source == "padded" else x
        out = [src[i, :, dy[i] : dy[i] + h, dx[i] : dx[i] + w] for i in range(n)]
        out = torch.stack(out) if per_image else src[:, :, dy[0] : dy[0] + h, dx[0] : dx[0] + w]
        return torch.where(mirror[:, None, None, None], out.flip(flip_dim), out) if flip else out

    return crop_flip


@pytest.mark.parametrize(
    "mistake, words",
    [
        (dict(pad_value=128), ["does not pad with zeros", "F.pad"]),
        (dict(flip_dim=-2), ["along H", "upside down", "flip(-1)"]),
        (dict(per_image=False), ["one offset", "whole batch", "per image"]),
        (dict(high=8), ["from 0 to 7", "from 0 to 8", "randint(0, 9"]),
        (dict(flip=False), ["mirrors none", "probability 1/2"]),
        (dict(per_image=False, source="unpadded"), ["smaller than", "unpadded image"]),
    ],
)
def test_crop_flip_mistakes_are_named(mistake, words):
    message = failure(check_crop_flip, make_crop_flip(**mistake))
    for word in words:
        assert word in message, message


def test_crop_flip_type_and_generator_mistakes():
    assert "never crops" in failure(check_crop_flip, lambda x, g: x.clone())
    assert "returns torch.float32" in failure(check_crop_flip, lambda x, g: x.float())

    def global_rng(x, generator):
        return make_crop_flip()(x, torch.Generator().manual_seed(int(torch.randint(2**31, ()))))

    assert "same seed" in failure(check_crop_flip, global_rng)

    def in_place(x, generator):
        x[:, :, :4] = 0
        return x

    assert "in place" in failure(check_crop_flip, in_place)


def make_train_step(order="zbs", train=True, loss_fn=F.cross_entropy):
    def train_step(model, optimizer, X, y):
        if train:
            model.train()
        loss = loss_fn(model(X), y)
        for op in order:
            {"z": optimizer.zero_grad, "b": loss.backward, "s": optimizer.step}[op]()
        return loss.item()

    return train_step


@pytest.mark.parametrize(
    "mistake, words",
    [
        (dict(order="bs"), ["never calls optimizer.zero_grad()", "sum of this batch"]),
        (dict(order="sb"), ["step() before loss.backward()", "previous batch"]),
        (dict(order="zsb"), ["leaves the weights unchanged", "after loss.backward()"]),
        (dict(order="zb"), ["leaves the weights unchanged"]),
        (dict(train=False), ["eval mode", "model.train()"]),
        (dict(loss_fn=lambda z, y: F.nll_loss(z, y)), ["returns loss", "cross-entropy"]),
    ],
)
def test_train_step_mistakes_are_named(mistake, words):
    message = failure(check_train_step, make_train_step(**mistake))
    for word in words:
        assert word in message, message


def test_train_step_that_returns_nothing():
    def silent(model, optimizer, X, y):
        make_train_step()(model, optimizer, X, y)

    assert "returns None" in failure(check_train_step, silent)


def make_optimizers(adamw_cls=torch.optim.AdamW, nesterov=True, wd=None, lr=1e-3, groups=1):
    def make(model):
        params = list(model.parameters())
        sgd = torch.optim.SGD(params, lr=lr, momentum=0.9, nesterov=nesterov)
        radam = torch.optim.RAdam(params if groups == 1 else params[:1], lr=lr)
        extra = {} if wd is None else {"weight_decay": wd}
        return sgd, radam, adamw_cls(params, lr=lr, **extra)

    return make


@pytest.mark.parametrize(
    "mistake, words",
    [
        (dict(adamw_cls=torch.optim.Adam), ["torch.optim.Adam;", "decoupled"]),
        (dict(nesterov=False), ["nesterov=False", "nesterov=True"]),
        (dict(wd=0.05), ["weight_decay=0.05", "weight_decay=0.01", "ConvNeXt"]),
        (dict(lr=1e-2), ["lr=0.01", "lr=0.001"]),
        (dict(groups=2), ["radam", "all of model.parameters()"]),
    ],
)
def test_report_optimizer_mistakes_are_named(mistake, words):
    message = failure(check_report_optimizers, make_optimizers(**mistake))
    for word in words:
        assert word in message, message


@pytest.mark.parametrize(
    "fn, words",
    [
        (lambda n, s: [n, n // 2, n // 4, n // 8], ["forgot the stem"]),
        (lambda n, s: [n // s // 2**i for i in range(1, 5)], ["halve four times"]),
        (lambda n, s: [n / s / 2**i for i in range(4)], ["fractions", "//"]),
        (lambda n, s: [-(-(n // s) // 2**i) for i in range(4)], ["round up"]),
        (lambda n, s: [n // 4 // 2**i for i in range(4)], ["ignore stem_stride"]),
        (lambda n, s: [n // s // 2**i for i in range(5)], ["the 4 stages' sizes"]),
    ],
)
def test_stage_size_mistakes_are_named(fn, words):
    message = failure(check_stage_sizes, fn)
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("stem", sorted(STEM_STRIDES))
def test_stage_size_answers_are_what_the_model_computes(stem):
    model = create_model("atto", stem=stem, num_classes=10)
    sizes = []
    for stage in model.stages:
        stage.register_forward_hook(lambda m, i, out: sizes.append(out.shape[-1]))
    model(torch.zeros(1, 3, 64, 64))
    assert sizes == SOLUTIONS["stage_sizes"](64, STEM_STRIDES[stem])


@pytest.mark.parametrize(
    "fn, words",
    [
        (lambda x, a, w, b: w * torch.tanh(a * x) + b, ["channels order", "weight[:, None, None]"]),
        (lambda x, a, w, b: torch.tanh(x) * w[:, None, None] + b[:, None, None], ["alpha"]),
        (lambda x, a, w, b: torch.tanh(a * x), ["forgot weight and bias"]),
        (lambda x, a, w, b: torch.tanh(a * x * w[:, None, None] + b[:, None, None]), ["inside"]),
    ],
)
def test_dyt_channels_first_mistakes_are_named(fn, words):
    message = failure(check_dyt_channels_first, fn)
    assert message.startswith("your dyt")
    for word in words:
        assert word in message, message


@pytest.mark.parametrize(
    "fn, words",
    [
        (lambda h: (h.val_acc.index(max(h.val_acc)), max(h.val_acc)), ["0-based"]),
        (lambda h: (len(h.val_acc), h.val_acc[-1]), ["last epoch"]),
        (
            lambda h: (
                max(range(len(h.val_acc)), key=lambda i: (h.val_acc[i], i)) + 1,
                max(h.val_acc),
            ),
            ["tie", "first epoch"],
        ),
        (lambda h: (h.val_acc.index(max(h.val_acc)) + 1, 100 * max(h.val_acc)), ["percent"]),
        (lambda h: (h.best_epoch, h.best_val_acc), ["train() fills in", "val_acc"]),
        (lambda h: h.val_acc.index(max(h.val_acc)) + 1, ["return (epoch, val_acc)"]),
    ],
)
def test_best_epoch_mistakes_are_named(fn, words):
    message = failure(check_best_epoch, fn)
    for word in words:
        assert word in message, message


def cosine(t, w, n):
    return (1 + math.cos(math.pi * t / n)) / 2


@pytest.mark.parametrize(
    "fn, words",
    [
        (
            lambda t, lr, w, n: lr * (t + 1) / (w + 1) if t < w else lr * cosine(t, w, n),
            ["does not start after the warmup"],
        ),
        (
            lambda t, lr, w, n: lr * (t + 1) / (w + 1) if t < w else lr * cosine(t - w, w, n),
            ["never gets to 0"],
        ),
        (
            lambda t, lr, w, n: lr * t / w if t < w else lr * cosine(t - w, w, n - w),
            ["off by one", "starts at lr * 0"],
        ),
        (
            lambda t, lr, w, n: lr * (t + 1) / w if t < w else lr * cosine(t - w, w, n - w),
            ["off by one", "one step early"],
        ),
        (lambda t, lr, w, n: lr, ["differs from the scheduler", "at step 0"]),
    ],
)
def test_warmup_cosine_mistakes_are_named(fn, words):
    message = failure(check_warmup_cosine, fn)
    for word in words:
        assert word in message, message


def test_function_checkers_do_not_touch_the_global_rng():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    for name, check in CHECKERS.items():
        check(SOLUTIONS[name])
    assert torch.equal(torch.rand(3), expected)
