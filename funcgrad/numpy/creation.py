"""Creating arrays: asarray and array (and numpy's other names for asarray), copy, zeros,
ones, empty, full and their *_like forms, eye, identity, tri, indices, fromfunction, arange,
linspace, logspace, geomspace and the window functions.

Arrays made from shapes alone are numpy constants (nothing to trace or differentiate).
full's fill value, the ends of linspace, logspace and geomspace, logspace's base and
kaiser's beta may be traced, and are differentiated.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from typing import Any, Literal, cast, overload

import numpy as np
from numpy.typing import DTypeLike

from funcgrad.core import Array, ArrayLike, ConcretizationError, Tracer, user_location
from funcgrad.numpy._table import (INEXACT, Row, alias, any_traced, contains_tracer,
                                   dtype_or_scalar, promoted_dtype, register, shape)
from funcgrad.numpy.elementwise import (absolute, add, astype, divide, greater, i0, log10,
                                        multiply, operand, power, sign, subtract)
from funcgrad.numpy.shapes import (broadcast_to, concatenate, expand_dims, moveaxis,
                                   numpy_result, reshape, stack)

__all__ = [
    "asarray", "array", "zeros", "ones", "empty", "full", "zeros_like", "ones_like",
    "empty_like", "full_like", "eye", "identity", "tri", "arange", "linspace",
    "asanyarray", "ascontiguousarray", "asfortranarray", "copy", "indices", "fromfunction",
    "logspace", "geomspace", "hamming", "hanning", "blackman", "bartlett", "kaiser",
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


def copy(a: ArrayLike, order: Literal["K", "A", "C", "F"] = "K", subok: bool = False) -> Array:
    """A copy of a (a traced a itself: traced values are immutable, so it is never shared)."""
    if isinstance(a, Tracer):
        return a
    return cast(Array, cast(Any, np.copy)(a, order, subok))


def indices(dimensions: Sequence[int], dtype: DTypeLike = int, sparse: bool = False
            ) -> Any:
    """The index of every position of an array of shape `dimensions`, one grid per axis."""
    return cast(Any, np.indices)(dimensions, dtype, sparse)


def fromfunction(function: Callable[..., Any], shape: Sequence[int], *,
                 dtype: DTypeLike = float, like: Any = None, **kwargs: Any) -> Any:
    """function called with one index grid per axis of `shape` (and kwargs); its result as
    it is, so it may be traced if function uses traced values."""
    return function(*np.indices(shape, dtype), **kwargs)


def logspace(start: ArrayLike, stop: ArrayLike, num: int = 50, endpoint: bool = True,
             base: ArrayLike = 10.0, dtype: DTypeLike | None = None, axis: int = 0) -> Array:
    """base ** linspace(start, stop, num): num values evenly spaced on a log scale; start,
    stop and base may be traced."""
    if not any_traced((start, stop, base)):
        return numpy_result(np.logspace, start, stop, num, endpoint, base, dtype, axis)
    exponents = linspace(start, stop, num, endpoint, axis=axis)
    if len(shape(base)) != 0:  # an array of bases, broadcast as numpy does
        dims = np.broadcast_shapes(shape(start), shape(stop), shape(base))
        base = expand_dims(reshape(base, (1,) * (len(dims) - len(shape(base))) + shape(base)),
                           axis)
    result = power(base, exponents)
    return result if dtype is None else astype(result, dtype)


def geomspace(start: ArrayLike, stop: ArrayLike, num: int = 50, endpoint: bool = True,
              dtype: DTypeLike | None = None, axis: int = 0) -> Array:
    """num values from start to stop (included if endpoint) in a geometric progression;
    start and stop may be traced (and negative or complex, as numpy's). float32 stays
    float32 (numpy computes in float64)."""
    start, stop = operand(start), operand(stop)
    dt = promoted_dtype(INEXACT, (start, stop))
    if not any_traced((start, stop)):
        return numpy_result(np.geomspace, start, stop, num, endpoint, dt if dtype is None
                            else dtype, axis)
    for name, value in (("start", start), ("stop", stop)):
        if not isinstance(value, Tracer) and np.any(np.asarray(value) == 0):
            raise ValueError(f"geomspace: {name} is zero, which no geometric sequence "
                             "includes" + user_location())
    first, last = astype(start, dt), astype(stop, dt)
    # As numpy: a progression of positive values (from log10 of them), times the sign of
    # start (z/|z| for complex start, which is differentiated)
    direction = divide(first, absolute(first)) if dt.kind == "c" else sign(first)
    first, last = divide(first, direction), divide(last, direction)
    result = logspace(log10(first), log10(last), num, endpoint)
    # the ends exactly as given: 10 ** log10(x) need not be x
    dims = np.broadcast_shapes(shape(first), shape(last))
    ends = [reshape(broadcast_to(v, dims), (1, *dims)) for v in (first, last)]
    if num > 1 and endpoint:
        result = concatenate([ends[0], result[1:-1], ends[1]])
    elif num > 0:
        result = concatenate([ends[0], result[1:]])
    result = moveaxis(multiply(result, direction), 0, axis)
    return result if dtype is None else astype(result, dtype)


def hamming(M: int) -> NDArray:
    """The Hamming window of M points."""
    return np.hamming(M)


def hanning(M: int) -> NDArray:
    """The Hann window of M points."""
    return np.hanning(M)


def blackman(M: int) -> NDArray:
    """The Blackman window of M points."""
    return np.blackman(M)


def bartlett(M: int) -> NDArray:
    """The Bartlett (triangular) window of M points."""
    return np.bartlett(M)


def kaiser(M: int, beta: ArrayLike) -> Array:
    """The Kaiser window of M points, i0(beta * sqrt(1 - t**2)) / i0(beta) for t evenly
    spaced in [-1, 1]; beta may be traced and is differentiated."""
    if not isinstance(beta, Tracer):
        # (numpy's window is float64; a float32 beta gives float32, as when traced)
        return np.kaiser(M, cast(Any, beta)).astype(promoted_dtype(INEXACT, (beta,)))
    dtype = promoted_dtype(INEXACT, (beta,))
    if M < 1:
        return np.zeros(0, dtype)
    if M == 1:
        return np.ones(1, dtype)
    half = (M - 1) / 2.0
    spread = np.sqrt(1 - ((np.arange(M) - half) / half) ** 2.0).astype(dtype)
    b = astype(beta, dtype)
    return divide(i0(multiply(b, spread)), i0(b))


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
    Row("copy", copy, methods=("copy",)),
    Row("logspace", logspace),
    Row("geomspace", geomspace),
    Row("kaiser", kaiser),
    Row("indices", indices),
    Row("fromfunction", fromfunction),
    Row("hamming", hamming),
    Row("hanning", hanning),
    Row("blackman", blackman),
    Row("bartlett", bartlett),
])
# numpy's other names for asarray: funcgrad has one kind of array and no memory layout
asanyarray = alias("asanyarray", asarray)
ascontiguousarray = alias("ascontiguousarray", asarray)
asfortranarray = alias("asfortranarray", asarray)
