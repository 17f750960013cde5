"""What the function checkers share: a verdict printed for the student, and safe calls."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import torch


def exercise(name: str, success: str) -> Callable[[Callable[..., None]], Callable[..., bool]]:
    """Turn `check(*args)`, which raises AssertionError on a mistake, into a notebook checker.

    The checker prints "Correct! <success>" and returns True, or prints what is wrong (and how
    to see the solution `name`) and returns False, so a notebook with an unfinished exercise
    still runs to the end. `strict=True` raises the AssertionError instead (for tests).
    """

    def wrap(check: Callable[..., None]) -> Callable[..., bool]:
        @functools.wraps(check)
        def checker(*args: Any, strict: bool = False, **kwargs: Any) -> bool:
            with torch.random.fork_rng(devices=[]):  # the student's global RNG is left alone
                try:
                    check(*args, **kwargs)
                except AssertionError as e:
                    if strict:
                        raise
                    print(f"Not yet: {e}\n{_stuck(name)}")
                    return False
            print(f"Correct! {success}")
            return True

        return checker

    return wrap


def _stuck(name: str) -> str:
    return f'(Stuck? show_solution("{name}"), from convnext_nb.checks, prints one solution.)'


def call(fn: Callable[..., Any], label: str, *args: Any) -> Any:
    """fn(*args), with any exception turned into an AssertionError that names `label`."""
    try:
        return fn(*args)
    except NotImplementedError as e:
        raise AssertionError(f"your {label} is not written yet (NotImplementedError: {e}).") from e
    except Exception as e:
        raise AssertionError(f"your {label} raised {type(e).__name__}: {e}") from e


def number(value: Any, label: str) -> float:
    """A Python float from a float, an int or a one-element tensor, else a clear error."""
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        return float(value.item())
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise AssertionError(f"your {label} returned {value!r}; it should return a number.")
