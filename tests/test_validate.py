"""Tests of llmguide.validate: the wrong kind of value is a TypeError, the wrong range a ValueError."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from llmguide.validate import (
    check_batch_request,
    check_bool,
    check_choice,
    check_finite_result,
    check_instance,
    check_int,
    check_real,
    check_token_ids,
)


@pytest.mark.parametrize("value", [0, 7, -3, np.int64(5), np.int8(-2), 10**30])
def test_check_int_accepts_integers_and_returns_python_ints(value: object) -> None:
    out = check_int("n", value)
    assert type(out) is int and out == int(value)  # type: ignore[call-overload]


@pytest.mark.parametrize("value", [True, False, 2.0, 2.5, "3", None, np.float64(1.0), [1]])
def test_check_int_refuses_other_kinds_with_a_type_error(value: object) -> None:
    with pytest.raises(TypeError, match=r"^n must be an integer, got "):
        check_int("n", value, minimum=0)


@pytest.mark.parametrize(
    ("value", "kwargs", "message"),
    [
        (0, {"minimum": 1}, "n must be an integer >= 1, got 0"),
        (5, {"maximum": 4}, "n must be an integer <= 4, got 5"),
        (9, {"minimum": 0, "maximum": 8}, r"n must be an integer in \[0, 8\], got 9"),
        (-1, {"minimum": 0, "maximum": 8}, r"n must be an integer in \[0, 8\], got -1"),
    ],
)
def test_check_int_bounds_are_inclusive(value: int, kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=f"^{message}$"):
        check_int("n", value, **kwargs)
    edge = kwargs.get("minimum", kwargs.get("maximum"))
    assert check_int("n", edge, **kwargs) == edge


def test_check_real_bounds_open_and_closed() -> None:
    assert check_real("p", 0, minimum=0) == 0.0
    assert check_real("p", 1, maximum=1) == 1.0
    assert check_real("p", np.float32(0.5), minimum=0, maximum=1) == 0.5
    with pytest.raises(ValueError, match=r"^p must be a finite number > 0, got 0$"):
        check_real("p", 0, minimum=0, min_open=True)
    with pytest.raises(ValueError, match=r"^p must be a finite number in \[0, 1\), got 1$"):
        check_real("p", 1, minimum=0, maximum=1, max_open=True)
    with pytest.raises(ValueError, match=r"in \(0, 1\]"):
        check_real("p", 1.5, minimum=0, maximum=1, min_open=True)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_check_real_refuses_nan_and_infinity(value: float) -> None:
    with pytest.raises(ValueError, match=r"^x must be a finite number"):
        check_real("x", value)
    if not math.isnan(value):
        assert check_real("x", value, finite=False) == value
    else:
        with pytest.raises(ValueError):
            check_real("x", value, finite=False)  # NaN is never a number in range


@pytest.mark.parametrize("value", [True, "0.5", None, 1 + 2j, torch.tensor(0.5)])
def test_check_real_refuses_other_kinds(value: object) -> None:
    with pytest.raises(TypeError, match=r"^x must be a real number, got "):
        check_real("x", value)


@pytest.mark.parametrize("value", [1, 0, "false", "True", None, np.True_])
def test_check_bool_takes_only_bools(value: object) -> None:
    with pytest.raises(TypeError, match=r"^flag must be True or False"):
        check_bool("flag", value)
    assert check_bool("flag", False) is False


def test_check_choice() -> None:
    assert check_choice("split", "val", ("train", "val")) == "val"
    with pytest.raises(ValueError, match=r"^unknown split 'test'; valid: train, val$"):
        check_choice("split", "test", ("train", "val"))
    with pytest.raises(TypeError, match=r"^split must be a string"):
        check_choice("split", 0, ("train", "val"))


def test_check_instance() -> None:
    g = torch.Generator()
    assert check_instance("generator", g, torch.Generator, "a torch.Generator") is g
    with pytest.raises(TypeError, match=r"^generator must be a torch\.Generator, got int$"):
        check_instance("generator", 0, torch.Generator, "a torch.Generator")


def test_check_finite_result() -> None:
    assert check_finite_result("n", 1e308, "x") == 1e308
    with pytest.raises(ValueError, match=r"^n is too large: computing the FLOPs overflows a float"):
        check_finite_result("n", 1e308 * 10, "the FLOPs")
    with pytest.raises(ValueError, match=r"^n is too large"):
        check_finite_result("n", np.array([1.0, np.inf]), "the FLOPs")


@pytest.mark.parametrize("dtype", [torch.uint8, torch.int16, torch.int8, torch.float32, torch.bool])
def test_token_ids_of_other_dtypes_are_a_type_error(dtype: torch.dtype) -> None:
    with pytest.raises(TypeError, match=f"^idx must be a tensor of dtype int64 or int32 .*got {dtype}"):
        check_token_ids("idx", torch.zeros(1, 2, dtype=dtype), vocab_size=10)


@pytest.mark.parametrize("shape", [(0, 3), (2, 0), (3,), (1, 2, 3)])
def test_token_ids_need_the_shape_and_no_empty_axis(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match=r"^idx must have shape \(batch, positions\)"):
        check_token_ids("idx", torch.zeros(shape, dtype=torch.long), vocab_size=10)


def test_token_ids_range_and_the_ignored_id() -> None:
    for dtype in (torch.int64, torch.int32):
        check_token_ids("t", torch.tensor([[0, 9]], dtype=dtype), vocab_size=10)
    with pytest.raises(ValueError, match=r"outside \[0, vocab_size=10\), e\.g\. 10"):
        check_token_ids("t", torch.tensor([[0, 10]]), vocab_size=10)
    with pytest.raises(ValueError, match=r"e\.g\. -1"):
        check_token_ids("t", torch.tensor([[0, -1]]), vocab_size=10)
    check_token_ids("t", torch.tensor([[0, -1]]), vocab_size=10, ignore_index=-1)
    with pytest.raises(ValueError, match=r"other than the ignored -1\), e\.g\. -5"):
        check_token_ids("t", torch.tensor([[-1, -5]]), vocab_size=10, ignore_index=-1)
    with pytest.raises(TypeError, match=r"^t must be an integer tensor"):
        check_token_ids("t", [[1, 2]], vocab_size=10)


def test_batch_request() -> None:
    check_batch_request("val", 1, torch.Generator())
    with pytest.raises(ValueError, match="unknown split"):
        check_batch_request("dev", 1, torch.Generator())
    with pytest.raises(ValueError, match="batch_size must be an integer >= 1"):
        check_batch_request("train", 0, torch.Generator())
    with pytest.raises(TypeError, match="batch_size must be an integer"):
        check_batch_request("train", 2.0, torch.Generator())
    with pytest.raises(TypeError, match="generator"):
        check_batch_request("train", 2, 0)


def test_token_ids_range_without_a_host_sync_is_still_checked_on_the_cpu() -> None:
    # sync=False only changes how an accelerator checks; on the CPU a bad id is the same ValueError at once.
    with pytest.raises(ValueError, match=r"idx holds token ids outside \[0, vocab_size=10\), e.g. 12"):
        check_token_ids("idx", torch.tensor([[1, 12]]), vocab_size=10, sync=False)
    check_token_ids("idx", torch.tensor([[1, 9]]), vocab_size=10, sync=False)
