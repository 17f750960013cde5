"""Checkers for the notebooks' exercises, and the solutions they hide until you ask.

    from convnext_nb.checks import check_grn, check_crop_flip, show_solution
    check_grn(MyGRN)             # True, or an AssertionError saying what differs
    check_crop_flip(crop_flip)   # prints "Correct! ..." or what is wrong; returns True/False
    show_solution("crop_flip")   # prints one solution

Each checker runs your code on inputs chosen to expose the typical mistakes, compares it with
the package's own code, and when they differ says what your code returns, what it should
return, and which mistake gives exactly your result. The function checkers (03-08) print
their verdict so that a notebook with an unfinished exercise still runs; pass strict=True to
get the AssertionError instead.
"""

from .data import check_crop_flip
from .layers import check_dyt, check_grn, check_layernorm
from .model import check_dyt_channels_first, check_stage_sizes
from .solutions import show_solution
from .training import (
    check_best_epoch,
    check_report_optimizers,
    check_train_step,
    check_warmup_cosine,
)

__all__ = [
    "check_best_epoch",
    "check_crop_flip",
    "check_dyt",
    "check_dyt_channels_first",
    "check_grn",
    "check_layernorm",
    "check_report_optimizers",
    "check_stage_sizes",
    "check_train_step",
    "check_warmup_cosine",
    "show_solution",
]
