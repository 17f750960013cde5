"""Checkers for the layer exercises of notebook 02: your own GRN, DyT and LayerNorm.

    from convnext_nb.checks import check_grn
    check_grn(MyGRN)  # prints "Correct!" or what differs, in plain words; returns True/False

Each checker builds your class with the package layer's constructor signature, checks the
parameter names, shapes and initial values, then gives your module and the reference the same
non-trivial random parameters and compares their outputs on several inputs. When the outputs
differ it also compares yours with typical wrong versions (wrong dimensions, no eps, unbiased
variance, channels in the wrong place, ...) to name the mistake.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn as nn

from ..layers import GRN, DynamicTanh, LayerNorm
from .exercise import exercise

Tensor = torch.Tensor
Params = dict[str, Tensor]
# A typical mistake: (what to tell the student, the wrong formula computed from x and params)
Mistake = tuple[str, Callable[[Tensor, Params], Tensor]]


@dataclass
class _Case:
    """One comparison: an input and the parameter values both modules get for it."""

    what: str
    x: Tensor
    params: Params = field(default_factory=dict)


# --------------------------------------------------------------------------------------------
# Shared machinery


def _call_text(cls: type, args: tuple, kwargs: dict) -> str:
    parts = [repr(a) for a in args] + [f"{k}={v!r}" for k, v in kwargs.items()]
    return f"{getattr(cls, '__name__', cls)}({', '.join(parts)})"


def _build(cls: type, label: str, signature: str, *args, **kwargs) -> nn.Module:
    call = _call_text(cls, args, kwargs)
    try:
        module = cls(*args, **kwargs)
    except Exception as e:
        raise AssertionError(
            f"could not build your {label} as {call}: {type(e).__name__}: {e}. "
            f"Keep the package's constructor signature: {signature}."
        ) from e
    if not isinstance(module, nn.Module):
        raise AssertionError(
            f"{call} is not a torch.nn.Module: subclass nn.Module and call "
            "super().__init__() first in __init__."
        )
    return module


def _parameters(
    module: nn.Module, label: str, shapes: dict[str, list[tuple[int, ...]]]
) -> dict[str, nn.Parameter]:
    """The module's parameters, after checking their names and shapes against `shapes`."""
    found = dict(module.named_parameters())
    for name, allowed in shapes.items():
        if name not in found:
            if isinstance(getattr(module, name, None), Tensor):
                raise AssertionError(
                    f"your {label}'s {name} is a plain tensor, not a parameter: wrap it in "
                    f"nn.Parameter(...) so that the optimizer trains it."
                )
            raise AssertionError(
                f"your {label} has no parameter named {name!r} (it has "
                f"{sorted(found) or 'none'}). Use the names {list(shapes)}, as the package's "
                f"{label} does: checkpoints and the optimizer's no-decay rule find them by name."
            )
        shape = tuple(found[name].shape)
        if shape not in allowed:
            want = " or ".join(str(s) for s in allowed)
            raise AssertionError(
                f"your {label}'s {name} has shape {shape}, expected {want}."
                + _SHAPE_HINTS.get((label, name), "")
            )
    extra = sorted(set(found) - set(shapes))
    if extra:
        raise AssertionError(
            f"your {label} has parameters the reference does not have: {extra}; "
            f"it needs exactly {list(shapes)}."
        )
    return found


_SHAPE_HINTS = {
    ("DyT", "alpha"): " alpha is ONE learnable scalar shared by all channels: "
    "nn.Parameter(torch.ones(1) * alpha_init_value).",
    ("GRN", "gamma"): " gamma has one value per channel, shaped to broadcast over "
    "(N, H, W, C): torch.zeros(1, 1, 1, dim).",
    ("GRN", "beta"): " beta has one value per channel, shaped to broadcast over "
    "(N, H, W, C): torch.zeros(1, 1, 1, dim).",
}


def _describe(t: Tensor) -> str:
    t = t.detach().float()
    if t.numel() and torch.all(t == t.flatten()[0]):
        return f"all {t.flatten()[0].item():g}"
    return f"values from {t.min().item():.3g} to {t.max().item():.3g}"


def _check_init(label: str, params: dict[str, nn.Parameter], want: dict[str, float], why: str):
    for name, value in want.items():
        p = params[name].detach()
        if not torch.all(p == value):
            raise AssertionError(
                f"wrong init: your {label}'s {name} starts at {_describe(p)}; it should start "
                f"at all {value:g} ({why})."
            )


def _load(student: dict[str, nn.Parameter], reference: nn.Module, values: Params) -> None:
    """Copy the same values into the student's and the reference's parameters."""
    ref = dict(reference.named_parameters())
    with torch.no_grad():
        for name, value in values.items():
            ref[name].copy_(value.view_as(ref[name]))
            student[name].copy_(value.view_as(student[name]))


def _close(out: Tensor, expected: Tensor, equal_nan: bool = False) -> bool:
    if out.shape != expected.shape:
        return False
    scale = expected.abs().nan_to_num(0.0, 0.0, 0.0).max().item() if expected.numel() else 1.0
    return torch.allclose(
        out.double(), expected.double(), rtol=1e-4, atol=1e-5 * scale + 1e-30, equal_nan=equal_nan
    )


def _compare(
    label: str,
    student: nn.Module,
    params: dict[str, nn.Parameter],
    reference: nn.Module,
    cases: list[_Case],
    mistakes: list[Mistake],
    error_hint: str = "",
) -> None:
    for case in cases:
        _load(params, reference, case.params)
        where = f"{case.what}, input shape {tuple(case.x.shape)}"
        with torch.no_grad():
            expected = reference(case.x.clone())
            try:
                out = student(case.x.clone())
            except Exception as e:
                raise AssertionError(
                    f"your {label} raised {type(e).__name__} on {where}: {e}{error_hint}"
                ) from e
        if not isinstance(out, Tensor) or out.shape != expected.shape:
            got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
            raise AssertionError(
                f"your {label} returned {got} on {where}; it should return a tensor of the "
                f"input's shape {tuple(expected.shape)}."
            )
        if _close(out, expected):
            continue
        ref_params = {k: v.detach() for k, v in reference.named_parameters()}
        for explanation, wrong in mistakes:
            with torch.no_grad():
                try:
                    candidate = wrong(case.x.clone(), ref_params)
                except Exception:
                    continue
            if _close(out, candidate, equal_nan=True):
                raise AssertionError(f"{explanation} (seen on {where})")
        if not torch.isfinite(out).all():
            raise AssertionError(
                f"your {label} returns NaN or inf on {where}, where the reference is finite."
            )
        diff = (out - expected).abs().max().item()
        raise AssertionError(
            f"your {label}'s output differs from the reference on {where}: largest "
            f"difference {diff:.2g}. Compare your forward with the formula step by step."
        )


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randn(gen: torch.Generator, *shape: int) -> Tensor:
    return torch.randn(*shape, generator=gen)


# --------------------------------------------------------------------------------------------
# GRN

GRN_SIGNATURE = "GRN(dim), parameters gamma and beta of shape (1, 1, 1, dim)"


def _grn(
    x: Tensor,
    p: Params,
    gx_dims: tuple[int, ...] = (1, 2),
    mean_dim: int | tuple[int, ...] = -1,
    eps: float = 1e-6,
    norm: str = "l2",
    residual: bool = True,
    swap: bool = False,
) -> Tensor:
    """GRN on x: (N, H, W, C), with switches that reproduce typical mistakes."""
    if norm == "l2":
        gx = x.square().sum(gx_dims, keepdim=True).sqrt()
    elif norm == "rms":
        gx = x.square().mean(gx_dims, keepdim=True).sqrt()
    elif norm == "sumsq":
        gx = x.square().sum(gx_dims, keepdim=True)
    else:  # "l1"
        gx = x.abs().sum(gx_dims, keepdim=True)
    nx = gx / (gx.mean(mean_dim, keepdim=True) + eps)
    gamma, beta = (p["beta"], p["gamma"]) if swap else (p["gamma"], p["beta"])
    y = gamma * (x * nx) + beta
    return y + x if residual else y


GRN_MISTAKES: list[Mistake] = [
    (
        "your GRN normalises over the wrong dimensions: its factor Nx comes out as 1 for "
        "every channel, so the channels do not compete. Gx is one L2 norm per channel, "
        "taken over the spatial dims H, W (dims (1, 2) of the (N, H, W, C) input); Nx then "
        "divides Gx by its mean over the channels (dim -1)",
        lambda x, p: _grn(x, p, gx_dims=(-1,)),
    ),
    (
        "your GRN has the channels order wrong: it reduces as if the input were (N, C, H, W) "
        "(norm over dims (2, 3), mean over dim 1), but GRN sits after the Linear layers and "
        "gets channels_last input (N, H, W, C): Gx over dims (1, 2), mean over dim -1",
        lambda x, p: _grn(x, p, gx_dims=(2, 3), mean_dim=1),
    ),
    (
        "your GRN normalises over the wrong dimensions: it averages Gx over the batch "
        "(dim 0); each image is normalised on its own, with the mean over channels (dim -1)",
        lambda x, p: _grn(x, p, mean_dim=0),
    ),
    (
        "your GRN is missing eps: for an all-zero (or tiny) input mean(Gx) is 0 and Gx / "
        "mean(Gx) is 0 / 0 = NaN. Divide by (Gx.mean(dim=-1, keepdim=True) + 1e-6)",
        lambda x, p: _grn(x, p, eps=0.0),
    ),
    (
        "your GRN forgot the residual: your code returns gamma * (x * Nx) + beta, but GRN "
        "should return gamma * (x * Nx) + beta + x. The '+ x' is what makes a fresh GRN "
        "(gamma = beta = 0) the identity; yours returns all zeros at init",
        lambda x, p: _grn(x, p, residual=False),
    ),
    (
        "your GRN forgot the square root: your Gx is the sum of squares over H and W, but "
        "Gx should be the L2 norm, its square root (torch.norm(x, p=2, dim=(1, 2), "
        "keepdim=True))",
        lambda x, p: _grn(x, p, norm="sumsq"),
    ),
    (
        "your GRN takes the root-mean-square over H, W; Gx is the L2 norm, sqrt of the SUM "
        "of squares. The two differ by a constant that cancels except next to eps, which is "
        "why only small inputs show it",
        lambda x, p: _grn(x, p, norm="rms"),
    ),
    (
        "your GRN uses the L1 norm: your Gx is the sum of |x| over H, W, but Gx should be "
        "the L2 norm, sqrt of the sum of squares",
        lambda x, p: _grn(x, p, norm="l1"),
    ),
    (
        "your GRN swaps gamma and beta: your code returns beta * (x * Nx) + gamma + x, "
        "but GRN should return gamma * (x * Nx) + beta + x",
        lambda x, p: _grn(x, p, swap=True),
    ),
]


@exercise("grn", "Your GRN matches the package's on every input.")
def check_grn(cls: type, dim: int = 8) -> bool:
    """Check a student's GRN class against `convnext_nb.layers.GRN`.

    cls(dim) must take channels_last input x: (N, H, W, C) and return the same shape.
    Prints and returns the verdict (strict=True raises the AssertionError instead).
    """
    student = _build(cls, "GRN", GRN_SIGNATURE, dim)
    shape = [(1, 1, 1, dim), (dim,)]
    params = _parameters(student, "GRN", {"gamma": shape, "beta": shape})
    _check_init(
        "GRN",
        params,
        {"gamma": 0.0, "beta": 0.0},
        "zero gamma and beta make a fresh "
        "GRN the identity, so a new block starts as a plain ConvNeXt block",
    )
    reference = GRN(dim)
    gen = _generator(0)
    scale = torch.linspace(0.2, 3.0, dim)  # channels of different energy

    def random_params(beta_scale: float = 0.5) -> Params:
        return {
            "gamma": 0.5 + _randn(gen, dim),
            "beta": beta_scale * _randn(gen, dim),
        }

    cases = [
        _Case(
            "a random input at init (gamma = beta = 0)",
            _randn(gen, 2, 5, 5, dim),
            {"gamma": torch.zeros(dim), "beta": torch.zeros(dim)},
        ),
        _Case("a random input", _randn(gen, 2, 5, 5, dim) * scale, random_params()),
        _Case(
            "a random input with H != W", _randn(gen, 3, 4, 7, dim) * scale + 0.3, random_params()
        ),
        _Case("a 1x1 feature map", _randn(gen, 4, 1, 1, dim), random_params()),
        _Case("an all-zero input", torch.zeros(2, 3, 3, dim), random_params()),
        _Case(
            "a tiny input (|x| ~ 1e-7, where eps matters)",
            1e-7 * _randn(gen, 2, 3, 3, dim),
            random_params(beta_scale=0.0),
        ),
    ]
    _compare("GRN", student, params, reference, cases, GRN_MISTAKES)
    return True


# --------------------------------------------------------------------------------------------
# DyT

DYT_SIGNATURE = (
    "DynamicTanh(normalized_shape, channels_last=True, alpha_init_value=0.5), parameters "
    "alpha (1,), weight (C,), bias (C,)"
)


def _dyt(
    x: Tensor, p: Params, channel_dim: int, alpha: bool = True, affine: str = "outside"
) -> Tensor:
    """DyT with switches that reproduce typical mistakes; channel_dim is where weight goes."""
    shape = [1] * x.ndim
    shape[channel_dim] = -1
    w, b = p["weight"].view(shape), p["bias"].view(shape)
    a = p["alpha"] if alpha else 1.0
    if affine == "none":
        return torch.tanh(a * x)
    if affine == "inside":
        return torch.tanh(a * x * w + b)
    if affine == "alpha_outside":
        return a * w * torch.tanh(x) + b
    return w * torch.tanh(a * x) + b


def _dyt_mistakes(channels_last: bool) -> list[Mistake]:
    cdim = -1 if channels_last else 1
    wrong_dim = 1 if channels_last else -1
    layout = "(N, ..., C)" if channels_last else "(N, C, H, W)"
    return [
        (
            f"your DyT has the channels order wrong: with channels_last={channels_last} the "
            f"input is {layout} and weight and bias (one per channel) belong on dim {cdim}, "
            f"but yours applies them along dim {wrong_dim}"
            + ("" if channels_last else "; reshape them with weight[:, None, None]"),
            lambda x, p: _dyt(x, p, wrong_dim),
        ),
        (
            "your DyT does not use alpha: your code returns weight * tanh(x) + bias, but "
            "DyT should return weight * tanh(alpha * x) + bias",
            lambda x, p: _dyt(x, p, cdim, alpha=False),
        ),
        (
            "your DyT puts alpha outside the tanh: your code returns alpha * weight * "
            "tanh(x) + bias, but alpha scales the input: DyT should return "
            "weight * tanh(alpha * x) + bias",
            lambda x, p: _dyt(x, p, cdim, affine="alpha_outside"),
        ),
        (
            "your DyT forgot weight and bias: your code returns tanh(alpha * x), but DyT "
            "should return weight * tanh(alpha * x) + bias",
            lambda x, p: _dyt(x, p, cdim, affine="none"),
        ),
        (
            "your DyT applies weight and bias inside the tanh: your code returns "
            "tanh(alpha * x * weight + bias), but they come after it: DyT should return "
            "weight * tanh(alpha * x) + bias",
            lambda x, p: _dyt(x, p, cdim, affine="inside"),
        ),
    ]


@exercise("dyt", "Your DyT matches the package's DynamicTanh in both layouts.")
def check_dyt(cls: type, dim: int = 6) -> bool:
    """Check a student's Dynamic Tanh class against `convnext_nb.layers.DynamicTanh`.

    Builds cls(dim), cls(dim, channels_last=True, alpha_init_value=0.5) and
    cls(dim, channels_last=False, alpha_init_value=0.8); channels_last input is (..., C),
    channels_first input (N, C, H, W). strict=True raises instead of printing.
    """
    gen = _generator(1)
    shapes = {"alpha": [(1,), ()], "weight": [(dim,)], "bias": [(dim,)]}
    why_affine = "like LayerNorm's, DyT's affine part starts as the identity"

    default = _build(cls, "DyT", DYT_SIGNATURE, dim)
    params = _parameters(default, "DyT", shapes)
    _check_init("DyT", params, {"alpha": 0.5}, "the default alpha_init_value is 0.5")
    _check_init("DyT", params, {"weight": 1.0, "bias": 0.0}, why_affine)

    for channels_last, alpha0 in [(True, 0.5), (False, 0.8)]:
        student = _build(
            cls, "DyT", DYT_SIGNATURE, dim, channels_last=channels_last, alpha_init_value=alpha0
        )
        params = _parameters(student, "DyT", shapes)
        _check_init(
            "DyT", params, {"alpha": alpha0}, f"it was built with alpha_init_value={alpha0}"
        )
        reference = DynamicTanh(dim, channels_last=channels_last, alpha_init_value=alpha0)

        def random_params() -> Params:
            return {
                "alpha": 0.5 + torch.rand(1, generator=gen),
                "weight": 1.0 + 0.5 * _randn(gen, dim),
                "bias": 0.5 * _randn(gen, dim),
            }

        if channels_last:
            layout = "channels_last=True"
            inputs = [
                ("an (N, C, C, C) input", 3 * _randn(gen, 2, dim, dim, dim)),
                ("a random (N, H, W, C) input", 3 * _randn(gen, 2, 5, 7, dim)),
                ("a pooled (N, C) input, as the head's norm gets", 3 * _randn(gen, 4, dim)),
            ]
            hint = ""
        else:
            layout = "channels_last=False"
            inputs = [
                ("an (N, C, H, W) input with W == C", 3 * _randn(gen, 2, dim, 4, dim)),
                ("a random (N, C, H, W) input", 3 * _randn(gen, 2, dim, 5, 7)),
            ]
            hint = (
                ". With channels_last=False the input is (N, C, H, W): weight and bias "
                "(shape (C,)) must broadcast along dim 1, e.g. weight[:, None, None]"
            )
        cases = [_Case(f"{what} ({layout})", x, random_params()) for what, x in inputs]
        _compare("DyT", student, params, reference, cases, _dyt_mistakes(channels_last), hint)
    return True


# --------------------------------------------------------------------------------------------
# LayerNorm

LN_SIGNATURE = (
    'LayerNorm(normalized_shape, eps=1e-6, data_format="channels_last" | "channels_first"), '
    "parameters weight (C,) and bias (C,)"
)


def _ln(
    x: Tensor,
    p: Params,
    dims: tuple[int, ...],
    affine_dim: int,
    eps: float = 1e-6,
    unbiased: bool = False,
    eps_outside: bool = False,
) -> Tensor:
    """LayerNorm with switches that reproduce typical mistakes."""
    mean = x.mean(dims, keepdim=True)
    var = x.var(dims, keepdim=True, correction=1 if unbiased else 0)
    xhat = (x - mean) / (var.sqrt() + eps) if eps_outside else (x - mean) / (var + eps).sqrt()
    shape = [1] * x.ndim
    shape[affine_dim] = -1
    return xhat * p["weight"].view(shape) + p["bias"].view(shape)


def _ln_mistakes(channels_first: bool) -> list[Mistake]:
    c = 1 if channels_first else -1
    spatial = (2, 3) if channels_first else (1, 2)
    everything = (1, 2, 3)
    mistakes: list[Mistake] = []
    if channels_first:
        mistakes += [
            (
                "your LayerNorm has the channels order wrong: with data_format="
                '"channels_first" the input is (N, C, H, W) and it normalises over the last '
                "axis (W), as F.layer_norm / nn.LayerNorm do. Take the mean and variance over "
                "dim 1, or permute to (N, H, W, C), normalise, and permute back",
                lambda x, p: _ln(x, p, (-1,), -1),
            ),
            (
                "your LayerNorm has the channels order wrong: it normalises over the channels "
                "(dim 1) but applies weight and bias along the last axis; for (N, C, H, W) use "
                "weight[:, None, None] and bias[:, None, None]",
                lambda x, p: _ln(x, p, (1,), -1),
            ),
        ]
    mistakes += [
        (
            "your LayerNorm normalises over the wrong dimensions: over H and W (that is "
            "InstanceNorm). LayerNorm normalises each pixel's channel vector: mean and "
            f"variance over the channel dim ({c})",
            lambda x, p: _ln(x, p, spatial, c),
        ),
        (
            "your LayerNorm normalises over the wrong dimensions: over C, H and W together "
            "(GroupNorm with one group). LayerNorm in ConvNeXt takes mean and variance over "
            f"the channel dim ({c}) only, separately for every pixel",
            lambda x, p: _ln(x, p, everything, c),
        ),
        (
            "your LayerNorm uses the unbiased variance (divides by C - 1); LayerNorm uses the "
            "biased one (divides by C): x.var(dim, unbiased=False, keepdim=True), or "
            "((x - mean) ** 2).mean(dim, keepdim=True)",
            lambda x, p: _ln(x, p, (c,), c, unbiased=True),
        ),
        (
            "your LayerNorm is missing eps: where a pixel's channels are all equal the variance "
            "is 0 and you divide 0 by 0. Use (x - mean) / torch.sqrt(var + self.eps)",
            lambda x, p: _ln(x, p, (c,), c, eps=0.0),
        ),
        (
            "your LayerNorm adds eps outside the square root; it goes inside: "
            "(x - mean) / torch.sqrt(var + eps)",
            lambda x, p: _ln(x, p, (c,), c, eps_outside=True),
        ),
        (
            "your LayerNorm ignores the eps it was given and uses 1e-5 (nn.LayerNorm's "
            "default); use the constructor's eps (1e-6 in ConvNeXt)",
            lambda x, p: _ln(x, p, (c,), c, eps=1e-5),
        ),
    ]
    return mistakes


@exercise("layernorm", "Your LayerNorm matches the package's in every layout checked.")
def check_layernorm(
    cls: type,
    dim: int = 6,
    data_formats: tuple[str, ...] = ("channels_first", "channels_last"),
) -> bool:
    """Check a student's LayerNorm class against `convnext_nb.layers.LayerNorm`.

    Builds cls(dim, eps=1e-6, data_format=f) for each f in `data_formats` (pass
    data_formats=("channels_first",) to check only that branch). strict=True raises
    instead of printing.
    """
    gen = _generator(2)
    for data_format in data_formats:
        student = _build(cls, "LayerNorm", LN_SIGNATURE, dim, eps=1e-6, data_format=data_format)
        params = _parameters(student, "LayerNorm", {"weight": [(dim,)], "bias": [(dim,)]})
        _check_init(
            "LayerNorm",
            params,
            {"weight": 1.0, "bias": 0.0},
            "a fresh LayerNorm only standardises: weight ones, bias zeros",
        )
        reference = LayerNorm(dim, eps=1e-6, data_format=data_format)
        cf = data_format == "channels_first"

        def layout(n: int, h: int, w: int, cf: bool = cf) -> tuple[int, ...]:
            return (n, dim, h, w) if cf else (n, h, w, dim)

        # Per-pixel constant channel vectors in exact binary fractions: variance exactly 0.
        flat = torch.randint(-8, 8, (2, 1, 3, 4), generator=gen).float() / 4
        flat = flat.expand(2, dim, 3, 4) if cf else flat.permute(0, 2, 3, 1).expand(2, 3, 4, dim)
        inputs = [
            ("an input with W == C", 2 * _randn(gen, *layout(2, 4, dim)) - 1),
            ("a random input", 3 * _randn(gen, *layout(2, 5, 7)) + 1),
            ("an input whose channels are equal at every pixel (variance 0)", flat.contiguous()),
            (
                "an input with tiny variance (~1e-6, where eps matters)",
                1e-3 * _randn(gen, *layout(2, 3, 4)),
            ),
        ]
        if not cf:
            inputs.append(("a pooled (N, C) input, as the head's norm gets", _randn(gen, 4, dim)))
        cases = [
            _Case(
                f"{what} ({data_format})",
                x,
                {"weight": 1.0 + 0.5 * _randn(gen, dim), "bias": 0.5 * _randn(gen, dim)},
            )
            for what, x in inputs
        ]
        hint = (
            '. With data_format="channels_first" the input is (N, C, H, W): normalise over '
            "dim 1 and broadcast weight and bias as weight[:, None, None]"
            if cf
            else ""
        )
        mistakes = _ln_mistakes(cf)
        _compare("LayerNorm", student, params, reference, cases, mistakes, hint)
    return True
