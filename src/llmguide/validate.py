"""One rule for bad arguments: `TypeError` for the wrong kind of value, `ValueError` for the wrong range.

Every public function of llmguide checks its arguments with these helpers, so that the same mistake gets the
same error everywhere: `n_layer=2.5` is a `TypeError` (a float is not an integer) in every module, and
`n_layer=0` a `ValueError` (an integer, but out of range). Each message starts with the parameter's name, and
the error carries that name (`parameter_error`), which the `llmguide` command shows as its flag (`n_embd`
becomes `--n-embd`).

- `check_int`, `check_real`, `check_bool`: numbers and flags, with optional bounds. `bool` is never accepted
  as a number, and NaN or an infinity is never accepted as a bound-respecting real unless asked for.
- `check_choice`, `check_instance`: one of a few strings, or an instance of a type.
- `check_token_ids`: an integer tensor of token ids of the right shape, with every id in the vocabulary.
- `check_batch_request`: the arguments of a data set's `get_batch(split, batch_size, *, generator)`.
- `check_finite_result`: a computed number that overflowed to infinity is a `ValueError` naming the input.
- `parameter_error`: any other error about arguments, carrying the names of the parameters it is about.

This module imports nothing heavy: torch is imported only inside the two functions that check torch objects.

```python
from llmguide.validate import check_int

for value in (3, 0, 2.5):
    try:
        print(check_int("n_layer", value, minimum=1))
    except (TypeError, ValueError) as error:
        print(type(error).__name__, error)
#> 3
#> ValueError n_layer must be an integer >= 1, got 0
#> TypeError n_layer must be an integer, got float 2.5
```
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Collection
from typing import Any, TypeVar

__all__ = [
    "check_batch_request",
    "check_bool",
    "check_choice",
    "check_finite_result",
    "check_instance",
    "check_int",
    "check_real",
    "check_token_ids",
    "parameter_error",
]

T = TypeVar("T")


E = TypeVar("E", bound=Exception)


def parameter_error(kind: type[E], message: str, params: str | tuple[str, ...]) -> E:
    """Return the error `kind(message)`, carrying the names of the parameters it is about in `.params`.

    Every error that llmguide raises about an argument is made here (or by the checks below, which use it),
    so that it says which parameters it names: the message names them as written in the code
    (`n_embd must be divisible by n_head`), and the `llmguide` command shows each as its flag
    (`--n-embd must be divisible by --n-head`), reading `params` rather than guessing names in the text.
    The error is still a plain `ValueError` or `TypeError`, caught and printed as usual.

    Args:
        kind: the exception class, such as `ValueError` or `TypeError`.
        message: the message, which names the parameters.
        params: the parameters the message names: a tuple of names, or one string whose identifiers are
            taken (`"gpus or hours"` gives `("gpus", "or", "hours")`: a word that names no parameter is
            harmless).

    Returns:
        The error, to `raise`.

    For example:

    ```python
    from llmguide.validate import parameter_error

    error = parameter_error(ValueError, "n_embd must be divisible by n_head", ("n_embd", "n_head"))
    print(type(error).__name__, error.params)
    #> ValueError ('n_embd', 'n_head')
    ```
    """
    error = kind(message)
    names = re.findall(r"[A-Za-z_]\w*", params) if isinstance(params, str) else params
    error.params = tuple(names)  # type: ignore[attr-defined]
    return error


def _got(value: object) -> str:
    """`float 2.5`, `str '3'`: the kind and the value, for a TypeError's message."""
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def _bounds(
    minimum: float | None, maximum: float | None, *, min_open: bool = False, max_open: bool = False
) -> str:
    """The allowed range in words: `>= 1`, `> 0`, `in [0, 1)`, or `` (no bound)."""
    low, high = _number(minimum), _number(maximum)
    if minimum is not None and maximum is not None:
        return f"in {'(' if min_open else '['}{low}, {high}{')' if max_open else ']'}"
    if minimum is not None:
        return f"{'>' if min_open else '>='} {low}"
    if maximum is not None:
        return f"{'<' if max_open else '<='} {high}"
    return ""


def _number(x: float | None) -> str:
    """An int as it is (exact), a float in its shortest form (`0`, `1`, `0.5`, `1e+20`); None as ''."""
    if x is None:
        return ""
    return str(x) if isinstance(x, int) else f"{x:g}"


def check_int(name: str, value: Any, *, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return `value` as an `int` if it is an integer (not a bool) in `[minimum, maximum]`.

    Python ints and NumPy integers are integers; floats are not, even `2.0`: a count given as a float is
    usually a mistake upstream (`n / 2` instead of `n // 2`).

    Args:
        name: the parameter's name, for the message.
        value: the value to check.
        minimum: smallest allowed value, or None.
        maximum: largest allowed value, or None.

    Returns:
        `int(value)`.

    Raises:
        TypeError: `value` is not an integer (or is a bool).
        ValueError: `value` is outside the bounds.

    For example:

    ```python
    from llmguide.validate import check_int

    print(check_int("batch_size", 8, minimum=1))
    #> 8
    ```
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise parameter_error(TypeError, f"{name} must be an integer, got {_got(value)}", name)
    value = int(value)
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise parameter_error(
            ValueError, f"{name} must be an integer {_bounds(minimum, maximum)}, got {value}", name
        )
    return value


def check_real(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    min_open: bool = False,
    max_open: bool = False,
    finite: bool = True,
) -> float:
    """Return `value` as a `float` if it is a real number (not a bool) in the given range.

    Args:
        name: the parameter's name, for the message.
        value: the value to check: an int, a float or a NumPy scalar.
        minimum: lower bound, or None.
        maximum: upper bound, or None.
        min_open: exclude `minimum` itself (`> minimum` instead of `>= minimum`).
        max_open: exclude `maximum` itself.
        finite: refuse infinities (NaN is always refused).

    Returns:
        `float(value)`.

    Raises:
        TypeError: `value` is not a real number (or is a bool).
        ValueError: `value` is NaN, infinite (when `finite`), or outside the bounds.

    For example:

    ```python
    from llmguide.validate import check_real

    try:
        check_real("dropout", 1.0, minimum=0, maximum=1, max_open=True)
    except ValueError as error:
        print(error)
    #> dropout must be a finite number in [0, 1), got 1.0
    ```
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise parameter_error(TypeError, f"{name} must be a real number, got {_got(value)}", name)
    x = float(value)
    too_low = minimum is not None and (x <= minimum if min_open else x < minimum)
    too_high = maximum is not None and (x >= maximum if max_open else x > maximum)
    if math.isnan(x) or (finite and math.isinf(x)) or too_low or too_high:
        bounds = _bounds(minimum, maximum, min_open=min_open, max_open=max_open)
        what = "a finite number" if finite else "a number"
        raise parameter_error(
            ValueError, f"{name} must be {what}{' ' + bounds if bounds else ''}, got {value!r}", name
        )
    return x


def check_bool(name: str, value: Any) -> bool:
    """Return `value` if it is `True` or `False`; anything else (`1`, `'false'`) is a TypeError.

    Args:
        name: the parameter's name, for the message.
        value: the value to check.

    Returns:
        `value`.

    Raises:
        TypeError: `value` is not a bool.

    For example:

    ```python
    from llmguide.validate import check_bool

    try:
        check_bool("tied_embeddings", "false")
    except TypeError as error:
        print(error)
    #> tied_embeddings must be True or False, got str 'false'
    ```
    """
    if not isinstance(value, bool):
        raise parameter_error(TypeError, f"{name} must be True or False, got {_got(value)}", name)
    return value


def check_choice(name: str, value: Any, choices: Collection[str]) -> str:
    """Return `value` if it is one of the strings `choices`.

    Args:
        name: the parameter's name, for the message.
        value: the value to check.
        choices: the allowed strings, in the order the message lists them.

    Returns:
        `value`.

    Raises:
        TypeError: `value` is not a string.
        ValueError: `value` is not one of `choices`.

    For example:

    ```python
    from llmguide.validate import check_choice

    try:
        check_choice("split", "test", ("train", "val"))
    except ValueError as error:
        print(error)
    #> unknown split 'test'; valid: train, val
    ```
    """
    if not isinstance(value, str):
        raise parameter_error(
            TypeError, f"{name} must be a string, one of {', '.join(choices)}; got {_got(value)}", name
        )
    if value not in choices:
        raise parameter_error(ValueError, f"unknown {name} {value!r}; valid: {', '.join(choices)}", name)
    return value


def check_instance(name: str, value: T, types: type | tuple[type, ...], description: str) -> T:
    """Return `value` if it is an instance of `types`, else raise a TypeError saying what was expected.

    Args:
        name: the parameter's name, for the message.
        value: the value to check.
        types: a class or a tuple of classes.
        description: what `value` must be, in words, e.g. `"a torch.Generator"`.

    Returns:
        `value`.

    Raises:
        TypeError: `value` is not an instance of `types`.

    For example:

    ```python
    from llmguide.validate import check_instance

    print(check_instance("text", "hi", str, "a str"))
    #> hi
    ```
    """
    if not isinstance(value, types):
        raise parameter_error(TypeError, f"{name} must be {description}, got {type(value).__name__}", name)
    return value


def check_finite_result(name: str, value: float, what: str) -> float:
    """Return `value` if it is finite; an overflow to infinity is a ValueError that blames `name`.

    For a result computed from finite inputs, infinity means an input was too large for a float (about 1.8e308).

    Args:
        name: the parameter that was too large, for the message.
        value: the computed number (or a NumPy array of them).
        what: what was computed, e.g. `"the compute-optimal token count"`.

    Returns:
        `value`.

    Raises:
        ValueError: `value` (or one of its entries) is infinite or NaN.

    For example:

    ```python
    from llmguide.validate import check_finite_result

    try:
        check_finite_result("n_params", 6 * 1e300 * 2e301, "the training FLOPs")
    except ValueError as error:
        print(error)
    #> n_params is too large: computing the training FLOPs overflows a float (beyond about 1.8e308)
    ```
    """
    try:
        finite = math.isfinite(value)
    except TypeError:  # an array
        import numpy as np

        finite = bool(np.all(np.isfinite(value)))
    if not finite:
        raise parameter_error(
            ValueError,
            f"{name} is too large: computing {what} overflows a float (beyond about 1.8e308)",
            name,
        )
    return value


def check_token_ids(
    name: str,
    ids: Any,
    *,
    vocab_size: int,
    dim: int = 2,
    ignore_index: int | None = None,
    sync: bool = True,
) -> None:
    """Check that `ids` is a non-empty int64 or int32 tensor of `dim` axes with every id in `[0, vocab_size)`.

    These are the integer types that `torch.nn.Embedding` and the loss accept; other integer types (uint8,
    int16) are refused here with a message rather than deep inside torch. The type and shape checks read only
    metadata. The range check is one reduction; it is skipped while `torch.compile` traces and on the meta
    device. On the CPU it is immediate. On an accelerator, reading its result waits for the device (a host
    sync), which is right where ids enter (a prompt, a batch from a file) but would stall every training
    step inside the model: with `sync=False` the check is queued on the device instead
    (`torch._assert_async`), and a bad id fails the next operation that waits for the device, with this
    message, as a `RuntimeError`.

    Args:
        name: the parameter's name, for the message.
        ids: the tensor to check.
        vocab_size: ids must be below this.
        dim: number of axes, e.g. 2 for `(batch, positions)`.
        ignore_index: an id outside the vocabulary that is allowed too (the loss skips it), or None.
        sync: on an accelerator, check the range now (True, a host sync) or on the device (False).

    Raises:
        TypeError: `ids` is not a tensor, or not of dtype int64 or int32.
        ValueError: `ids` has another number of axes, an empty axis, or an id out of range.

    For example:

    ```python
    import torch
    from llmguide.validate import check_token_ids

    try:
        check_token_ids("targets", torch.tensor([[1, 300]]), vocab_size=256, ignore_index=-1)
    except ValueError as error:
        print(error)
    #> targets holds token ids outside [0, vocab_size=256) (other than the ignored -1), e.g. 300
    ```
    """
    import torch

    if not isinstance(ids, torch.Tensor):
        raise parameter_error(
            TypeError, f"{name} must be an integer tensor of token ids, got {type(ids).__name__}", name
        )
    if ids.dtype not in (torch.int64, torch.int32):
        raise parameter_error(
            TypeError,
            f"{name} must be a tensor of dtype int64 or int32 (token ids), got {ids.dtype}; "
            f"convert it with .long()",
            name,
        )
    if ids.dim() != dim or 0 in ids.shape:
        shape = {1: "(batch,)", 2: "(batch, positions)"}.get(dim, f"of {dim} axes")
        raise parameter_error(
            ValueError, f"{name} must have shape {shape} with every axis >= 1, got {tuple(ids.shape)}", name
        )
    if torch.compiler.is_compiling() or ids.device.type == "meta":
        return
    bad = (ids < 0) | (ids >= vocab_size)
    if ignore_index is not None:
        bad &= ids != ignore_index
    others = f" (other than the ignored {ignore_index})" if ignore_index is not None else ""
    if not sync and ids.device.type != "cpu":
        torch._assert_async(
            ~bad.any(), f"{name} holds token ids outside [0, vocab_size={vocab_size}){others}"
        )
        return
    if bool(bad.any()):
        raise parameter_error(
            ValueError,
            f"{name} holds token ids outside [0, vocab_size={vocab_size}){others}, e.g. {int(ids[bad][0])}",
            name,
        )


def check_batch_request(split: Any, batch_size: Any, generator: Any) -> None:
    """Check the arguments of `get_batch(split, batch_size, *, generator)`, the data sets' common method.

    Args:
        split: must be `"train"` or `"val"`.
        batch_size: must be an integer >= 1.
        generator: must be a `torch.Generator`.

    Raises:
        TypeError: `split` is not a string, `batch_size` not an integer, `generator` not a `torch.Generator`.
        ValueError: `split` is another string, or `batch_size < 1`.

    For example:

    ```python
    import torch
    from llmguide.validate import check_batch_request

    check_batch_request("train", 8, torch.Generator())  # fine: returns None
    ```
    """
    import torch

    check_choice("split", split, ("train", "val"))
    check_int("batch_size", batch_size, minimum=1)
    check_instance("generator", generator, torch.Generator, "a torch.Generator")
