"""Creating arrays: asarray and array, zeros, ones, empty, full and their *_like forms, eye,
identity, tri, arange and linspace.

Arrays made from shapes alone are numpy constants (nothing to trace or differentiate).
full's fill value and linspace's start and stop may be traced, and are differentiated.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any, Literal, overload

import numpy as np
from numpy.typing import DTypeLike

from funcgrad.core import Array, ArrayLike, ConcretizationError, Tracer, user_location
from funcgrad.numpy._table import Row, contains_tracer, dtype_or_scalar, register, shape
from funcgrad.numpy.elementwise import add, astype, divide, greater, multiply, subtract
from funcgrad.numpy.shapes import (broadcast_to, concatenate, moveaxis, numpy_result, reshape,
                                   stack)

__all__ = [
    "asarray", "array", "zeros", "ones", "empty", "full", "zeros_like", "ones_like",
    "empty_like", "full_like", "eye", "identity", "tri", "arange", "linspace",
]

Shape = int | Sequence[int]
NDArray = np.ndarray[Any, Any]


def asarray(x: Any, dtype: DTypeLike | None = None) -> Array:
    """An array from x: traced values stay traced, lists of them are stacked."""
    if isinstance(x, Tracer):
        return x if dtype is None else astype(x, dtype)
    if isinstance(x, (list, tuple)) and contains_tracer(x):
        out = stack([asarray(item) for item in x])
        return out if dtype is None else astype(out, dtype)
    return np.asarray(x, dtype)


def array(object: Any, dtype: DTypeLike | None = None, *, copy: bool = True,
          ndmin: int = 0) -> Array:
    """As asarray, with at least ndmin dimensions (traced values are never shared, so copy
    only matters for numpy arrays)."""
    if not isinstance(object, Tracer) and not contains_tracer(object):
        return np.array(object, dtype, copy=copy, ndmin=ndmin)
    out = asarray(object, dtype)
    missing = ndmin - len(shape(out))
    return reshape(out, (1,) * missing + shape(out)) if missing > 0 else out


def zeros(shape: Shape, dtype: DTypeLike = float) -> NDArray:
    """An array of zeros (a constant: nothing to trace)."""
    return np.zeros(shape, dtype)


def ones(shape: Shape, dtype: DTypeLike = float) -> NDArray:
    """An array of ones."""
    return np.ones(shape, dtype)


def empty(shape: Shape, dtype: DTypeLike = float) -> NDArray:
    """An array to be filled: zeros here (numpy leaves its values undefined)."""
    return np.zeros(shape, dtype)


def full(shape: Shape, fill_value: ArrayLike, dtype: DTypeLike | None = None) -> Array:
    """An array of shape filled with fill_value (which may be traced)."""
    if isinstance(fill_value, Tracer):
        dims = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        return broadcast_to(fill_value if dtype is None else astype(fill_value, dtype), dims)
    return np.full(shape, fill_value, dtype)


def _like(a: ArrayLike, dtype: DTypeLike | None, shape_: Shape | None
          ) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """The shape and dtype of an array made like a, with numpy's overrides."""
    dims = shape(a) if shape_ is None else (
        (int(shape_),) if isinstance(shape_, (int, np.integer)) else tuple(shape_))
    if dtype is not None:
        return dims, np.dtype(dtype)
    return dims, a.dtype if isinstance(a, Tracer) else np.asarray(a).dtype


def zeros_like(a: ArrayLike, dtype: DTypeLike | None = None,
               shape: Shape | None = None) -> NDArray:
    """Zeros of a's shape and dtype (or the ones given)."""
    return np.zeros(*_like(a, dtype, shape))


def ones_like(a: ArrayLike, dtype: DTypeLike | None = None,
              shape: Shape | None = None) -> NDArray:
    """Ones of a's shape and dtype (or the ones given)."""
    return np.ones(*_like(a, dtype, shape))


def empty_like(prototype: ArrayLike, dtype: DTypeLike | None = None,
               shape: Shape | None = None) -> NDArray:
    """zeros_like (numpy's empty_like leaves its values undefined)."""
    return np.zeros(*_like(prototype, dtype, shape))


def full_like(a: ArrayLike, fill_value: ArrayLike, dtype: DTypeLike | None = None,
              shape: Shape | None = None) -> Array:
    """An array of a's shape and dtype (or the ones given) filled with fill_value (which
    may be traced)."""
    dims, dt = _like(a, dtype, shape)
    return full(dims, astype(fill_value, dt) if isinstance(fill_value, Tracer) else fill_value,
                dt)


def eye(N: int, M: int | None = None, k: int = 0, dtype: DTypeLike = float) -> NDArray:
    """An N x M matrix with ones on the k-th diagonal."""
    return np.eye(N, M, k, dtype)


def identity(n: int, dtype: DTypeLike = float) -> NDArray:
    """The n x n identity matrix."""
    return np.identity(n, dtype)


def tri(N: int, M: int | None = None, k: int = 0, dtype: DTypeLike = float) -> NDArray:
    """An N x M matrix with ones at and below the k-th diagonal."""
    return np.tri(N, M, k, dtype)


def arange(start: ArrayLike, stop: ArrayLike | None = None, step: ArrayLike | None = None,
           dtype: DTypeLike | None = None) -> Array:
    """Evenly spaced values in [start, stop) (numpy's; the arguments must not be traced)."""
    for name, value in (("start", start), ("stop", stop), ("step", step)):
        if isinstance(value, Tracer):
            raise ConcretizationError(
                f"arange: {name} is traced ({value.aval}), but the length of the result "
                "would depend on its value; pass a Python number (under jit, a static "
                "argument), or use linspace, whose start and stop may be traced"
                + user_location())
    return numpy_result(np.arange, start, stop, step, dtype)


@overload
def linspace(start: ArrayLike, stop: ArrayLike, num: int = 50, endpoint: bool = True,
             retstep: Literal[False] = False, dtype: DTypeLike | None = None,
             axis: int = 0) -> Array: ...
@overload
def linspace(start: ArrayLike, stop: ArrayLike, num: int, endpoint: bool,
             retstep: Literal[True], dtype: DTypeLike | None = None,
             axis: int = 0) -> tuple[Array, Array]: ...
@overload
def linspace(start: ArrayLike, stop: ArrayLike, num: int = 50, endpoint: bool = True, *,
             retstep: Literal[True], dtype: DTypeLike | None = None,
             axis: int = 0) -> tuple[Array, Array]: ...
def linspace(start: ArrayLike, stop: ArrayLike, num: int = 50, endpoint: bool = True,
             retstep: bool = False, dtype: DTypeLike | None = None,
             axis: int = 0) -> Array | tuple[Array, Array]:
    """num evenly spaced values from start to stop (included if endpoint); start and stop
    may be traced (and arrays, giving a new axis at `axis`); retstep also returns the
    step."""
    if not isinstance(start, Tracer) and not isinstance(stop, Tracer):
        if retstep:
            numpy_linspace: Any = np.linspace  # (its overloads cannot take ArrayLike)
            values, spacing = numpy_linspace(start, stop, num, endpoint, True, dtype, axis)
            return values, spacing
        return numpy_result(np.linspace, start, stop, num, endpoint, False, dtype, axis)
    num = operator.index(num)
    if num < 0:
        raise ValueError(f"linspace: num must be non-negative, got {num}" + user_location())
    div = num - 1 if endpoint else num
    dt = np.result_type(dtype_or_scalar(start), dtype_or_scalar(stop), float(num))
    first, last = astype(start, dt), astype(stop, dt)
    dims = np.broadcast_shapes(shape(first), shape(last))
    delta = subtract(last, first)
    counts = np.arange(num, dtype=dt).reshape((-1,) + (1,) * len(dims))
    # As numpy: count * step + start, then stop itself as the last value.
    step: Array = divide(delta, div) if div > 0 else np.asarray(np.nan, dt)
    y = add(multiply(counts, step if div > 0 else delta), first)
    if endpoint and num > 1:
        y = concatenate([y[:-1], reshape(broadcast_to(last, dims), (1, *dims))])
    y = moveaxis(y, 0, axis)
    if dtype is not None and np.issubdtype(dtype, np.integer):
        truncated = astype(y, np.int64)  # numpy rounds down: truncation, then one step down
        y = subtract(truncated, astype(greater(truncated, y), np.int64))
    if dtype is not None:
        y = astype(y, dtype)
    return (y, step) if retstep else y


register([
    Row("asarray", asarray),
    Row("array", array),
    Row("zeros", zeros),
    Row("ones", ones),
    Row("empty", empty),
    Row("full", full),
    Row("zeros_like", zeros_like),
    Row("ones_like", ones_like),
    Row("empty_like", empty_like),
    Row("full_like", full_like),
    Row("eye", eye),
    Row("identity", identity),
    Row("tri", tri),
    Row("arange", arange),
    Row("linspace", linspace),
])
